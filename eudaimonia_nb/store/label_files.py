"""Label files: human labels moved between stores as CSV, so several people can label apart and merge.

``export_labels`` writes every label (not skips) with its sample and design; the writers' guard
(``outputs.check_output``) refuses the store itself and any SQLite file, and text cells a
spreadsheet would run as formulas get a leading ``'`` (``outputs.csv_safe``).

``import_labels`` reads a file line by line (never whole: a temporary table holds the rows until
the file has been checked) and stores it in one transaction, all or nothing. It refuses, with
``FILE, line N: ...``: bytes that are not UTF-8 (a byte-order mark, as Excel's "CSV UTF-8" writes,
is fine), a field over ``csv.field_size_limit()`` characters, a missing column, a labeller name
with control or bidirectional characters, a run or check the store does not have, a label that
is not 1, 0 or empty, an inclusion probability that is not a number in (0, 1], two rows for the
same check and labeller that disagree (naming both lines), and a sample whose probabilities
imply more checks in a stratum than the stratum holds.

Designs. Every imported row belongs to a sample with a design (``DESIGNS``), recorded in the
``label_designs`` table beside the labels: ``stratified`` needs each row's
``inclusion_probability``; ``srs`` (a simple random sample of each run's judged checks, equal
weights) must be declared (``--design srs``), because a file that merely lacks probabilities
may be anything, and treating a stratified sample as a simple random one biases the corrected
rates; ``queue`` rows (chosen from a disagreement list) never enter an estimate. A file's own
``design`` column (written by ``export_labels``) takes precedence over the declared one.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ..outputs import check_output, restore_cell, write_csv
from .labels import EXPORT_COLUMNS, QUEUE_PREFIX, REQUIRED_COLUMNS, LabelsError, check_labeller, connect, load_labels
from .results import default_store_path

DESIGNS = {
    "stratified": "a sample stratified by run x requirement x judge verdict (or finer), each row with its "
                  "inclusion probability n_h / N_h",
    "srs": "a simple random sample of each run's judged checks: equal weights, no inclusion_probability",
    "queue": "checks chosen from a disagreement list: shown there, never used in an estimate",
}
"""Label designs an import accepts, in words."""
OVERSHOOT_TOLERANCE = 0.01
"""Relative slack of the per-stratum check (sum of 1 / inclusion probability <= stratum size):
room for probabilities rounded to two or three digits."""
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class ImportSummary:
    """What one ``import_labels`` stored."""

    file: str
    """The file read."""
    rows: int
    """Data rows in the file."""
    distinct: int
    """Distinct labels stored (run, prompt, requirement, labeller): agreeing duplicates count once."""
    designs: dict[str, int] = field(default_factory=dict)
    """Labels stored per design."""
    samples: tuple[str, ...] = ()
    """The samples the labels belong to (ids derived from the file where it named none)."""

    def describe(self) -> str:
        """One line for the terminal."""
        designs = ", ".join(f"{n} {design}" for design, n in sorted(self.designs.items()))
        return (f"{self.rows} rows, {self.distinct} distinct labels imported from {self.file} "
                f"(design: {designs}; samples: {', '.join(self.samples)})")


def _resolve(store_path: str | os.PathLike[str] | None) -> Path:
    return Path(store_path) if store_path is not None else default_store_path()


# ---------------------------------------------------------------------------- export

def sample_designs(db: sqlite3.Connection) -> dict[str, str]:
    """sample id -> design, for samples drawn in this store and samples imported into it."""
    designs: dict[str, str] = {}
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "label_designs" in tables:
        designs.update(db.execute("SELECT sample_id, design FROM label_designs").fetchall())
    if "label_samples" in tables:
        designs.update(db.execute("SELECT sample_id, design FROM label_samples").fetchall())
    return designs


def export_labels(store_path: str | os.PathLike[str] | None, out: str | os.PathLike[str], *, force: bool = False,
                  raw_csv: bool = False) -> tuple[Path, int]:
    """Write every label (not skips) as CSV: ``label`` 1, 0 or empty (unsure), and each label's
    ``design`` (empty for labels imported before designs were recorded). Returns the file and
    row count. See the module docstring for what is refused."""
    store = _resolve(store_path)
    target = check_output(out, fmt="csv", reading=[store], force=force)
    frame = load_labels(store)[[*EXPORT_COLUMNS, "design"]]
    frame["label"] = frame["label"].astype("Int64")
    partial = target.with_name(target.name + ".partial")
    try:
        write_csv(frame, partial, raw=raw_csv)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target, len(frame)


# ---------------------------------------------------------------------------- import: reading

def _decoded_lines(handle: BinaryIO, path: Path, counter: list[int]) -> Iterator[str]:
    """The file's lines as text, counting them in ``counter[0]``; undecodable bytes are refused
    on the line they are on (a text-mode reader decodes ahead in blocks and cannot say where)."""
    for number, raw in enumerate(handle, start=1):
        counter[0] = number
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM):]
        nul = raw.find(b"\x00")
        if nul >= 0:  # Python's csv reads NUL as text; no label file holds one
            raise LabelsError(f"{path}, line {number}: a NUL byte at column {nul + 1}: not a text (CSV) file")
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = raw[exc.start:exc.start + 4]
            raise LabelsError(f"{path}, line {number}: bytes {bad!r} at column {exc.start + 1} are not UTF-8; save the "
                              f"file as UTF-8 (Excel: 'CSV UTF-8'), not as a local code page") from None


def _records(path: Path, handle: BinaryIO) -> Iterator[tuple[int, dict[str, str]]]:
    """(line where the record starts, record) for every data row; csv errors name their line."""
    counter = [0]
    reader = csv.DictReader(_decoded_lines(handle, path, counter))
    start = 1
    try:
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise LabelsError(f"{path}, line 1: missing column(s) {', '.join(missing)}; expected "
                              f"{', '.join(REQUIRED_COLUMNS)} (and optionally note, inclusion_probability, sample_id, "
                              f"design)")
        start = reader.line_num + 1
        for row in reader:
            yield start, row
            start = reader.line_num + 1
    except csv.Error as exc:
        limit = csv.field_size_limit()
        if "field larger than field limit" in str(exc):
            raise LabelsError(f"{path}, line {start}: a field longer than {limit:,} characters (read up to line "
                              f"{counter[0]}); label files hold short texts: is a quote left open?") from None
        raise LabelsError(f"{path}, line {start}: not readable as CSV ({exc}); is it a CSV file?") from None


def _text(row: dict[str, str | None], column: str, *, strip: bool = True) -> str:
    value = row.get(column)
    if not isinstance(value, str):
        return ""
    value = str(restore_cell(value))
    return value.strip() if strip else value


def _probability(text: str, fail) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 1:  # also refuses nan and inf
        raise fail(f"inclusion_probability {text!r}: expected a number in (0, 1] or empty")
    return value


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 16):
            digest.update(chunk)
    return digest.hexdigest()[:10]


_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS import_rows (
    run_id TEXT NOT NULL, prompt_id TEXT NOT NULL, requirement TEXT NOT NULL, labeller TEXT NOT NULL,
    label INTEGER, note TEXT, sample_id TEXT NOT NULL, inclusion_probability REAL, design TEXT NOT NULL,
    line INTEGER NOT NULL,
    PRIMARY KEY (run_id, prompt_id, requirement, labeller)
)"""


