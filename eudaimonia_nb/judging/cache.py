"""The request cache: successful responses in SQLite keyed on everything that determines them
(endpoint scope and every ``ChatRequest`` field), shared by runs. ``ReliableClient`` is its only
writer; entries are read back through the completion reader's field checks."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from dataclasses import asdict, fields
from pathlib import Path

from .chat import ChatRequest, ChatResponse
from .completion_body import MAX_FINISH_REASON_CHARS, _mapping, _optional_text, _usage


_REQUEST_FIELDS = tuple(f.name for f in fields(ChatRequest))


class RequestCache:
    """Successful responses keyed on everything that determines them, in SQLite (shared by runs)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, response TEXT NOT NULL, created_at REAL NOT NULL)")
        # Writes are grouped (issue 20): one commit per GROUP_ITEMS answers or GROUP_DELAY_S, at the
        # next put or at close. An answer lost to a kill is only a cache miss later.
        self._pending: dict[str, tuple[str, float]] = {}
        self._since = 0.0

    @staticmethod
    def key(endpoint: str, request: ChatRequest) -> str:
        # ``sample`` only when set, so the keys of calls made before epochs existed still match.
        fields = {"endpoint": endpoint, **{f: getattr(request, f) for f in _REQUEST_FIELDS
                                           if f != "sample" or request.sample is not None}}
        blob = json.dumps(fields, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    GROUP_ITEMS = 256
    GROUP_DELAY_S = 0.05

    def get(self, key: str) -> ChatResponse | None:
        pending = self._pending.get(key)
        row = (pending[0],) if pending is not None else self._db.execute("SELECT response FROM cache WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            data = _mapping(json.loads(row[0]), "cache entry")
            text = _optional_text(data.get("text"), "cached text")
            finish_reason = _optional_text(data.get("finish_reason"), "cached finish_reason", MAX_FINISH_REASON_CHARS)
            reasoning = _optional_text(data.get("reasoning"), "cached reasoning")
        except ValueError:
            return None  # written before replies were checked field by field: ask again
        if text is None and reasoning is None:
            return None
        return ChatResponse(text=text, usage=_usage(data.get("usage")), finish_reason=finish_reason, cached=True,
                            reasoning=reasoning)

    def put(self, key: str, response: ChatResponse) -> None:
        data = {"text": response.text, "usage": asdict(response.usage), "finish_reason": response.finish_reason,
                "reasoning": response.reasoning}
        if not self._pending:
            self._since = time.monotonic()
        self._pending[key] = (json.dumps(data, ensure_ascii=False), time.time())
        if len(self._pending) >= self.GROUP_ITEMS or time.monotonic() - self._since >= self.GROUP_DELAY_S:
            self.flush()

    def flush(self) -> None:
        """Commit the answers put since the last commit, in one transaction."""
        if not self._pending:
            return
        rows = [(key, text, created) for key, (text, created) in self._pending.items()]
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.executemany("INSERT OR REPLACE INTO cache VALUES (?, ?, ?)", rows)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._pending.clear()

    def close(self) -> None:
        self.flush()
        self._db.close()
