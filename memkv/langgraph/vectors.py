"""Vector search for `MemkvStore` with an index configured (LangGraph's
``IndexConfig``): which texts of an item are embedded, how vectors are stored, and
the exact cosine ranking (numpy) over the items of a namespace prefix."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt
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
    """An embedding as float32 bytes, scaled to unit length (cosine similarity is then
    a dot product; a zero vector stays zero).

    Raises:
        InvalidArgument: not ``dims`` finite numbers (naming ``where``).
    """
    array = np.asarray(vector, dtype=np.float64)
    if array.shape != (dims,) or not np.isfinite(array).all():
        raise InvalidArgument(
            f"the embedding of {where} must be {dims} finite numbers (the index's dims), "
            f"got shape {array.shape}"
        )
    norm = float(np.linalg.norm(array))
    return (array / norm if norm else array).astype(_FLOAT).tobytes()


class VectorTable(NamedTuple):
    """The vectors of the items under a namespace prefix, ready to rank: each item's
    rows (one per embedded text) are contiguous, at unit length (a zero vector stays
    zero, and scores 0)."""

    keys: list[str]  # the memkv key of each item, in row order
    starts: npt.NDArray[np.intp]  # the first row of each item
    rows: npt.NDArray[np.float32]

    @property
    def held(self) -> frozenset[str]:
        return frozenset(self.keys)


def table(records: Iterable[tuple[str, Mapping[str, bytes]]], dims: int) -> VectorTable:
    """A `VectorTable` of ``(item key, {field: float32 bytes})`` records; a vector of
    another length than ``dims`` (stored by a store with another index) is left out."""
    keys: list[str] = []
    starts: list[int] = []
    pieces: list[bytes] = []
    width = dims * _FLOAT.itemsize
    for key, found in records:
        if len(found) == 1:  # the usual case: one text embedded
            (vector,) = found.values()
            if len(vector) == width:
                keys.append(key)
                starts.append(len(pieces))
                pieces.append(vector)
            continue
        kept = [vector for vector in found.values() if len(vector) == width]
        if kept:
            keys.append(key)
            starts.append(len(pieces))
            pieces += kept
    rows = np.frombuffer(b"".join(pieces), dtype=_FLOAT).reshape(len(pieces), dims)
    # stored at unit length (`encode_vector`); frombuffer's array is read-only, so the
    # searches that share it through a cache cannot change it
    return VectorTable(keys, np.asarray(starts, dtype=np.intp), rows)


def rank(
    vectors: VectorTable, query: Sequence[float], wanted: int, allowed: Set[str] | None = None
) -> list[tuple[float, str]]:
    """The best ``wanted`` items (of those ``allowed``, if given) as ``(score, key)``,
    best first (ties: key order): the cosine similarity of the query with the item's
    closest vector."""
    if not vectors.keys or wanted <= 0:
        return []
    wanted_vector = np.asarray(query, dtype=np.float64)
    norm = float(np.linalg.norm(wanted_vector))
    unit = (wanted_vector / norm if norm else wanted_vector).astype(_FLOAT)
    scores = np.maximum.reduceat(vectors.rows @ unit, vectors.starts)
    keys = vectors.keys
    if allowed is None:
        top = np.argpartition(-scores, wanted - 1)[:wanted] if wanted < len(scores) else None
        rows = range(len(scores)) if top is None else top.tolist()
        ranked = [(float(scores[row]), keys[row]) for row in rows]
        ranked.sort(key=lambda hit: (-hit[0], hit[1]))
        return ranked
    ranked = []
    for row in np.argsort(-scores, kind="stable").tolist():  # rows are in key order
        if keys[row] in allowed:
            ranked.append((float(scores[row]), keys[row]))
            if len(ranked) >= wanted:
                break
    return ranked
