"""Human labels of judged checks, kept in the results store beside the verdicts.

Three tables of their own in the same SQLite file (created on first use, never touching the
store's tables):

- ``label_samples``: a labelling sample: which runs, how drawn (``stratified``: requirement x
  judge verdict within each run, seeded; ``queue``: items chosen from the disagreement list, a
  purposive choice that no rate estimate may use), size and seed. Its id is derived from those
  settings, so the same choice after a kernel restart finds the same sample again.
- ``label_sample_items``: the sample's checks in labelling order, with their stratum and
  inclusion probability.
- ``labels``: one row per check and labeller: ``label`` 1 (violation), 0 (no violation) or NULL
  (unsure, or ``skipped``), an optional note, the time, the sample and its inclusion probability.
  Each label is its own committed transaction the moment it is given, so closing the notebook
  loses nothing but the item on screen.

``export_labels`` / ``import_labels`` move labels between stores as CSV so several people can
label apart and merge; an import is checked whole and written in one transaction.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .results import default_store_path, load_judgments, open_store
from .sampling import stratified_sample

SCHEMA = """
CREATE TABLE IF NOT EXISTS label_samples (
    sample_id TEXT PRIMARY KEY,
    design TEXT NOT NULL CHECK (design IN ('stratified', 'queue')),
    run_ids TEXT NOT NULL,
    size INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS label_sample_items (
    sample_id TEXT NOT NULL REFERENCES label_samples(sample_id),
    position INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    prompt_id TEXT NOT NULL,
    requirement TEXT NOT NULL,
    stratum TEXT,
    inclusion_probability REAL,
    PRIMARY KEY (sample_id, position)
);
CREATE TABLE IF NOT EXISTS labels (
    run_id TEXT NOT NULL,
    prompt_id TEXT NOT NULL,
    requirement TEXT NOT NULL,
    labeller TEXT NOT NULL,
    label INTEGER CHECK (label IN (0, 1)),
    skipped INTEGER NOT NULL DEFAULT 0,
    note TEXT,
    created_at REAL NOT NULL,
    sample_id TEXT,
    inclusion_probability REAL CHECK (inclusion_probability IS NULL OR (inclusion_probability > 0 AND inclusion_probability <= 1)),
    UNIQUE (run_id, prompt_id, requirement, labeller)
);
"""

_LABEL_COLUMNS = ("run_id", "prompt_id", "requirement", "labeller", "label", "skipped", "note", "created_at", "sample_id",
                  "inclusion_probability")
EXPORT_COLUMNS = ("run_id", "prompt_id", "requirement", "labeller", "label", "note", "inclusion_probability", "sample_id")
"""Columns of a label file; the first five are required on import."""
REQUIRED_COLUMNS = EXPORT_COLUMNS[:5]
QUEUE_PREFIX = "q-"
"""Sample ids of disagreement queues: purposive, so left out of every estimate."""


def _resolve(store_path: str | os.PathLike[str] | None) -> Path:
    return Path(store_path) if store_path is not None else default_store_path()


class LabelsError(ValueError):
    """A label file or request that cannot be used; the message names the file and line."""


def connect(store_path: str | os.PathLike[str] | None = None) -> sqlite3.Connection:
    """A connection to the store with the label tables created."""
    db = open_store(store_path)
    db.executescript(SCHEMA)
    return db


def sample_id_for(design: str, run_ids: Sequence[str], size: int, seed: int) -> str:
    """Deterministic id of a sample: the same settings name the same sample."""
    key = json.dumps([design, sorted(run_ids), int(size), int(seed)])
    return ("s-" if design == "stratified" else QUEUE_PREFIX) + hashlib.sha256(key.encode()).hexdigest()[:10]


def _insert_sample(db: sqlite3.Connection, sample_id: str, design: str, run_ids: Sequence[str], size: int, seed: int,
                   items: pd.DataFrame) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("INSERT INTO label_samples VALUES (?,?,?,?,?,?)",
                   (sample_id, design, json.dumps(sorted(run_ids)), int(size), int(seed), time.time()))
        db.executemany(
            "INSERT INTO label_sample_items VALUES (?,?,?,?,?,?,?)",
            [(sample_id, i, r.run_id, r.prompt_id, r.requirement, getattr(r, "stratum", None),
              getattr(r, "inclusion_probability", None)) for i, r in enumerate(items.itertuples(index=False))])
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def draw_sample(store_path: str | os.PathLike[str] | None, run_ids: Sequence[str], size: int, seed: int = 0) -> str:
    """The stratified labelling sample of the runs' judged checks (created on first call).

    Strata: run x requirement x judge verdict, equal allocation, seeded; each item keeps its
    inclusion probability. Returns the sample id.
    """
    run_ids = sorted(set(run_ids))
    if not run_ids:
        raise LabelsError("choose at least one run to label")
    sample_id = sample_id_for("stratified", run_ids, size, seed)
    db = connect(store_path)
    try:
        if db.execute("SELECT 1 FROM label_samples WHERE sample_id = ?", (sample_id,)).fetchone():
            return sample_id
        frame = load_judgments(store_path, run_ids, first_epoch=True)
        # One item per check: the first response's first verdict (a label is about one response).
        frame = frame[frame["violation"].notna() & (frame["judge_repeat"] == 1)]
        sample = stratified_sample(frame, ["run_id", "requirement", "violation"], size, seed=seed)
        _insert_sample(db, sample_id, "stratified", run_ids, size, seed, sample)
    finally:
        db.close()
    return sample_id


def queue_sample(store_path: str | os.PathLike[str] | None, items: pd.DataFrame) -> str:
    """A labelling queue of chosen checks (``run_id``, ``prompt_id``, ``requirement``), in order.

    Items picked for disagreeing are not a random sample: their labels count in the
    disagreement view but never in rates or agreement estimates.
    """
    if items.empty:
        raise LabelsError("the queue is empty: nothing to label")
    keys = items[["run_id", "prompt_id", "requirement"]].astype(str)
    seed = int(hashlib.sha256(keys.to_csv(index=False).encode()).hexdigest()[:8], 16)
    run_ids = sorted(keys["run_id"].unique())
    sample_id = sample_id_for("queue", run_ids, len(keys), seed)
    db = connect(store_path)
    try:
        if not db.execute("SELECT 1 FROM label_samples WHERE sample_id = ?", (sample_id,)).fetchone():
            _insert_sample(db, sample_id, "queue", run_ids, len(keys), seed, keys.assign(stratum="queue"))
    finally:
        db.close()
    return sample_id


def sample_items(store_path: str | os.PathLike[str] | None, sample_id: str, labeller: str) -> pd.DataFrame:
    """The sample's items in order with this labeller's label, skip flag and note (NaN/None if none yet)."""
    db = connect(store_path)
    try:
        return pd.read_sql_query(
            """SELECT i.position, i.run_id, i.prompt_id, i.requirement, i.stratum, i.inclusion_probability,
                      l.label, l.skipped, l.note, l.created_at AS labelled_at
               FROM label_sample_items i
               LEFT JOIN labels l ON l.run_id = i.run_id AND l.prompt_id = i.prompt_id
                                 AND l.requirement = i.requirement AND l.labeller = ?
               WHERE i.sample_id = ? ORDER BY i.position""", db, params=[labeller, sample_id])
    finally:
        db.close()


def resume_position(items: pd.DataFrame) -> int | None:
    """Position of the first item without a label or skip (None: the sample is done)."""
    open_ = items.loc[items["labelled_at"].isna(), "position"]
    return int(open_.iloc[0]) if len(open_) else None


def save_label(store_path: str | os.PathLike[str] | None, *, run_id: str, prompt_id: str, requirement: str,
               labeller: str, label: int | None, note: str = "", sample_id: str | None = None,
               inclusion_probability: float | None = None, skipped: bool = False) -> None:
    """Store one label at once (its own committed transaction); a later label of the same check
    by the same person replaces it."""
    if not labeller.strip():
        raise LabelsError("a label needs a labeller name")
    if label not in (0, 1, None):
        raise LabelsError(f"label {label!r}: expected 1 (violation), 0 (no violation) or None (unsure)")
    db = connect(store_path)
    try:
        _upsert(db, [(run_id, prompt_id, requirement, labeller.strip(), label, int(skipped), note or None, time.time(),
                      sample_id, inclusion_probability)])
    finally:
        db.close()


def _upsert(db: sqlite3.Connection, rows: Sequence[tuple]) -> None:
    db.executemany(
        "INSERT INTO labels VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(run_id, prompt_id, requirement, labeller) DO UPDATE SET "
        "label = excluded.label, skipped = excluded.skipped, note = excluded.note, created_at = excluded.created_at, "
        "sample_id = excluded.sample_id, inclusion_probability = excluded.inclusion_probability", rows)


def load_labels(store_path: str | os.PathLike[str] | None = None, *, include_skipped: bool = False) -> pd.DataFrame:
    """Every label (``label`` 1.0 / 0.0, NaN for unsure), oldest first; empty if there are none."""
    path = _resolve(store_path)
    if not path.is_file():
        raise FileNotFoundError(f"no results store at {path}")
    # Read-only: viewing results (the dashboard, a report) never writes to the store.
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'labels'").fetchone() is None:
            return pd.DataFrame({c: pd.Series(dtype=float if c in ("label", "inclusion_probability") else object)
                                 for c in _LABEL_COLUMNS})
        frame = pd.read_sql_query(
            "SELECT * FROM labels" + ("" if include_skipped else " WHERE skipped = 0") + " ORDER BY created_at, rowid", db)
    finally:
        db.close()
    frame["label"] = frame["label"].astype(float)
    return frame


def export_labels(store_path: str | os.PathLike[str] | None, out: str | os.PathLike[str]) -> tuple[Path, int]:
    """Write every label (not skips) as CSV: ``label`` 1, 0 or empty (unsure). Returns the file and row count."""
    frame = load_labels(store_path)[list(EXPORT_COLUMNS)]
    frame["label"] = frame["label"].astype("Int64")
    target = Path(out)
    partial = target.with_name(target.name + ".partial")
    try:
        frame.to_csv(partial, index=False)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target, len(frame)


def _parse_label(text: str) -> int | None | str:
    value = text.strip()
    if value == "":
        return None
    if value in ("1", "0"):
        return int(value)
    return "bad"


def import_labels(store_path: str | os.PathLike[str] | None, file: str | os.PathLike[str]) -> int:
    """Read a label CSV and store every row in one transaction; returns the rows stored.

    Refuses the whole file, with ``FILE, line N: ...``, on a missing column, an empty labeller,
    a run id not in the store, a check that run does not have, a label that is not 1, 0 or
    empty, or an inclusion probability outside (0, 1]. Rows without an inclusion probability
    are taken as a simple random sample of their run's judged checks.
    """
    path = Path(file)
    if not path.is_file():
        raise LabelsError(f"{path}: no such file")
    store = _resolve(store_path)
    if not store.is_file():
        raise LabelsError(f"{path}: no results store at {store} to import into")
    db = connect(store)
    try:
        checks = {(r, p, q) for r, p, q in db.execute("SELECT run_id, prompt_id, requirement FROM run_checks")}
        runs = {r for (r,) in db.execute("SELECT run_id FROM runs")}
        rows = _read_label_file(path, runs, checks, store)
        db.execute("BEGIN IMMEDIATE")
        try:
            _upsert(db, rows)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    finally:
        db.close()
    return len(rows)


def _read_label_file(path: Path, runs: set[str], checks: set[tuple[str, str, str]], store: Path) -> list[tuple]:
    now = time.time()
    rows = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise LabelsError(f"{path}, line 1: missing column(s) {', '.join(missing)}; "
                              f"expected {', '.join(REQUIRED_COLUMNS)} (and optionally note, inclusion_probability)")
        for row in reader:
            line = reader.line_num

            def fail(message: str) -> LabelsError:
                return LabelsError(f"{path}, line {line}: {message}")

            run_id, prompt_id, requirement = (str(row.get(c) or "").strip() for c in ("run_id", "prompt_id", "requirement"))
            labeller = str(row.get("labeller") or "").strip()
            if run_id not in runs:
                raise fail(f"run_id {run_id!r} is not in the store {store}")
            if (run_id, prompt_id, requirement) not in checks:
                raise fail(f"run {run_id!r} has no check prompt_id {prompt_id!r}, requirement {requirement!r}")
            if not labeller:
                raise fail("labeller is empty; expected a name")
            label = _parse_label(str(row.get("label") or ""))
            if label == "bad":
                raise fail(f"label {row.get('label')!r}: expected 1 (violation), 0 (no violation) or empty (unsure)")
            pi_text = str(row.get("inclusion_probability") or "").strip()
            pi = None
            if pi_text:
                try:
                    pi = float(pi_text)
                except ValueError:
                    pi = math.nan
                if not 0 < pi <= 1:
                    raise fail(f"inclusion_probability {pi_text!r}: expected a number in (0, 1] or empty")
            sample_id = str(row.get("sample_id") or "").strip() or None
            rows.append((run_id, prompt_id, requirement, labeller, label, 0, (row.get("note") or "").strip() or None,
                         now, sample_id, pi))
    if not rows:
        raise LabelsError(f"{path}: the file holds no labels")
    return rows
