"""Vector search for `MemkvStore` with an index configured (LangGraph's
``IndexConfig``): which texts of an item are embedded, how vectors are stored, and
the exact cosine ranking (numpy) over the items of a namespace prefix."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import numpy as np
from langgraph.store.base import IndexConfig, PutOp, get_text_at_path, tokenize_path

from memkv.errors import InvalidArgument

_FLOAT: Final = np.dtype("<f4")

Paths = list[tuple[str, str | list[str]]]  # (path as written, tokenized; "$" as it is)


def configured_paths(index: IndexConfig) -> Paths:
    """The fields an index embeds by default (``"$"``: the whole value)."""
    return paths_of(index.get("fields") or ["$"])


def paths_of(fields: Sequence[str]) -> Paths:
    return [(path, path if path == "$" else tokenize_path(path)) for path in fields]


def texts_to_embed(op: PutOp, default_paths: Paths) -> list[tuple[str, str]]:
    """(field name, text) of each text ``op`` asks to embed: the fields of
    ``op.index``, else the index's; none for ``index=False`` or a delete. A field
    holding several texts (``"tags[*]"``) gives ``path.0``, ``path.1``, ..."""
    if op.value is None or op.index is False:
        return []
    paths = default_paths if op.index is None else paths_of(op.index)
    found: list[tuple[str, str]] = []
    for path, tokens in paths:
        texts = get_text_at_path(op.value, tokens)
        if len(texts) == 1:
            found.append((path, texts[0]))
        else:
            found += [(path + "." + str(number), text) for number, text in enumerate(texts)]
    return found


def encode_vector(vector: Sequence[float], dims: int, where: str) -> bytes:
    """An embedding as float32 bytes.

    Raises:
        InvalidArgument: not ``dims`` finite numbers (naming ``where``).
    """
    array = np.asarray(vector, dtype=_FLOAT)
    if array.shape != (dims,) or not np.isfinite(array).all():
        raise InvalidArgument(
            f"the embedding of {where} must be {dims} finite numbers (the index's dims), "
            f"got shape {array.shape}"
        )
    return array.tobytes()


def rank(
    query: Sequence[float], candidates: Iterable[tuple[Any, Mapping[str, bytes]]]
) -> list[tuple[float, Any]]:
    """``(score, ident)`` of each candidate with at least one vector, best first: the
    cosine similarity of the query with the item's closest vector (a zero vector
    scores 0)."""
    owners: list[Any] = []
    rows: list[bytes] = []
    for ident, vectors in candidates:
        for vector in vectors.values():
            owners.append(ident)
            rows.append(vector)
    if not rows:
        return []
    matrix = np.frombuffer(b"".join(rows), dtype=_FLOAT).reshape(len(rows), -1)
    wanted = np.asarray(query, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1) * float(np.linalg.norm(wanted))
    dots = matrix @ wanted.astype(_FLOAT)
    scores = np.divide(dots, norms, out=np.zeros_like(dots), where=norms != 0)
    best: dict[Any, float] = {}
    for ident, score in zip(owners, scores.tolist(), strict=True):
        if ident not in best or score > best[ident]:
            best[ident] = score
    return sorted(((score, ident) for ident, score in best.items()), key=lambda hit: -hit[0])
