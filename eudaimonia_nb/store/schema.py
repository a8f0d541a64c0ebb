"""Versions of the results-store schema and the migrations between them.

A store records its schema version in SQLite's ``PRAGMA user_version`` (0 in stores written
before versioning, which are version 1). Opening a store for writing:

* a store written by a NEWER version is refused, naming both versions (this code could
  misread or damage it);
* an OLDER store is first copied beside itself (``results.sqlite.v1-backup``, through SQLite's
  backup API, so the copy is consistent even in WAL mode), then migrated in place in one
  transaction, and a warning names the backup: it is never altered silently;
* a new store gets the version-1 tables from ``store.py`` and then every migration, so new and
  migrated stores go through the same statements.

Readers accept older versions as they are (they read only version-1 columns, and treat a store
without the version-7 ``epoch`` and ``judge_repeat`` columns as epoch 1, repeat 1) and refuse
newer ones. To change the schema, append a ``Migration`` to ``MIGRATIONS``; never edit the
version-1 tables in ``store.py`` or an existing migration.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    """The statements that take a store from ``version - 1`` to ``version``."""

    version: int
    """Schema version after this migration."""
    why: str
    """What it adds, for the log and the docs."""
    statements: tuple[str, ...]
    """SQL run in order, in one transaction with the others of the same upgrade."""
    steps: tuple[Callable[[sqlite3.Connection], None], ...] = ()
    """Functions run after ``statements``, in the same transaction, for changes SQL alone cannot
    make in place (a new UNIQUE key needs the table rebuilt from its current definition)."""


MIGRATIONS: tuple[Migration, ...] = (
    Migration(2, "verdicts record the SHA-256 of the response they judged; runs take a lock on their id", (
        "ALTER TABLE verdicts ADD COLUMN response_sha256 TEXT",
        """CREATE TABLE IF NOT EXISTS run_locks (
            run_id TEXT PRIMARY KEY,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            token TEXT NOT NULL,
            acquired_at REAL NOT NULL,
            heartbeat_at REAL NOT NULL
        )""",
    )),
    Migration(3, "verdicts record how their verdict was read (parse_path, verdict_flags); responses record "
                 "whether their text is the authors' repr of a reply that had only reasoning text", (
        "ALTER TABLE verdicts ADD COLUMN parse_path TEXT",
        "ALTER TABLE verdicts ADD COLUMN verdict_flags TEXT",
        "ALTER TABLE responses ADD COLUMN reasoning_repr INTEGER NOT NULL DEFAULT 0",
    )),
    Migration(6, "a ledger of provider batches and their requests, spend per run and mode, and runs stopped at a cost cap", (
        # One row per batch a run meant to submit: written (status 'intent') BEFORE the provider is
        # asked, so a kill between the provider's answer and the ledger write is found on resume.
        """CREATE TABLE IF NOT EXISTS batch_jobs (
            job_id INTEGER PRIMARY KEY AUTOINCREMENT,
            tag TEXT NOT NULL UNIQUE,
            run_id TEXT NOT NULL,
            phase TEXT NOT NULL,
            provider TEXT NOT NULL,
            base_url TEXT NOT NULL,
            model TEXT NOT NULL,
            batch_id TEXT,
            ids_sha256 TEXT NOT NULL,
            n_requests INTEGER NOT NULL,
            estimated_cost_usd REAL,
            status TEXT NOT NULL,
            counts TEXT,
            intent_at REAL NOT NULL,
            submitted_at REAL,
            last_polled_at REAL,
            ended_at REAL,
            collected_at REAL
        )""",
        "CREATE INDEX IF NOT EXISTS batch_jobs_run ON batch_jobs (run_id)",
        # One row per line sent (custom_id is derived from the check key and the attempt).
        """CREATE TABLE IF NOT EXISTS batch_requests (
            custom_id TEXT PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES batch_jobs(job_id),
            run_id TEXT NOT NULL,
            role TEXT NOT NULL,
            prompt_id TEXT NOT NULL,
            requirement TEXT,
            check_key TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            judged_sha256 TEXT,
            outcome TEXT,
            text TEXT,
            finish_reason TEXT,
            error TEXT,
            retryable INTEGER,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            final INTEGER NOT NULL DEFAULT 0,
            resolved_at REAL,
            reasoning TEXT,
            UNIQUE (run_id, check_key, attempt)
        )""",
        "CREATE INDEX IF NOT EXISTS batch_requests_job ON batch_requests (job_id)",
        """CREATE TABLE IF NOT EXISTS run_spend (
            run_id TEXT NOT NULL,
            mode TEXT NOT NULL,
            model TEXT NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            PRIMARY KEY (run_id, mode, model)
        )""",
        """CREATE TABLE IF NOT EXISTS run_stops (
            run_id TEXT NOT NULL,
            stopped_at REAL NOT NULL,
            reason TEXT NOT NULL
        )""",
    )),
    Migration(7, "responses have an epoch and verdicts an epoch and a judge repeat, both in their UNIQUE keys; "
                 "every earlier row is epoch 1, repeat 1", (
        "ALTER TABLE responses ADD COLUMN epoch INTEGER NOT NULL DEFAULT 1 CHECK (epoch >= 1)",
        "ALTER TABLE verdicts ADD COLUMN epoch INTEGER NOT NULL DEFAULT 1 CHECK (epoch >= 1)",
        "ALTER TABLE verdicts ADD COLUMN judge_repeat INTEGER NOT NULL DEFAULT 1 CHECK (judge_repeat >= 1)",
    ), steps=(
        lambda db: rebuild_with_key(db, "responses", "UNIQUE (run_id, prompt_id)", "UNIQUE (run_id, prompt_id, epoch)"),
        lambda db: rebuild_with_key(db, "verdicts", "UNIQUE (run_id, prompt_id, requirement)",
                                    "UNIQUE (run_id, prompt_id, requirement, epoch, judge_repeat)"),
    )),
    Migration(8, "batch request lines record the epoch and judge repeat they ask for (batched runs with repeats); "
                 "every earlier line is epoch 1, repeat 1", (
        "ALTER TABLE batch_requests ADD COLUMN epoch INTEGER NOT NULL DEFAULT 1 CHECK (epoch >= 1)",
        "ALTER TABLE batch_requests ADD COLUMN judge_repeat INTEGER NOT NULL DEFAULT 1 CHECK (judge_repeat >= 1)",
    )),
)
SCHEMA_VERSION = MIGRATIONS[-1].version if MIGRATIONS else 1
"""The version this code writes."""


class SchemaVersionError(sqlite3.DatabaseError):
    """A store written by a newer schema version than this code knows."""


def stored_version(db: sqlite3.Connection) -> int:
    """The store's schema version; 0 for a file with no tables yet."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version:
        return int(version)
    has_runs = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'").fetchone()
    return 1 if has_runs else 0


