"""The SQLite results store: runs, their planned checks, responses and verdicts.

WAL mode lets a dashboard read while a run writes. Every result is committed on its own as it
arrives, and UNIQUE keys make a result for the same item replace (never duplicate) the earlier
one, so a run killed at any moment, even by SIGKILL, resumes with exactly one result per check.
The analysis reads the store only through ``load_judgments`` (the long table of the common
contract) and ``list_runs``. What a run, a response and a verdict are (the records written
here) lives in ``records``.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import astuple, fields
from pathlib import Path
from types import TracebackType

import pandas as pd

from ..linebreaks import escape_json_line_breaks
from .outputs import check_output, write_csv
from ..paths import DATASET_COPIES, data_dir, dataset_copy
# The error texts are imported from here by their readers too (analysis.conventions, validity).
from .records import JUDGE_FAILED, NO_RESPONSE, PENDING, UNPARSEABLE, ResponseRecord, RunRecord, VerdictRecord
from .run_lock import RunLock, acquire
from .schema import SchemaVersionError, check_readable, ensure_current

STORE_FILENAME = "results.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    base_url TEXT NOT NULL,
    judge_model TEXT NOT NULL,
    judge_base_url TEXT NOT NULL,
    parameters TEXT NOT NULL,
    rubric_versions TEXT NOT NULL,
    dataset_sha256 TEXT NOT NULL,
    package_version TEXT NOT NULL,
    smoke_test INTEGER NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL
);
CREATE TABLE IF NOT EXISTS run_checks (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    prompt_id TEXT NOT NULL,
    requirement TEXT NOT NULL,
    source TEXT NOT NULL,
    rewriter_model TEXT,
    responder_model TEXT,
    PRIMARY KEY (run_id, prompt_id, requirement)
);
CREATE TABLE IF NOT EXISTS responses (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    prompt_id TEXT NOT NULL,
    text TEXT,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    latency_s REAL NOT NULL,
    finish_reason TEXT,
    attempts INTEGER NOT NULL,
    cached INTEGER NOT NULL,
    error TEXT,
    created_at REAL NOT NULL,
    UNIQUE (run_id, prompt_id)
);
CREATE TABLE IF NOT EXISTS verdicts (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    prompt_id TEXT NOT NULL,
    requirement TEXT NOT NULL,
    violation INTEGER CHECK (violation IN (0, 1)),
    reasoning TEXT,
    raw TEXT,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    latency_s REAL NOT NULL,
    attempts INTEGER NOT NULL,
    cached INTEGER NOT NULL,
    error TEXT,
    rubric_version TEXT NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (run_id, prompt_id, requirement),
    CHECK ((violation IS NULL) <> (error IS NULL))
);
"""


class StoreError(sqlite3.DatabaseError):
    """A file that cannot be used as a results store (names the file and the reason)."""


def default_store_path() -> Path:
    return data_dir() / STORE_FILENAME


