"""Whether a store keeps a recall index (`memkv.layout.RECALL_SETTING`)."""

from __future__ import annotations

from memkv import layout
from memkv.backends.base import ReadTxn, Table, WriteTxn
from memkv.keys import prefix_end


def kept(txn: ReadTxn) -> bool:
    """Whether the store keeps a recall index (in this memkv's layout)."""
    return setting(txn) is True


def setting(txn: ReadTxn) -> bool | None:
    """The store's choice: keep a recall index, keep none, or ``None``: not made yet,
    or made by an older memkv whose index must be rebuilt."""
    value = txn.get(Table.META, layout.RECALL_SETTING)
    if value == layout.RECALL_ON:
        return True
    if value == layout.RECALL_OFF:
        return False
    return None


def choose(txn: WriteTxn, keep: bool) -> None:
    """Record the store's choice. Keeping none removes what there is of an index;
    keeping one requires it to be built already (`memkv.recall.rebuild`)."""
    if not keep:
        remove_index(txn)
    txn.put(Table.META, layout.RECALL_SETTING, layout.RECALL_ON if keep else layout.RECALL_OFF)


def remove_index(txn: WriteTxn) -> None:
    """Delete every key of the recall index, an older memkv's included."""
    for start in (layout.RECALL_REGION, layout.LEGACY_TIME_INDEX):
        for key, _ in txn.scan(Table.INDEX, start, prefix_end(start), keys_only=True):
            txn.delete(Table.INDEX, key)
    for key in layout.LEGACY_RECALL_KEYS:
        txn.delete(Table.INDEX, key)
