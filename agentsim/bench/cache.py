"""SQLite response cache for model calls.

The key is a SHA-256 over the model name, the server's base URL and the exact request payload
(messages, tools, temperature, seed, max tokens...), so a hit is a reply to the very same
request. The first stored reply wins: a rerun of a run replays it exactly and costs nothing.
The value is a small JSON record of the reply (text, tool calls, token usage), independent of
langchain's internal serialization. Safe across threads and processes (WAL journal).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from agentsim.errors import ConfigError

_SCHEMA = """CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    base_url TEXT NOT NULL,
    created REAL NOT NULL,
    value TEXT NOT NULL
)"""


def cache_key(model: str, base_url: str | None, payload: dict[str, Any]) -> str:
    """Stable key of one request (dict order and the process do not matter)."""
    body = json.dumps({"model": model, "base_url": base_url or "", "payload": payload},
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


class ResponseCache:
    """A key-value store of model replies in one SQLite file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            self._db.commit()
        except sqlite3.Error as exc:
            raise ConfigError(f"response cache {self.path}: cannot open: {exc}") from None
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored reply for ``key``, or None."""
        with self._lock:
            row = self._db.execute("SELECT value FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return json.loads(row[0])

    def put(self, key: str, model: str, base_url: str | None, value: dict[str, Any]) -> None:
        """Store a reply unless one is already stored (the first reply stays canonical)."""
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO responses (key, model, base_url, created, value) "
                             "VALUES (?, ?, ?, ?, ?)", (key, model, base_url or "", time.time(), text))
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
