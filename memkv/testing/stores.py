"""`fresh_memory`: a new, empty store for one block of a test, closed and removed when
the block ends.

It is the store of a hypothesis test, where a pytest fixture would serve every example
(and hypothesis refuses function-scoped fixtures in ``@given`` tests for that reason):

    @given(key=mst.keys(), content=mst.contents())
    def test_round_trip(key, content):
        with fresh_memory("in-memory") as mem:  # one store per example
            mem.store(key, content)
            assert mem.get(key).content == content

It needs neither pytest nor hypothesis.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Final, Literal, Unpack

import memkv

Backend = Literal["lmdb", "in-memory"]
BACKENDS: Final[tuple[Backend, ...]] = ("lmdb", "in-memory")


@contextlib.contextmanager
def fresh_memory(
    backend: Backend = "lmdb",
    *,
    parent: str | os.PathLike[str] | None = None,
    **options: Unpack[memkv.OpenOptions],
) -> Iterator[memkv.Memory]:
    """A new, empty store on ``backend`` ("lmdb" or "in-memory"), opened with
    ``options`` as `memkv.open` takes them; on leaving the block, whether it raised or
    not, the store is closed (if the block has not closed it) and an LMDB store's
    directory is removed. An LMDB store gets a directory of its own, made in ``parent``
    (default: the system's temporary directory).

    Raises:
        memkv.InvalidArgument: an unknown backend, or an option `memkv.open` refuses.
        memkv.StoreUnavailable: ``parent`` cannot hold a store directory.
    """
    if backend == "in-memory":
        with memkv.open(memkv.IN_MEMORY, **options) as memory:
            yield memory
        return
    if backend != "lmdb":
        raise memkv.InvalidArgument(f"backend must be one of {BACKENDS}, not {backend!r}")
    try:
        directory = Path(tempfile.mkdtemp(prefix="memkv-", dir=parent))
    except OSError as exc:
        raise memkv.StoreUnavailable(f"cannot make a store directory in {parent}: {exc}") from exc
    try:
        with memkv.open(directory / "store", **options) as memory:
            yield memory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