def check_readable(db: sqlite3.Connection, path: Path) -> None:
    """Refuse a store from a newer schema version (older ones read fine)."""
    _refuse_newer(stored_version(db), path)


def ensure_current(db: sqlite3.Connection, path: Path, base_schema: str) -> None:
    """Create, or back up and migrate, the store behind ``db`` (an autocommit connection)."""
    version = stored_version(db)
    _refuse_newer(version, path)
    if version == SCHEMA_VERSION:
        return
    backup = _backup(db, path, version) if version > 0 else None
    db.execute("BEGIN IMMEDIATE")
    try:
        version = stored_version(db)  # another process may have migrated it meanwhile
        _refuse_newer(version, path)
        if version == 0:
            for statement in _statements(base_schema):
                db.execute(statement)
            version = 1
        for migration in MIGRATIONS:
            if migration.version > version:
                for statement in migration.statements:
                    db.execute(statement)
                for step in migration.steps:
                    step(db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    if backup is not None:
        log.warning("%s: migrated the results store from schema version %d to %d; the previous file is kept as %s",
                    path, version, SCHEMA_VERSION, backup)


def _refuse_newer(version: int, path: Path) -> None:
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{path}: written by a newer eudaimonia-nb (store schema version {version}; this version knows up to "
            f"{SCHEMA_VERSION}); upgrade eudaimonia-nb to use this store"
        )


def _backup(db: sqlite3.Connection, path: Path, version: int) -> Path:
    target = path.with_name(f"{path.name}.v{version}-backup")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.v{version}-backup{n}")
    copy = sqlite3.connect(target)
    try:
        db.backup(copy)
    finally:
        copy.close()
    return target


def rebuild_with_key(db: sqlite3.Connection, table: str, old_key: str, new_key: str) -> None:
    """Rebuild ``table`` with its UNIQUE constraint ``old_key`` replaced by ``new_key`` (SQLite cannot
    alter a constraint), keeping every row, every column (also those other migrations added) and
    every index. SQLite's own recipe: create the new table, copy, drop the old one, rename."""
    row = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    if row is None or row[0].count(old_key) != 1:
        raise sqlite3.DatabaseError(f"table {table}: expected exactly one {old_key} in its definition to replace")
    definition = re.sub(rf"^CREATE TABLE\s+\"?{table}\"?", f"CREATE TABLE {table}_rebuilt", row[0], count=1)
    indexes = [sql for (sql,) in db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,))]
    db.execute(definition.replace(old_key, new_key))
    db.execute(f"INSERT INTO {table}_rebuilt SELECT * FROM {table}")
    db.execute(f"DROP TABLE {table}")
    db.execute(f"ALTER TABLE {table}_rebuilt RENAME TO {table}")
    for sql in indexes:
        db.execute(sql)


def _statements(script: str) -> list[str]:
    # Not executescript: it would COMMIT our transaction first. The schema has no ";" in strings.
    return [s.strip() for s in script.split(";") if s.strip()]
