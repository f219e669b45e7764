"""`enhance_log.strategies` draws records that enhance_log's own API stores and gives back
unchanged."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

import memkv
from enhance_log import MemoryEnhanceLogStore, strategies


@settings(max_examples=60)
@given(strategies.enhance_log_entries())
def test_enhance_log_entries_round_trip(entry: Any) -> None:
    with memkv.open(memkv.IN_MEMORY) as memory:
        log = MemoryEnhanceLogStore(memory)
        log.append(entry)
        assert log.get(entry.issue_id) == entry
        assert log.list_by_blueprint(entry.blueprint_id) == [entry]
