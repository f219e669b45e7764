"""Options of an LMDB store: the common ones, and the map's sizes."""

from __future__ import annotations

from typing import Annotated

from memkv.options import Options, constraint

# py-lmdb takes a size_t; beyond 2**63 it raises OverflowError rather than an lmdb.Error
_MAP_SIZE = constraint("an integer from 1 to 2**63 - 1 (bytes)", ge=1, le=(1 << 63) - 1)


class LmdbOptions(Options, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Options of `memkv.open` for an LMDB directory."""

    map_size: Annotated[int, _MAP_SIZE] = 1 << 30  # 1 GiB: the initial map; virtual (the
    # file grows as used), and it grows by itself
    max_map_size: Annotated[int, _MAP_SIZE] = 1 << 40  # 1 TiB: the map never grows past
    # this (then StorageFull)
    lock: Annotated[bool, constraint("True or False")] = True  # False (with readonly=True)
    # reads without LMDB's lock file, for a store whose lock file cannot be written (a
    # backup, read-only media, another user's store): nothing then keeps a process that
    # writes the store meanwhile from reusing the pages being read

    def __post_init__(self) -> None:
        if self.max_map_size < self.map_size:
            raise ValueError(
                f"max_map_size ({self.max_map_size}) is below map_size ({self.map_size})"
            )
        if not self.lock and not self.readonly:
            raise ValueError(
                "lock=False is for read-only inspection: it needs readonly=True (a writer "
                "without the lock file would corrupt a store others use)"
            )
