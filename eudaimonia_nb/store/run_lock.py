"""One process per run: a lock on the run id, kept in the results store itself.

Two processes running the same configuration on one store would make every call twice and
could judge one response while the other stores another. ``acquire`` records the holder
(process id, host, a random token) in the ``run_locks`` table inside an immediate
transaction; a second process finds it and stops with a message naming the holder. A lock
whose holder is gone is taken over: on the same host when the process no longer exists
(a run killed with SIGKILL resumes at once), on another host when its heartbeat, refreshed
by the running process every ``HEARTBEAT_S``, is older than ``STALE_AFTER_S``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

HEARTBEAT_S = 30.0
"""How often a running process refreshes its lock."""
STALE_AFTER_S = 180.0
"""A lock not refreshed for this long belongs to a process that is gone."""


class RunLockedError(RuntimeError):
    """Another live process holds the run's lock (the message names it)."""


@dataclass
class RunLock:
    """A held lock; ``release`` it when the run stops (also on errors)."""

    db: sqlite3.Connection
    """The store connection the lock lives in."""
    run_id: str
    """The locked run."""
    token: str
    """This holder's random token (so a taken-over lock is never released by the old holder)."""

    def refresh(self) -> None:
        self.db.execute("UPDATE run_locks SET heartbeat_at = ? WHERE run_id = ? AND token = ?",
                        (time.time(), self.run_id, self.token))

    def release(self) -> None:
        self.db.execute("DELETE FROM run_locks WHERE run_id = ? AND token = ?", (self.run_id, self.token))


def acquire(db: sqlite3.Connection, run_id: str) -> RunLock:
    """Take the run's lock or raise ``RunLockedError`` naming the live holder."""
    token = uuid.uuid4().hex
    now = time.time()
    db.execute("BEGIN IMMEDIATE")
    try:
        row = db.execute("SELECT pid, host, acquired_at, heartbeat_at FROM run_locks WHERE run_id = ?", (run_id,)).fetchone()
        if row is not None and _alive(*row, now=now):
            pid, host, acquired_at, _ = row
            since = datetime.fromtimestamp(acquired_at, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            raise RunLockedError(
                f"run {run_id} is already running in process {pid} on host {host} (since {since}); "
                f"wait for it to finish or stop that process, then run the same command again to resume"
            )
        db.execute("INSERT OR REPLACE INTO run_locks VALUES (?, ?, ?, ?, ?, ?)",
                   (run_id, os.getpid(), socket.gethostname(), token, now, now))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return RunLock(db, run_id, token)


def _alive(pid: int, host: str, acquired_at: float, heartbeat_at: float, *, now: float) -> bool:
    if now - heartbeat_at > STALE_AFTER_S:
        return False
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


async def keep_alive(lock: RunLock, every_s: float = HEARTBEAT_S) -> None:
    """Refresh ``lock`` until cancelled (run it as a task beside the run's work)."""
    while True:
        await asyncio.sleep(every_s)
        lock.refresh()