@dataclass
class _Import:
    """State of one import while its rows stream into the staging table."""

    path: Path
    store: Path
    db: sqlite3.Connection
    declared: str | None
    digest: str
    known_designs: dict[str, str]
    runs: set[str]
    has_pi_column: bool = False
    has_design_column: bool = False
    rows: int = 0
    new_designs: dict[str, tuple[str, int]] = field(default_factory=dict)

    def fail(self, line: int, message: str) -> LabelsError:
        return LabelsError(f"{self.path}, line {line}: {message}")

    def design_of(self, line: int, row: dict, pi: float | None, sample_id: str) -> str:
        text = _text(row, "design") if self.has_design_column else ""
        if text and text not in DESIGNS:
            raise self.fail(line, f"design {text!r}: expected one of {', '.join(DESIGNS)} or empty")
        # The file's own word, then a queue's id (never an estimate), then what the user declared.
        design = text or ("queue" if sample_id.startswith(QUEUE_PREFIX) else self.declared)
        if not design:
            if pi is not None:
                design = "stratified"
            elif not self.has_pi_column:
                raise LabelsError(f"{self.path}, line 1: no inclusion_probability column. Corrected rates weight each "
                                  f"label by 1 / its inclusion probability: add the column, or declare `--design srs` "
                                  f"if the labelled checks are a simple random sample of each run's judged checks")
            else:
                raise self.fail(line, "inclusion_probability is empty; give it, or declare `--design srs` for a "
                                      "simple random sample of each run's judged checks")
        if design == "stratified" and pi is None:
            raise self.fail(line, "a stratified sample needs the row's inclusion_probability")
        if design == "srs" and pi is not None:
            raise self.fail(line, f"inclusion_probability {pi!r} given for a simple random sample (design srs, whose "
                                  f"weights are equal); drop the column or use --design stratified")
        return design

    def sample_of(self, line: int, row: dict, design: str) -> str:
        sample_id = _text(row, "sample_id")
        if not sample_id:
            sample_id = f"{QUEUE_PREFIX if design == 'queue' else ''}import-{design}-{self.digest}"
        known = self.known_designs.get(sample_id) or self.new_designs.get(sample_id, (None, 0))[0]
        if known is not None and known != design:
            where = f"line {self.new_designs[sample_id][1]}" if sample_id in self.new_designs else "the store"
            raise self.fail(line, f"sample {sample_id} is {design} here but {known} in {where}")
        if sample_id not in self.known_designs and sample_id not in self.new_designs:
            self.new_designs[sample_id] = (design, line)
        return sample_id

    def stage(self, line: int, row: dict) -> None:
        self.rows += 1
        run_id, prompt_id, requirement = (_text(row, c) for c in ("run_id", "prompt_id", "requirement"))
        if run_id not in self.runs:
            raise self.fail(line, f"run_id {run_id!r} is not in the store {self.store}")
        if self.db.execute("SELECT 1 FROM run_checks WHERE run_id = ? AND prompt_id = ? AND requirement = ?",
                           (run_id, prompt_id, requirement)).fetchone() is None:
            raise self.fail(line, f"run {run_id!r} has no check prompt_id {prompt_id!r}, requirement {requirement!r}")
        try:
            labeller = check_labeller(_text(row, "labeller"))
        except LabelsError as exc:
            raise self.fail(line, str(exc)) from None
        label_text = _text(row, "label")
        if label_text not in ("", "0", "1"):
            raise self.fail(line, f"label {row.get('label')!r}: expected 1 (violation), 0 (no violation) or empty (unsure)")
        label = int(label_text) if label_text else None
        pi = _probability(_text(row, "inclusion_probability"), lambda m: self.fail(line, m))
        declared_sample = _text(row, "sample_id")
        design = self.design_of(line, row, pi, declared_sample)
        sample_id = self.sample_of(line, row, design)
        values = (run_id, prompt_id, requirement, labeller, label, (_text(row, "note", strip=False) if _text(row, "note") else None), sample_id, pi, design, line)
        inserted = self.db.execute("INSERT INTO import_rows VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING", values)
        if inserted.rowcount == 0:
            self.check_duplicate(line, values)

    def check_duplicate(self, line: int, values: tuple) -> None:
        first = self.db.execute(
            "SELECT label, sample_id, inclusion_probability, line FROM import_rows WHERE run_id = ? AND prompt_id = ? "
            "AND requirement = ? AND labeller = ?", values[:4]).fetchone()
        label, sample_id, pi, first_line = first
        if (label, sample_id, pi) != (values[4], values[6], values[7]):
            shown = {None: "empty (unsure)", 0: "0", 1: "1"}
            what = (f"label {shown[label]} there, {shown[values[4]]} here" if label != values[4]
                    else f"sample {sample_id} / inclusion_probability {pi} there, {values[6]} / {values[7]} here")
            raise self.fail(line, f"the same check and labeller as line {first_line} (run {values[0]}, prompt "
                                  f"{values[1]}, requirement {values[2]}, labeller {values[3]!r}) with a different "
                                  f"{what}; keep one of the two rows")


