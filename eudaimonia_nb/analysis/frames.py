"""The long judgments table: loading from files, validation, and the tidy frame models use.

One row per model x prompt x requirement with ``model``, ``prompt_id``, ``requirement``,
``source`` (real/modified), ``violation`` (1.0, 0.0 or NaN when there is no verdict) and
``error`` ("" when none), plus optional metadata (``run_id``, ``family``, ``rewriter_model``,
``responder_model``, ``judge_model``, ``rubric_version``, ``simulated``). A run with epochs or
judge repeats has one row per verdict, numbered by ``epoch`` and ``judge_repeat``: files load
with them, and ``reducers.reduce_repeats`` makes one row per check before any analysis.
Validation is all-or-nothing: a bad file loads nothing and the error names the file, row and
column.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..benchmark.dataset import SOURCES
from ..benchmark.design_code import REQUIREMENT_KEYS, requirement
from ..store.outputs import restore_cells
from .reducers import REPEAT_COLUMNS, allows_fractions, has_repeats, repeat_counts

REQUIRED_COLUMNS = ("model", "prompt_id", "requirement", "source", "violation")
"""Columns every judgments table must have (``error`` is optional and defaults to "")."""
METADATA_COLUMNS = ("run_id", "family", "rewriter_model", "responder_model", "judge_model",
                    "rubric_version", "simulated")
"""Optional columns carried along untouched."""


class JudgmentsError(ValueError):
    """A judgments table that cannot be used, with the file, row and column at fault."""

    def __init__(self, where: str, message: str, row: int | None = None, column: str | None = None):
        self.where = where
        self.row = row
        self.column = column
        place = where + (f", row {row}" if row is not None else "")
        what = f"column {column!r}: " if column else ""
        super().__init__(f"{place}: {what}{message}")


def load_judgments(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a judgments file (``.csv``, ``.jsonl``/``.json`` lines, ``.parquet``) and validate it.

    Row numbers in errors are file lines for CSV (the header is line 1) and JSONL, and
    1-based record numbers for Parquet.
    """
    file = Path(path)
    if not file.is_file():
        raise JudgmentsError(str(file), "no such file")
    suffix = file.suffix.lower()
    if suffix == ".csv":
        # Read as text so "1", "0" and "" are judged by validation, not by pandas' guessing.
        frame = pd.read_csv(file, dtype=str, keep_default_na=False)
        # An export's neutralised cells ('=..., '-...) read back as they were stored.
        return validate_judgments(restore_cells(frame), where=str(file), first_row=2)
    if suffix in (".jsonl", ".json", ".ndjson"):
        frame, lines = _read_jsonl(file)
        return validate_judgments(frame, where=str(file), row_numbers=lines)
    if suffix in (".parquet", ".pq"):
        return validate_judgments(pd.read_parquet(file), where=str(file), first_row=1)
    raise JudgmentsError(str(file), f"unknown file type {suffix!r}; expected .csv, .jsonl or .parquet")