def _resolve(store_path: str | os.PathLike[str] | None) -> Path:
    return Path(store_path) if store_path is not None else default_store_path()


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        return _connect_readonly(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the folder for a results store ({exc.strerror or exc})") from None
    db = None
    try:
        db = sqlite3.connect(path, isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL: a commit survives a process kill (not necessarily a power cut).
        db.execute("PRAGMA synchronous=NORMAL")
        ensure_current(db, path, _SCHEMA)
    except SchemaVersionError as exc:
        db.close()
        raise StoreError(str(exc)) from None
    except sqlite3.DatabaseError as exc:
        if db is not None:
            db.close()
        if _is_readonly_error(exc, path):
            raise StoreError(f"{path}: the results store is read-only (or on a read-only medium) and a run must write "
                             f"to it; copy it somewhere writable or choose another store") from None
        raise StoreError(f"{path}: cannot be used as a results store ({exc})") from None
    return db


def _is_readonly_error(exc: sqlite3.DatabaseError, path: Path) -> bool:
    code = getattr(exc, "sqlite_errorname", "")
    writable = os.access(path if path.exists() else path.parent, os.W_OK)
    return code.startswith("SQLITE_READONLY") or "readonly" in str(exc) or (code == "SQLITE_CANTOPEN" and not writable)


def _connect_readonly(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise FileNotFoundError(f"no results store at {path}")
    failure: sqlite3.DatabaseError | None = None
    # A WAL store on a read-only medium cannot get its shared-memory file; nothing can write
    # there, so reading it as an immutable file is the fallback.
    for uri in (f"file:{path}?mode=ro", f"file:{path}?mode=ro&immutable=1"):
        db = sqlite3.connect(uri, uri=True, timeout=30)
        try:
            check_readable(db, path)
            return db
        except SchemaVersionError as exc:
            db.close()
            raise StoreError(str(exc)) from None
        except sqlite3.DatabaseError as exc:
            db.close()
            failure = exc
            if not isinstance(exc, sqlite3.OperationalError):
                break  # not a database at all: no point in the fallback
    raise StoreError(f"{path}: not a readable results store ({failure})")


def _read(store_path: str | os.PathLike[str] | None, sql: str, params: Sequence = ()) -> pd.DataFrame:
    """One query on a read-only connection; a file that is not a results store is named."""
    path = _resolve(store_path)
    db = _connect(path, readonly=True)
    try:
        return pd.read_sql_query(sql, db, params=list(params))
    except (sqlite3.DatabaseError, pd.errors.DatabaseError) as exc:
        cause = exc.__cause__ or exc  # pandas wraps the sqlite error in a message quoting the SQL
        raise StoreError(f"{path}: not a readable results store ({cause})") from None
    finally:
        db.close()


class ResultsStore:
    """Writer side: one connection, autocommit, one transaction per result."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = _resolve(path)
        self._db = _connect(self.path)
        self._depth = 0  # open transactions (``group`` nests the per-result ones inside it)

    def close(self) -> None:
        self._db.close()

    def begin_run(self, record: RunRecord, checks: pd.DataFrame) -> None:
        """Record the run (first start time kept) and its planned checks, in one transaction."""
        now = time.time()
        with self._transaction():
            # ended_at is kept: it is when the run last became complete (NULL: never yet).
            self._db.execute(
                "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,NULL) "
                "ON CONFLICT(run_id) DO UPDATE SET package_version = excluded.package_version",
                (*astuple(record), now),
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO run_checks VALUES (?,?,?,?,?,?)",
                [
                    (record.run_id, r.prompt_id, r.requirement, r.source, r.rewriter_model, r.responder_model)
                    for r in checks.itertuples(index=False)
                ],
            )

    def end_run(self, run_id: str) -> None:
        self._db.execute("UPDATE runs SET ended_at = ? WHERE run_id = ?", (time.time(), run_id))

    def ended(self, run_id: str) -> bool:
        """True when the run has been complete before (so a no-op rerun keeps its end time)."""
        row = self._db.execute("SELECT ended_at FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return row is not None and row[0] is not None

    def responses(self, run_id: str) -> dict[str, tuple[str | None, str | None]]:
        """prompt_id -> (text, error) of the run's stored first responses (epoch 1; see
        ``response_samples`` for every epoch)."""
        rows = self._db.execute("SELECT prompt_id, text, error FROM responses WHERE run_id = ? AND epoch = 1", (run_id,))
        return {pid: (text, error) for pid, text, error in rows}

    def verdict_errors(self, run_id: str) -> dict[tuple[str, str], str | None]:
        """(prompt_id, requirement) -> error (None for a verdict) of the run's first check results
        (epoch 1, judge repeat 1; see ``verdict_samples`` for every one)."""
        rows = self._db.execute("SELECT prompt_id, requirement, error FROM verdicts WHERE run_id = ? "
                                "AND epoch = 1 AND judge_repeat = 1", (run_id,))
        return {(pid, req): error for pid, req, error in rows}

    # -- epochs and judge repeats (store schema 7) --------------------------------------------
    def response_samples(self, run_id: str) -> dict[tuple[str, int], tuple[str | None, str | None]]:
        """(prompt_id, epoch) -> (text, error) of every stored response of the run."""
        rows = self._db.execute("SELECT prompt_id, epoch, text, error FROM responses WHERE run_id = ?", (run_id,))
        return {(pid, epoch): (text, error) for pid, epoch, text, error in rows}

    def verdict_samples(self, run_id: str) -> dict[tuple[str, str, int, int], str | None]:
        """(prompt_id, requirement, epoch, judge_repeat) -> error (None for a verdict) of every
        stored check result of the run."""
        rows = self._db.execute("SELECT prompt_id, requirement, epoch, judge_repeat, error FROM verdicts WHERE run_id = ?",
                                (run_id,))
        return {(pid, req, epoch, repeat): error for pid, req, epoch, repeat, error in rows}

    def put_response(self, run_id: str, record: ResponseRecord) -> None:
        names = [f.name for f in fields(ResponseRecord)]
        self._upsert("responses", ["run_id", *names, "created_at"], ["run_id", "prompt_id", "epoch"],
                     (run_id, *astuple(record), time.time()))

    def put_verdict(self, run_id: str, record: VerdictRecord) -> None:
        """Store a check result; one that names the response it judged is checked against the
        stored response in the same transaction, and refused if they differ."""
        if (record.violation is None) == (record.error is None):
            raise ValueError("a check result has either a verdict or an error, not both or neither")
        names = [f.name for f in fields(VerdictRecord)]
        with self._transaction():
            if record.response_sha256 is not None:
                row = self._db.execute("SELECT text FROM responses WHERE run_id = ? AND prompt_id = ? AND epoch = ?",
                                       (run_id, record.prompt_id, record.epoch)).fetchone()
                stored = response_sha256(row[0]) if row is not None and row[0] is not None else None
                if stored != record.response_sha256:
                    epoch = f", epoch {record.epoch}" if record.epoch != 1 else ""
                    raise StoreError(f"{self.path}: run {run_id}, prompt {record.prompt_id}{epoch}: the verdict judged a "
                                     f"response that is not the stored one (another process wrote it?); the verdict was "
                                     f"not stored")
            self._upsert("verdicts", ["run_id", *names, "created_at"],
                         ["run_id", "prompt_id", "requirement", "epoch", "judge_repeat"], (run_id, *astuple(record), time.time()))

    def write_run(self, record: RunRecord, checks: pd.DataFrame, responses: Iterable[ResponseRecord],
                  verdicts: Iterable[VerdictRecord], *, started_at: float, ended_at: float | None) -> None:
        """A whole run made elsewhere (an imported log) in ONE transaction: all of it or none.
        Refuses a run id the store already holds (an import never merges into a run)."""
        response_names = ["run_id", *(f.name for f in fields(ResponseRecord)), "created_at"]
        verdict_names = ["run_id", *(f.name for f in fields(VerdictRecord)), "created_at"]
        with self._transaction():
            if self._db.execute("SELECT 1 FROM runs WHERE run_id = ?", (record.run_id,)).fetchone() is not None:
                raise StoreError(f"{self.path}: run {record.run_id} is already in the store; nothing was written")
            self._db.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", (*astuple(record), started_at, ended_at))
            self._db.executemany("INSERT INTO run_checks VALUES (?,?,?,?,?,?)", [
                (record.run_id, r.prompt_id, r.requirement, r.source, r.rewriter_model, r.responder_model)
                for r in checks.itertuples(index=False)])
            for table, names, rows in (("responses", response_names, responses), ("verdicts", verdict_names, verdicts)):
                self._db.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                                     [(record.run_id, *astuple(row), started_at) for row in rows])

    def lock_run(self, run_id: str) -> RunLock:
        """Take the run's lock (``run_lock.RunLockedError`` names a live holder)."""
        return acquire(self._db, run_id)

    def produced(self, run_id: str, *, verdicts_only: bool = False) -> bool:
        """True when the run has stored a response text or a verdict (only a verdict counts for
        ``verdicts_only``: a rejudge's responses are copies)."""
        responses = "0" if verdicts_only else "EXISTS (SELECT 1 FROM responses WHERE run_id = ?1 AND text IS NOT NULL)"
        return self._db.execute(
            f"SELECT {responses} OR EXISTS (SELECT 1 FROM verdicts WHERE run_id = ?1 AND error IS NULL)",
            (run_id,)).fetchone()[0] == 1

    def has_run(self, run_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is not None

    def delete_run(self, run_id: str) -> None:
        """Remove every trace of a run (for a run stopped before it produced anything)."""
        with self._transaction():
            for table in ("verdicts", "responses", "run_checks", "runs"):
                self._db.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))

    def _upsert(self, table: str, columns: Sequence[str], key: Sequence[str], values: tuple) -> None:
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
        self._db.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
            f"ON CONFLICT({', '.join(key)}) DO UPDATE SET {updates}",
            values,
        )

    def group(self) -> _Transaction:
        """``with store.group():`` writes every result inside in one transaction (one commit):
        all of them or none is stored, and a caller reports them done only after the block."""
        return _Transaction(self)

    def _transaction(self) -> _Transaction:
        return _Transaction(self)