# ---------------------------------------------------------------------------- import: checks and storing

_OVERSHOOT = """
WITH drawn AS (
    SELECT sample_id, run_id, prompt_id, requirement, MAX(inclusion_probability) AS pi FROM (
        SELECT sample_id, run_id, prompt_id, requirement, inclusion_probability FROM import_rows
        WHERE design = 'stratified'
        UNION ALL
        SELECT l.sample_id, l.run_id, l.prompt_id, l.requirement, l.inclusion_probability FROM labels l
        WHERE l.inclusion_probability IS NOT NULL AND l.sample_id IN (SELECT sample_id FROM import_rows
                                                                      WHERE design = 'stratified')
          AND NOT EXISTS (SELECT 1 FROM import_rows t WHERE t.run_id = l.run_id AND t.prompt_id = l.prompt_id
                          AND t.requirement = l.requirement AND t.labeller = l.labeller)
    ) GROUP BY sample_id, run_id, prompt_id, requirement
),
strata AS (
    SELECT run_id, requirement, violation, COUNT(*) AS size FROM verdicts
    WHERE error IS NULL AND run_id IN (SELECT run_id FROM import_rows) GROUP BY run_id, requirement, violation
)
SELECT d.sample_id, d.run_id, d.requirement, v.violation, COUNT(*) AS n, SUM(1.0 / d.pi) AS implied, s.size
FROM drawn d
JOIN verdicts v ON v.run_id = d.run_id AND v.prompt_id = d.prompt_id AND v.requirement = d.requirement
                AND v.error IS NULL
JOIN strata s ON s.run_id = d.run_id AND s.requirement = d.requirement AND s.violation = v.violation
GROUP BY d.sample_id, d.run_id, d.requirement, v.violation
HAVING SUM(1.0 / d.pi) > s.size * (1 + ?) + 1e-9
ORDER BY SUM(1.0 / d.pi) / s.size DESC
"""


