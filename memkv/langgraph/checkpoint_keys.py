"""Where `MemkvSaver` keeps a checkpointer's records: the internal key space of a
`memkv.Memory`, category `CATEGORY`, keys built by `memkv.keys.pack`.

* ``("lg-saver", "c", thread_id, checkpoint_ns, checkpoint_id)`` -> `CheckpointRecord`:
  a namespace's checkpoints in id order (LangGraph's ids grow with time), so the
  latest is the last key under ``(thread_id, checkpoint_ns)``: one short reverse scan.
* ``("lg-saver", "b", thread_id, checkpoint_ns, channel, version)`` -> `BlobRecord`: a
  channel's value at a version, written once by the checkpoint that made it and read by
  every checkpoint that still holds that version.
* ``("lg-saver", "w", thread_id, checkpoint_ns, checkpoint_id, task_id, idx)`` ->
  `WriteRecord`: the pending writes stored against a checkpoint.
* ``("lg-saver", "r", run_id, thread_id, checkpoint_ns, checkpoint_id)`` -> empty: the
  checkpoints a run made, for `MemkvSaver.delete_for_runs`.

A component is a whole string of the tuple, so a thread's prefix never covers
another thread's keys (``"t-1"`` is not a prefix of ``"t-10"`` here). Every key is
at most `memkv.MAX_KEY_BYTES`; a longer one is refused with `memkv.InvalidKey`.
"""

from __future__ import annotations

from typing import Final

from memkv.errors import InvalidKey
from memkv.keys import MAX_KEY_BYTES, KeyPart, pack

CATEGORY: Final = "lg-saver"
_ROOT: Final = "lg-saver"
_CHECKPOINT: Final = "c"
_BLOB: Final = "b"
_WRITE: Final = "w"
_RUN: Final = "r"

CHECKPOINTS: Final = pack((_ROOT, _CHECKPOINT))
"""The prefix of every thread's checkpoints."""

Version = str | int | float


def _checked(parts: tuple[KeyPart, ...], what: str) -> str:
    key = pack(parts)
    size = len(key.encode("utf-8", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        names = ", ".join(f"{part!r:.60}" for part in parts[2:])
        raise InvalidKey(
            f"the {what} key of ({names}) is {size} bytes, over memkv's "
            f"{MAX_KEY_BYTES}: use shorter thread ids, namespaces or channel names"
        )
    return key


def checkpoint_key(thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> str:
    return _checked((_ROOT, _CHECKPOINT, thread_id, checkpoint_ns, checkpoint_id), "checkpoint")


def checkpoints_of_thread(thread_id: str) -> str:
    """The prefix of a thread's checkpoints, in every namespace."""
    return _checked((_ROOT, _CHECKPOINT, thread_id), "checkpoint")


def checkpoints_of_namespace(thread_id: str, checkpoint_ns: str) -> str:
    return _checked((_ROOT, _CHECKPOINT, thread_id, checkpoint_ns), "checkpoint")


def blob_key(thread_id: str, checkpoint_ns: str, channel: str, version: Version) -> str:
    return _checked((_ROOT, _BLOB, thread_id, checkpoint_ns, channel, _version(version)), "blob")


def blobs_of_namespace(thread_id: str, checkpoint_ns: str) -> str:
    return _checked((_ROOT, _BLOB, thread_id, checkpoint_ns), "blob")


def blob_in_namespace(prefix: str, channel: str, version: Version) -> str:
    """The blob key under ``prefix`` (`blobs_of_namespace`), unchecked: for reads,
    where a key too long was never written (a read of one raises `memkv.InvalidKey`)."""
    return prefix + pack((channel, _version(version)))


def blobs_of_thread(thread_id: str) -> str:
    return _checked((_ROOT, _BLOB, thread_id), "blob")


def write_key(
    thread_id: str, checkpoint_ns: str, checkpoint_id: str, task_id: str, idx: int
) -> str:
    return _checked(
        (_ROOT, _WRITE, thread_id, checkpoint_ns, checkpoint_id, task_id, idx), "pending write"
    )


def writes_of_checkpoint(thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> str:
    return _checked((_ROOT, _WRITE, thread_id, checkpoint_ns, checkpoint_id), "pending write")


def writes_of_thread(thread_id: str) -> str:
    return _checked((_ROOT, _WRITE, thread_id), "pending write")


def run_key(run_id: str, thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> str:
    return _checked((_ROOT, _RUN, run_id, thread_id, checkpoint_ns, checkpoint_id), "run")


def checkpoints_of_run(run_id: str) -> str:
    return _checked((_ROOT, _RUN, run_id), "run")


def retarget(key: str, source_prefix: str, target_prefix: str) -> str:
    """``key`` (under ``source_prefix``) moved under ``target_prefix``, as
    `MemkvSaver.copy_thread` moves a record to another thread; length checked."""
    moved = target_prefix + key[len(source_prefix) :]
    size = len(moved.encode("utf-8", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise InvalidKey(
            f"a copied key is {size} bytes, over memkv's {MAX_KEY_BYTES}: "
            f"the target thread id is too long"
        )
    return moved


def _version(version: Version) -> KeyPart:
    """A channel version as a key component: ``int`` and ``str`` as they are, a
    ``float`` (which `pack` does not take) as its ``repr``."""
    if isinstance(version, bool) or not isinstance(version, int | str):
        return repr(version)
    return version