def response_sha256(text: str) -> str:
    """The hash a verdict records of the response it judged."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Transaction:
    """One transaction; nested inside another (``ResultsStore.group``) it joins the outer one."""

    def __init__(self, store: ResultsStore):
        self._store = store

    def __enter__(self) -> None:
        if self._store._depth == 0:
            self._store._db.execute("BEGIN IMMEDIATE")
        self._store._depth += 1

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._store._depth -= 1
        if self._store._depth == 0:
            self._store._db.execute("COMMIT" if kind is None else "ROLLBACK")


def _has_column(store_path: str | os.PathLike[str] | None, table: str, column: str) -> bool:
    """Whether the store has ``table.column`` (readers accept stores of older schema versions)."""
    names = _read(store_path, f"SELECT name FROM pragma_table_info('{table}')")["name"]
    return column in set(names)


def list_runs(store_path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """One row per run with its record, counts of checks, verdicts and errors, and tokens;
    ``n_reasoning_repr`` counts the responses judged as the authors' repr of a reasoning-only
    reply and ``dataset_copy`` names the official copy the run used (None for another file)."""
    repr_count = ("(SELECT COUNT(*) FROM responses s WHERE s.run_id = r.run_id AND s.reasoning_repr = 1)"
                  if _has_column(store_path, "responses", "reasoning_repr") else "0")
    frame = _read(
        store_path,
        f"""
            SELECT r.*, {repr_count} AS n_reasoning_repr,
                COALESCE(json_extract(r.parameters, '$.protocol'), 'suite') AS protocol,
                json_extract(r.parameters, '$.rejudged_from') AS rejudged_from,
                COALESCE(json_extract(r.parameters, '$.epochs'), 1) AS epochs,
                COALESCE(json_extract(r.parameters, '$.judge_repeats'), 1) AS judge_repeats,
                (SELECT COUNT(*) FROM run_checks c WHERE c.run_id = r.run_id) AS n_checks,
                (SELECT COUNT(*) FROM verdicts v WHERE v.run_id = r.run_id AND v.error IS NULL) AS n_verdicts,
                (SELECT COUNT(*) FROM verdicts v WHERE v.run_id = r.run_id AND v.error IS NOT NULL) AS n_errors,
                (SELECT COUNT(*) FROM responses s WHERE s.run_id = r.run_id) AS n_responses,
                (SELECT COALESCE(SUM(prompt_tokens), 0) FROM responses s WHERE s.run_id = r.run_id)
                  + (SELECT COALESCE(SUM(prompt_tokens), 0) FROM verdicts v WHERE v.run_id = r.run_id) AS input_tokens,
                (SELECT COALESCE(SUM(completion_tokens), 0) FROM responses s WHERE s.run_id = r.run_id)
                  + (SELECT COALESCE(SUM(completion_tokens), 0) FROM verdicts v WHERE v.run_id = r.run_id) AS output_tokens
            FROM runs r ORDER BY r.started_at
            """,
    )
    frame["smoke_test"] = frame["smoke_test"].astype(bool)
    # Runs on any other file than the two official copies are not comparable with the published figures.
    frame["dataset_copy"] = frame["dataset_sha256"].map(dataset_copy)
    frame["dataset_official"] = frame["dataset_sha256"].isin([digest for _, digest in DATASET_COPIES.values()])
    for column in ("started_at", "ended_at"):
        frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    return frame


_JUDGMENT_COLUMNS = [
    "model", "prompt_id", "requirement", "source", "violation", "error", "run_id", "judge_model",
    "rubric_version", "rewriter_model", "responder_model", "smoke_test", "protocol", "parse_path", "verdict_flags",
    "epoch", "judge_repeat",
]
TEXT_COLUMNS = ["response", "reasoning"]
"""What ``load_judgments(..., texts=True)`` adds: the model's response and the judge's reasoning
(missing where there is none), so results can be read, not only counted."""


def load_judgments(store_path: str | os.PathLike[str] | None = None, run_ids: Iterable[str] | None = None,
                   *, texts: bool = False, first_epoch: bool = False) -> pd.DataFrame:
    """The long judgments table: one row per model x prompt x requirement of each run's checks,
    and per ``epoch`` and ``judge_repeat`` of runs with several (both 1 otherwise, so a run made
    with the defaults has one row per check; ``analysis.reducers`` turns repeats into one row).
    ``first_epoch`` reads each check's first response (epoch 1) and its judge calls only (what
    a label is about: ``store.labels``, ``validity``).

    ``violation`` is 1.0/0.0, or NaN with the reason in ``error`` (``"not judged yet"`` for a
    check an interrupted run has not reached). ``smoke_test`` marks rows from the local
    smoke-test model, whose verdicts are not research results. ``parse_path`` and
    ``verdict_flags`` say how each verdict was read and why that reading may be doubtful
    (``verdict_flags``; "" when clean). ``texts`` adds ``TEXT_COLUMNS`` (the response and the
    judge's reasoning).
    """
    ids = list(run_ids) if run_ids is not None else None
    if ids is None:
        where = ""
    elif ids:
        where = f"WHERE c.run_id IN ({', '.join('?' * len(ids))})"
    else:
        where = "WHERE 0"  # an empty selection selects nothing, not everything
    if ids:
        known = set(_read(store_path, f"SELECT run_id FROM runs WHERE run_id IN ({', '.join('?' * len(ids))})", ids)["run_id"])
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise KeyError(f"no run(s) {', '.join(unknown)} in the store {_resolve(store_path)}")
    # Response texts are copied onto every check of their prompt: read them only when asked,
    # not on every dashboard load.
    # A store written before epochs existed (read as it is) has epoch 1 and repeat 1 only.
    columns, most = _repeat_design(store_path)
    if most > 1:
        # Every planned (epoch, judge repeat) of a run gets a row, judged or not.
        grid = (f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {most}), "
                f"plan AS (SELECT run_id, {_EPOCHS} AS epochs, {_REPEATS} AS repeats FROM runs)")
        grid_join = (f"JOIN plan p ON p.run_id = c.run_id JOIN n e ON e.i <= {'1' if first_epoch else 'p.epochs'} "
                     "JOIN n j ON j.i <= p.repeats")
        epoch, repeat, order = "e.i", "j.i", ", e.i, j.i"
    else:
        # No run has repeats (or the store predates them): one row per check, as always.
        grid, grid_join, epoch, repeat, order = "", "", "1", "1", ""
    on_sample = f" AND v.epoch = {epoch} AND v.judge_repeat = {repeat}" if columns else ""
    text_columns = ", s.text AS response, v.reasoning" if texts else ""
    # Stores from before schema version 3 did not record how a verdict was read.
    reading = ("v.parse_path, COALESCE(v.verdict_flags, '') AS verdict_flags"
               if _has_column(store_path, "verdicts", "verdict_flags") else "NULL AS parse_path, '' AS verdict_flags")
    text_join = (f"LEFT JOIN responses s ON s.run_id = c.run_id AND s.prompt_id = c.prompt_id"
                 f"{f' AND s.epoch = {epoch}' if columns else ''}") if texts else ""
    frame = _read(
        store_path,
        f"""
            {grid}
            SELECT r.model, c.prompt_id, c.requirement, c.source,
                   CAST(v.violation AS REAL) AS violation,
                   CASE WHEN v.run_id IS NULL THEN ? ELSE COALESCE(v.error, '') END AS error,
                   c.run_id, r.judge_model,
                   COALESCE(v.rubric_version, json_extract(r.rubric_versions, '$."' || c.requirement || '"')) AS rubric_version,
                   c.rewriter_model, c.responder_model, r.smoke_test, {reading}{text_columns},
                   -- runs recorded before protocols existed used the suite's framing
                   COALESCE(json_extract(r.parameters, '$.protocol'), 'suite') AS protocol,
                   {epoch} AS epoch, {repeat} AS judge_repeat
            FROM run_checks c
            JOIN runs r ON r.run_id = c.run_id
            {grid_join}
            LEFT JOIN verdicts v ON v.run_id = c.run_id AND v.prompt_id = c.prompt_id AND v.requirement = c.requirement{on_sample}
            {text_join}
            {where}
            ORDER BY r.started_at, c.rowid{order}
            """,
        [PENDING, *(ids or [])],
    )
    frame = frame.astype({"epoch": int, "judge_repeat": int})
    frame["violation"] = frame["violation"].astype(float)
    frame["smoke_test"] = frame["smoke_test"].astype(bool)
    frame.attrs["smoke_test"] = bool(frame["smoke_test"].any())
    return _label_repeated_models(frame[_JUDGMENT_COLUMNS + (TEXT_COLUMNS if texts else [])], store_path)


def _label_repeated_models(frame: pd.DataFrame, store_path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """A model judged in several runs (another judge, protocol or condition) becomes one
    ``model`` per run, labelled ``"name · judge J · P protocol"`` (``store.run_labels``), so the
    analysis never pools or double-counts them; ``model_name`` keeps the name the endpoint used."""
    from .run_labels import relabel

    conditions: dict[str, str | None] = {}
    if store_path is not None and frame.groupby("model")["run_id"].nunique().gt(1).any():
        rows = _read(store_path, "SELECT run_id, json_extract(parameters, '$.condition') AS condition FROM runs")
        conditions = dict(zip(rows["run_id"].astype(str), rows["condition"]))
    return relabel(frame, conditions)


_EPOCHS = "COALESCE(json_extract(parameters, '$.epochs'), 1)"
_REPEATS = "COALESCE(json_extract(parameters, '$.judge_repeats'), 1)"
"""A run's planned epochs and judge repeats, from its recorded parameters (1 before they existed)."""


def _repeat_design(store_path: str | os.PathLike[str] | None) -> tuple[bool, int]:
    """Whether the store's tables have the ``epoch`` and ``judge_repeat`` columns (schema 7), and the
    most epochs or judge repeats any of its runs plans."""
    found = _read(store_path, f"""
        SELECT (SELECT COUNT(*) FROM pragma_table_info('verdicts') WHERE name = 'judge_repeat') AS columns,
               (SELECT COALESCE(MAX(MAX({_EPOCHS}, {_REPEATS})), 1) FROM runs) AS most""")
    return bool(found["columns"].iloc[0]), int(found["most"].iloc[0])


EXPORT_FORMATS = ("csv", "jsonl", "parquet")


def export_run(store_path: str | os.PathLike[str] | None, run_id: str, fmt: str, out: str | os.PathLike[str], *,
               force: bool = False, raw_csv: bool = False) -> Path:
    """Write one run's long table with the response and the judge's reasoning; ``violation`` is
    1/0, empty (CSV) or null where there is no verdict; ``parse_path`` and ``verdict_flags``
    (``;``-separated, empty when clean) say how each verdict was read. Written to a temporary file
    and renamed, so a failed export leaves nothing behind. ``outputs.check_output`` refuses the
    store itself, any SQLite file and (unless ``force``) a file of another format; CSV text cells
    that a spreadsheet would run as formulas get a leading ``'`` unless ``raw_csv``."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(EXPORT_FORMATS)}")
    target = check_output(out, fmt=fmt, reading=[_resolve(store_path)], force=force)
    frame = load_judgments(store_path, [run_id], texts=True)
    frame["violation"] = frame["violation"].astype("Int64")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        if fmt == "csv":
            write_csv(frame, partial, raw=raw_csv)
        elif fmt == "jsonl":
            text = frame.to_json(orient="records", lines=True, force_ascii=False)
            partial.write_text(escape_json_line_breaks(text), encoding="utf-8")
        else:
            frame.to_parquet(partial, index=False)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def response_texts(store_path: str | os.PathLike[str] | None, run_id: str, *, epoch: int | None = None) -> pd.DataFrame:
    """The responses of a run (for reading what was judged); with ``epoch``, that epoch's only."""
    if epoch is not None and _repeat_design(store_path)[0]:
        return _read(store_path, "SELECT * FROM responses WHERE run_id = ? AND epoch = ? ORDER BY rowid", [run_id, epoch])
    rows = _read(store_path, "SELECT * FROM responses WHERE run_id = ? ORDER BY rowid", [run_id])
    return rows if epoch in (None, 1) else rows.iloc[:0]


def verdict_details(store_path: str | os.PathLike[str] | None, run_id: str) -> pd.DataFrame:
    """Every stored check result of a run with reasoning, raw judge output and usage."""
    return _read(store_path, "SELECT * FROM verdicts WHERE run_id = ? ORDER BY rowid", [run_id])


def remove_if_empty(store_path: str | os.PathLike[str]) -> bool:
    """Delete a store file (and its ``-wal``/``-shm``) that holds no run and no label: what a run
    refused before it recorded anything would otherwise leave behind. True when removed."""
    path = _resolve(store_path)
    if not path.is_file():
        return False
    db = sqlite3.connect(path, timeout=30)
    try:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if any(db.execute(f"SELECT EXISTS (SELECT 1 FROM {t})").fetchone()[0] for t in ("runs", "labels") if t in tables):
            return False
    finally:
        db.close()
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    return True


def open_store(store_path: str | os.PathLike[str] | None = None) -> sqlite3.Connection:
    """A writable autocommit connection to the store (its schema created), for modules that keep
    tables of their own in the same file (``eudaimonia_nb.store.labels``)."""
    return _connect(_resolve(store_path))