def _check_strata(state: _Import) -> None:
    """Each sample's probabilities may not claim more checks in a stratum than it holds."""
    row = state.db.execute(_OVERSHOOT, (OVERSHOOT_TOLERANCE,)).fetchone()
    if row is None:
        return
    sample_id, run_id, requirement, violation, n, implied, size = row
    verdict = "violation" if violation == 1 else "no violation"
    raise LabelsError(f"{state.path}: sample {sample_id}: the inclusion probabilities of its {n} labelled checks in run "
                      f"{run_id}, requirement {requirement}, judge verdict {verdict} add up to {implied:.1f} checks "
                      f"(sum of 1 / inclusion_probability), but that stratum holds {size}; they are not the "
                      f"probabilities this sample was drawn with (strata coarser than run x requirement x judge "
                      f"verdict are not supported)")


def import_labels(store_path: str | os.PathLike[str] | None, file: str | os.PathLike[str], *,
                  design: str | None = None) -> ImportSummary:
    """Read a label CSV and store every row in one transaction; see the module docstring.

    ``design`` declares the design of rows whose file says none (``DESIGNS``); without it a row
    with an inclusion probability is ``stratified`` and a file without probabilities is refused.
    """
    if design is not None and design not in DESIGNS:
        raise LabelsError(f"design {design!r}: expected one of {', '.join(DESIGNS)}")
    path = Path(file)
    if not path.is_file():
        raise LabelsError(f"{path}: no such file")
    store = _resolve(store_path)
    if not store.is_file():
        raise LabelsError(f"{path}: no results store at {store} to import into")
    db = connect(store)
    try:
        state = _Import(path, store, db, design, _file_digest(path), sample_designs(db),
                        {r for (r,) in db.execute("SELECT run_id FROM runs")})
        db.execute(_STAGE)
        db.execute("BEGIN IMMEDIATE")
        try:
            with path.open("rb") as handle:
                for number, (line, row) in enumerate(_records(path, handle)):
                    if number == 0:
                        state.has_pi_column = "inclusion_probability" in row
                        state.has_design_column = "design" in row
                    state.stage(line, row)
            if state.rows == 0:
                raise LabelsError(f"{path}: the file holds no labels")
            _check_strata(state)
            summary = _store(state)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.execute("DROP TABLE IF EXISTS temp.import_rows")
    finally:
        db.close()
    return summary


def _store(state: _Import) -> ImportSummary:
    db, now = state.db, time.time()
    db.executemany("INSERT OR IGNORE INTO label_designs VALUES (?,?,?,?)",
                   [(sample_id, design, state.path.name, now) for sample_id, (design, _) in state.new_designs.items()])
    db.execute(
        "INSERT INTO labels (run_id, prompt_id, requirement, labeller, label, skipped, note, created_at, sample_id, "
        "inclusion_probability) SELECT run_id, prompt_id, requirement, labeller, label, 0, note, ?, sample_id, "
        "inclusion_probability FROM import_rows WHERE true "
        "ON CONFLICT(run_id, prompt_id, requirement, labeller) DO UPDATE SET label = excluded.label, skipped = 0, "
        "note = excluded.note, created_at = excluded.created_at, sample_id = excluded.sample_id, "
        "inclusion_probability = excluded.inclusion_probability", (now,))
    designs = dict(db.execute("SELECT design, COUNT(*) FROM import_rows GROUP BY design").fetchall())
    samples = tuple(s for (s,) in db.execute("SELECT DISTINCT sample_id FROM import_rows ORDER BY sample_id"))
    return ImportSummary(file=str(state.path), rows=state.rows, distinct=sum(designs.values()), designs=designs,
                         samples=samples)
