"""Human labels of judged checks, kept in the results store beside the verdicts.

Four tables of their own in the same SQLite file (created on first use, never touching the
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
- ``label_designs``: the design (``stratified``, ``srs``, ``queue``) of each sample that came in
  through a label file, and the file's name; samples drawn here have theirs in ``label_samples``.

``label_files`` moves labels between stores as CSV (export, and the checked, all-or-nothing import).
"""

from __future__ import annotations

import hashlib
import json
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
CREATE TABLE IF NOT EXISTS label_designs (
    sample_id TEXT PRIMARY KEY,
    design TEXT NOT NULL CHECK (design IN ('stratified', 'srs', 'queue')),
    source TEXT NOT NULL,
    created_at REAL NOT NULL
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


MAX_LABELLER_LENGTH = 100
"""Longest labeller name accepted."""


def check_labeller(name: str) -> str:
    """The name, stripped, if it is a usable labeller name: printable text (no control, format
    or bidirectional characters such as U+202E, which would make ``alice\u202eevil`` display as
    someone else), at most ``MAX_LABELLER_LENGTH`` characters."""
    name = name.strip()
    if not name:
        raise LabelsError("labeller is empty; expected a name")
    bad = next((c for c in name if not c.isprintable()), None)
    if bad is not None:
        raise LabelsError(f"labeller {name!r} holds the character U+{ord(bad):04X}, a control, format or "
                          f"bidirectional character; expected printable text")
    if len(name) > MAX_LABELLER_LENGTH:
        raise LabelsError(f"labeller name of {len(name)} characters; expected at most {MAX_LABELLER_LENGTH}")
    return name


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
        # One item per check, about its first response (a label is about one response), in the stratum
        # of the majority of that response's judge calls: the verdict validity compares labels with
        # (validity.measures.judged_checks), so its per-stratum weight check holds the same strata.
        frame = frame[frame["violation"].notna()]
        key = ["run_id", "prompt_id", "requirement"]
        grouped = frame.groupby(key, sort=False)["violation"]
        frame = frame.assign(violation=(grouped.transform("sum") > grouped.transform("size") / 2).astype(float))
        frame = frame.drop_duplicates(key, keep="first")
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
    labeller = check_labeller(labeller)
    if label not in (0, 1, None):
        raise LabelsError(f"label {label!r}: expected 1 (violation), 0 (no violation) or None (unsure)")
    db = connect(store_path)
    try:
        _upsert(db, [(run_id, prompt_id, requirement, labeller, label, int(skipped), note or None, time.time(),
                      sample_id, inclusion_probability)])
    finally:
        db.close()


def _upsert(db: sqlite3.Connection, rows: Sequence[tuple]) -> None:
    db.executemany(
        "INSERT INTO labels VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(run_id, prompt_id, requirement, labeller) DO UPDATE SET "
        "label = excluded.label, skipped = excluded.skipped, note = excluded.note, created_at = excluded.created_at, "
        "sample_id = excluded.sample_id, inclusion_probability = excluded.inclusion_probability", rows)


def load_labels(store_path: str | os.PathLike[str] | None = None, *, include_skipped: bool = False) -> pd.DataFrame:
    """Every label (``label`` 1.0 / 0.0, NaN for unsure; ``inclusion_probability`` a float, NaN
    where none), oldest first, with its sample's ``design`` (None for labels imported before
    designs were recorded); empty if there are none."""
    path = _resolve(store_path)
    if not path.is_file():
        raise FileNotFoundError(f"no results store at {path}")
    # Read-only: viewing results (the dashboard, a report) never writes to the store.
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "labels" not in tables:
            return pd.DataFrame({c: pd.Series(dtype=float if c in ("label", "inclusion_probability") else object)
                                 for c in (*_LABEL_COLUMNS, "design")})
        imported = "(SELECT design FROM label_designs d WHERE d.sample_id = l.sample_id)" \
            if "label_designs" in tables else "NULL"
        frame = pd.read_sql_query(
            f"SELECT l.*, COALESCE((SELECT design FROM label_samples s WHERE s.sample_id = l.sample_id), {imported}) "
            "AS design FROM labels l" + ("" if include_skipped else " WHERE l.skipped = 0")
            + " ORDER BY l.created_at, l.rowid", db)
    finally:
        db.close()
    # Astype, not the reader's guess: a column of NULLs would be object dtype (issue 23: log1p on objects).
    frame["label"] = frame["label"].astype(float)
    frame["inclusion_probability"] = frame["inclusion_probability"].astype(float)
    return frame