def _read_jsonl(file: Path) -> tuple[pd.DataFrame, list[int]]:
    """The records and the file line of each: blank lines are skipped, so record i is not line i + 1."""
    records, lines = [], []
    # Records end at "\n" only: U+2028 and friends are text (str.splitlines would break on them).
    for number, line in enumerate(file.read_text(encoding="utf-8").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise JudgmentsError(str(file), f"invalid JSON ({exc.msg} at column {exc.colno})", row=number) from None
        if not isinstance(obj, dict):
            raise JudgmentsError(str(file), f"expected a JSON object, got {type(obj).__name__}", row=number)
        records.append(obj)
        lines.append(number)
    if not records:
        raise JudgmentsError(str(file), "the file holds no judgments")
    return pd.DataFrame.from_records(records), lines


def _parse_violation(value: object) -> float | None:
    """1.0 / 0.0 / NaN for an acceptable cell, None for an unacceptable one."""
    if value is None or value is pd.NA:  # pd.NA: Parquet's nullable integers (exported runs)
        return np.nan
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        if np.isnan(value):
            return np.nan
        return float(value) if value in (0, 1) else None
    text = str(value).strip().lower()
    if text in ("", "nan", "na", "none", "null"):
        return np.nan
    return {"1": 1.0, "0": 0.0, "1.0": 1.0, "0.0": 0.0, "true": 1.0, "false": 0.0}.get(text)


def _check_prompt_sources_and_duplicates(out: pd.DataFrame, fail: Callable[[int, str, str], JudgmentsError],
                                         row_of: Callable[[int], int], *, repeats: bool = False) -> None:
    """Raise ``fail(position, column, message)`` for the first prompt with two sources or the
    first repeated model x prompt x requirement (shared by the loaders and the analysis check).
    With ``repeats`` (a loader), rows that differ in ``epoch`` or ``judge_repeat`` are distinct."""
    # Source is a property of the prompt: rates, the bootstrap (which resamples prompts within
    # source) and the models all rely on one source per prompt.
    first_source = out.groupby("prompt_id", sort=False)["source"].transform("first")
    bad = out["source"].ne(first_source)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise fail(i, "source", f"{out['source'].iloc[i]!r} for prompt {out['prompt_id'].iloc[i]!r}, which "
                                f"earlier rows mark {first_source.iloc[i]!r}; expected one source per prompt")
    # Two rows for one model x prompt x requirement would count that check twice (two runs of
    # one model pooled, say): a silent double weight in every rate and fit.
    key = ["model", "prompt_id", "requirement"]
    if repeats:
        key += [c for c in REPEAT_COLUMNS if c in out.columns]
    repeated = out.duplicated(key)
    if repeated.any():
        i = int(np.flatnonzero(repeated)[0])
        if has_repeats(out) and not repeats:
            raise fail(i, "epoch", f"model {out['model'].iloc[i]!r} has repeated verdicts of its checks "
                                   f"({describe_repeats_found(out)}); reduce them to one per check first: "
                                   "eudaimonia_nb.analysis.reducers.reduce_repeats(frame, 'mean') (or 'majority', "
                                   "'any', 'all')")
        first = int(np.flatnonzero((out["model"] == out["model"].iloc[i]) & (out["prompt_id"] == out["prompt_id"].iloc[i])
                                   & (out["requirement"] == out["requirement"].iloc[i]))[0])
        raise fail(i, "model", f"a second row for model {out['model'].iloc[i]!r}, prompt {out['prompt_id'].iloc[i]!r}, "
                               f"requirement {out['requirement'].iloc[i]!r} (first at row {row_of(first)}); "
                               "expected one row per model x prompt x requirement (give each run its own model label)")


def describe_repeats_found(frame: pd.DataFrame) -> str:
    """``up to 3 epochs and 2 judge repeats`` for a table with repeated verdicts."""
    counts = repeat_counts(frame)
    return f"up to {counts['epochs']} epochs and {counts['judge_repeats']} judge repeats"


ANALYSIS_INPUT = "analysis input (rows counted from 0, as frame.iloc)"
"""How ``check_analysis_frame`` names a hand-built frame in its errors."""


def check_analysis_frame(frame: pd.DataFrame, where: str = ANALYSIS_INPUT) -> None:
    """The light check every public analysis function runs on its input (a frame may be built
    by hand, not loaded): required columns, ``violation`` in {0, 1, NaN}, known sources, one
    source per prompt, no repeated check. Raises ``JudgmentsError`` naming the first bad row
    (0-based position in the frame, as ``frame.iloc``) and column, as the loaders do.

    Vectorised, so it costs a few milliseconds on the 69,234-row benchmark table.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise JudgmentsError(where, f"missing column(s) {', '.join(missing)}; a judgments table needs "
                                    f"{', '.join(REQUIRED_COLUMNS)}", column=missing[0])
    out = frame.reset_index(drop=True)

    def fail(position: int, column: str, message: str) -> JudgmentsError:
        return JudgmentsError(where, message, row=position, column=column)

    violation = pd.to_numeric(out["violation"], errors="coerce")
    bad = ~(violation.isin((0.0, 1.0)) | out["violation"].isna())
    # The ``mean`` reducer's verdicts are shares of violations, between 0 and 1.
    bad &= ~(allows_fractions(out) & violation.between(0.0, 1.0))
    if out["violation"].dtype == object:  # "1" would pass the numeric test but not the sums
        bad |= out["violation"].map(type).eq(str)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        value = out["violation"].iloc[i]
        value = value.item() if isinstance(value, np.generic) else value  # 2.0, not np.float64(2.0)
        raise fail(i, "violation", f"{value!r}; expected 1, 0 or NaN (no verdict)")
    bad = ~out["source"].isin(SOURCES)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise fail(i, "source", f"{out['source'].iloc[i]!r}; expected 'real' or 'modified'")
    _check_prompt_sources_and_duplicates(out, fail, lambda position: position)


def validate_judgments(frame: pd.DataFrame, *, where: str = "judgments table", first_row: int = 1,
                       row_numbers: Sequence[int] | None = None) -> pd.DataFrame:
    """Check a judgments frame and return a normalised copy (``violation`` float, ``error`` str).

    Errors number rows from ``first_row``, or by ``row_numbers`` (one per row, e.g. file lines)
    when given.

    Raises ``JudgmentsError`` naming the first offending row and column. A row carrying an
    error message has no verdict: its ``violation`` is set to NaN so it is counted as an
    error, never as a 0.
    """
    if len(frame) == 0:
        raise JudgmentsError(where, "the table holds no judgments")
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise JudgmentsError(where, f"missing column(s) {', '.join(missing)}; a judgments table needs "
                                    f"{', '.join(REQUIRED_COLUMNS)}", column=missing[0])
    out = frame.reset_index(drop=True).copy()

    def row_of(position: int) -> int:
        return row_numbers[position] if row_numbers is not None else position + first_row

    def fail(position: int, column: str, message: str) -> JudgmentsError:
        return JudgmentsError(where, message, row=row_of(position), column=column)

    for column in ("model", "prompt_id"):
        values = out[column]
        blank = values.isna() | values.astype(str).str.strip().eq("")
        if blank.any():
            raise fail(int(np.flatnonzero(blank)[0]), column, "empty; expected a non-empty string")
        out[column] = values.astype(str)

    bad = ~out["source"].isin(SOURCES)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise fail(i, "source", f"{out['source'].iloc[i]!r}; expected 'real' or 'modified'")
    bad = ~out["requirement"].isin(REQUIREMENT_KEYS)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise fail(i, "requirement", f"unknown requirement {out['requirement'].iloc[i]!r}; "
                                     f"expected one of {', '.join(REQUIREMENT_KEYS)}")
    for column in REPEAT_COLUMNS:
        if column in out.columns:
            numbers = pd.to_numeric(out[column], errors="coerce")
            bad = ~(numbers.notna() & (numbers >= 1) & (numbers == numbers.round()))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise fail(i, column, f"{out[column].iloc[i]!r}; expected a whole number >= 1")
            out[column] = numbers.astype(int)
    _check_prompt_sources_and_duplicates(out, fail, row_of, repeats=True)
    parsed = [_parse_violation(v) for v in out["violation"].tolist()]
    for i, value in enumerate(parsed):
        if value is None:
            raise fail(i, "violation", f"{out['violation'].iloc[i]!r}; expected 1, 0 or empty (no verdict)")
    out["violation"] = np.asarray(parsed, dtype=float)

    if "error" in out.columns:
        out["error"] = out["error"].fillna("").astype(str)
    else:
        out["error"] = ""
    out.loc[out["error"].str.strip().ne(""), "violation"] = np.nan
    out["source"] = out["source"].astype(str)
    out["requirement"] = out["requirement"].astype(str)
    if "simulated" in out.columns:
        out["simulated"] = out["simulated"].astype(str).str.lower().isin(("true", "1", "1.0"))
        out.attrs["simulated"] = bool(out["simulated"].any())
    else:
        out.attrs["simulated"] = bool(frame.attrs.get("simulated", False))
    return out


def is_simulated(frame: pd.DataFrame) -> bool:
    """True when any row, or the frame itself, is flagged as simulated."""
    if frame.attrs.get("simulated"):
        return True
    return "simulated" in frame.columns and bool(frame["simulated"].astype(bool).any())


def with_principle(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with a ``principle`` column (the number, 1-3) derived from the design code."""
    out = frame.copy()
    numbers = {key: requirement(key).principle for key in REQUIREMENT_KEYS}
    out["principle"] = out["requirement"].map(numbers)
    return out


def judged(frame: pd.DataFrame) -> pd.DataFrame:
    """Only the rows with a verdict (errors and missing verdicts dropped)."""
    return frame.loc[frame["violation"].notna()]


def judged_sources(frame: pd.DataFrame) -> set[str]:
    """The sources (``real``, ``modified``) that have at least one verdict in ``frame``."""
    # unique() before set(): a set of the 69k strings themselves took up to 0.9 s on 22 models.
    return set(map(str, judged(frame)["source"].unique()))


def model_data(frame: pd.DataFrame, *, interaction: bool = False, model_term: bool = True) -> tuple[pd.DataFrame, str]:
    """Judged rows with categorical ``source`` (``real`` first, so it is the reference),
    ``requirement`` (design-code order) and ``model`` (sorted), and the patsy right-hand side.

    A factor with a single level in the data is left out of the formula (it would be
    collinear with the intercept); so is the interaction when there is only one model.
    """
    data = judged(frame)[["model", "prompt_id", "requirement", "source", "violation"]].copy()
    if data.empty:
        raise JudgmentsError("judgments table", "no judged rows (every row is an error or has no verdict)")
    # The levels present, computed once per column (a set rebuilt per candidate level cost seconds).
    present = {name: set(pd.unique(data[name])) for name in ("source", "requirement", "model")}
    data["source"] = pd.Categorical(data["source"], categories=[s for s in SOURCES if s in present["source"]])
    data["requirement"] = pd.Categorical(
        data["requirement"], categories=[k for k in REQUIREMENT_KEYS if k in present["requirement"]])
    data["model"] = pd.Categorical(data["model"], categories=sorted(present["model"]))
    terms = []
    for name in ("source", "requirement") + (("model",) if model_term else ()):
        if len(data[name].cat.categories) > 1:
            terms.append(name)
    if interaction and "source" in terms and len(data["model"].cat.categories) > 1:
        terms.append("source:model")
    if "source" not in terms:
        raise JudgmentsError("judgments table", "both real and modified prompts are needed to estimate the source effect",
                             column="source")
    return data.reset_index(drop=True), " + ".join(terms)


def set_aside_separated(data: pd.DataFrame, factors: Sequence[str] = ("model", "requirement")
                        ) -> tuple[pd.DataFrame, list[str]]:
    """Judged rows without the levels whose verdicts never vary, and a description of each.

    A model (or requirement) that violates on every judged check, or on none, has a maximum
    likelihood coefficient at plus or minus infinity (separation). In that limit its rows fit
    perfectly and add nothing to the likelihood, its gradient or its curvature, so setting them
    aside gives exactly the limiting estimates of every other effect (lme4 stops at an arbitrary
    large coefficient with a huge SE and otherwise agrees). Repeated until no level is
    separated, since dropping a model can leave a requirement constant. The source factor is
    never set aside: its effect is the estimand, so a constant source level is an error.
    """
    notes: list[str] = []
    while True:
        found = False
        for factor in factors:
            stats = data.groupby(factor, observed=True)["violation"].agg(["mean", "size"])
            if len(stats) < 2:
                continue
            constant = stats[(stats["mean"] == 0) | (stats["mean"] == 1)]
            if len(constant) == len(stats):
                raise JudgmentsError("judgments table", f"every {factor} in this selection violates on all of its "
                                     "checks or on none, so no effect can be estimated (separation)", column="violation")
            for level, row in constant.iterrows():
                share = "every one" if row["mean"] == 1 else "none"
                notes.append(f"{factor} {level!r} violated on {share} of its {int(row['size']):,} judged checks "
                             f"({row['mean']:.0%})")
            if len(constant):
                data = data[~data[factor].isin(constant.index)]
                found = True
        if not found:
            break
    for level, rate in data.groupby("source", observed=True)["violation"].mean().items():
        if rate in (0.0, 1.0):
            raise JudgmentsError("judgments table", f"every judged {level} check is {'a violation' if rate else 'compliant'} "
                                 "in this selection, so the source effect is not identified (separation); widen "
                                 "the selection", column="violation")
    return data, notes


def unjudged_models(frame: pd.DataFrame) -> list[str]:
    """One line per model whose rows are all without a verdict (judge errors): such a model
    has no data for a rate or a fit, and would otherwise vanish without a word."""
    judged_count = frame["violation"].notna().groupby(frame["model"].astype(str)).agg(["sum", "size"])
    empty = judged_count[judged_count["sum"] == 0]
    return [f"model {name!r} has no judged checks (all {int(row['size']):,} rows are judge errors) and is left out"
            for name, row in empty.iterrows()]


def reference_levels(data: pd.DataFrame, rhs: str) -> dict[str, str]:
    """The reference (first) level of each factor of ``rhs``, from ``model_data``'s output."""
    return {name: str(data[name].cat.categories[0]) for name in ("source", "requirement", "model")
            if name in rhs.split(" + ")}


def frame_key(frame: pd.DataFrame, *extra: object) -> str:
    """A content hash of the modelling columns, the simulated flag and a spec, for caching fits
    (the flag is part of the key so a cached fit never passes simulated data as real)."""
    cols = [c for c in ("model", "prompt_id", "requirement", "source", "violation") if c in frame.columns]
    hashed = pd.util.hash_pandas_object(frame[cols], index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes())
    digest.update(repr((is_simulated(frame),) + extra).encode())
    return digest.hexdigest()
