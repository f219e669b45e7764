"""What a store must hold, written as plainly as possible: the model the stateful
tests hold every backend against. A dict from key to (content, category, session);
every query is a brute-force filter and sort. It shares no code with memkv: keys
order by their UTF-8 bytes, as the contract says."""

from __future__ import annotations

from typing import Any

Row = tuple[str, Any, str, str | None]  # key, content, category, session id


class MemoryModel:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    def store(self, key: str, content: Any, category: str, session_id: str | None) -> Row:
        self.rows[key] = (key, content, category, session_id)
        return self.rows[key]

    def insert(self, key: str, content: Any, category: str, session_id: str | None) -> bool:
        """``False`` (and nothing changed) if the key is present."""
        if key in self.rows:
            return False
        self.store(key, content, category, session_id)
        return True

    def get(self, key: str) -> Row | None:
        return self.rows.get(key)

    def forget(self, key: str) -> bool:
        return self.rows.pop(key, None) is not None

    def list(
        self,
        category: str | None = None,
        session_id: str | None = None,
        prefix: str | None = None,
        limit: int | None = None,
        after: str | None = None,
        reverse: bool = False,
    ) -> list[Row]:
        rows = [
            row
            for row in self.rows.values()
            if category in (None, row[2])
            and session_id in (None, row[3])
            and row[0].encode().startswith((prefix or "").encode())
        ]
        rows.sort(key=lambda row: row[0].encode(), reverse=reverse)
        if after is not None:
            cursor = after.encode()
            rows = [
                r for r in rows if (r[0].encode() < cursor if reverse else r[0].encode() > cursor)
            ]
        return rows if limit is None else rows[:limit]

    def count(self, category: str | None = None, session_id: str | None = None) -> int:
        return len(self.list(category, session_id))

    def categories(self) -> dict[str, int]:
        names = sorted({category for _, _, category, _ in self.rows.values()}, key=str.encode)
        return {name: self.count(category=name) for name in names}

    def sessions(self) -> dict[str, int]:
        names = {session for *_, session in self.rows.values() if session is not None}
        return {name: self.count(session_id=name) for name in sorted(names, key=str.encode)}
