"""How numbers read in tables: one place for the dashboard, its CSV downloads and the report.

Displayed tables read like a paper's: rates in % with one decimal, intervals as ``[a, b]``,
p-values as ``< 0.001`` or three significant digits, readable column and term names. CSV
downloads keep the analysis columns and full precision (for further work) and gain a
``simulated`` column, so a file cut loose from the page still says what it is.
"""

from __future__ import annotations

import math

import pandas as pd

from .benchmark.design_code import REQUIREMENT_KEYS, requirement
from .outputs import csv_safe

NOISE_FRACTIONS = ("response_flip_rate", "judge_flip_rate", "share_prompt", "share_response", "share_judge")
"""The noise decomposition's fractions (``analysis.noise``), shown as percentages with their intervals."""
NOISE_SDS = ("sd_prompt", "sd_response")
RATE_COLUMNS = ("rate", "rate_real", "rate_modified", "published_rate", "rate_authors_convention", "rate_flagged_apart",
                *NOISE_FRACTIONS)
"""Fractions shown as percentages."""
DIFF_COLUMNS = ("diff", "diff_adj")
"""Differences of fractions, shown in signed percentage points."""
P_COLUMNS = ("p_value", "p_holm", "p_adj", "p_holm_adj")
INTERVALS = {
    # estimate column: (low column, high column, how the bounds are shown)
    "rate": ("ci_low", "ci_high", "pct"),
    "rate_real": ("real_ci_low", "real_ci_high", "pct"),
    "rate_modified": ("modified_ci_low", "modified_ci_high", "pct"),
    "rate_authors_convention": ("ci_low_authors_convention", "ci_high_authors_convention", "pct"),
    "diff": ("diff_ci_low", "diff_ci_high", "pts"),
    "diff_adj": ("diff_adj_ci_low", "diff_adj_ci_high", "pts"),
    "odds_ratio": ("or_ci_low", "or_ci_high", "num"),
    "sd": ("sd_ci_low", "sd_ci_high", "num"),
    **{name: (f"{name}_ci_low", f"{name}_ci_high", "pct") for name in NOISE_FRACTIONS},
    **{name: (f"{name}_ci_low", f"{name}_ci_high", "num") for name in NOISE_SDS},
}
"""Interval columns folded into one ``[a, b]`` cell beside their estimate."""
HIDDEN = ("estimate", "std_error", "ci_low", "ci_high", "z", "diff_se", "diff_adj_se", "variance", "comparability_notes",
          "same_family_judge")
"""Columns left out of displayed tables when an easier-read equivalent is shown (the CSV keeps them;
a leaderboard's notes and same-family cautions are sentences beside the table and in the hover)."""
COLUMN_NAMES = {
    "model": "Model", "requirement": "Requirement", "source": "Source", "rate": "Violation rate",
    "ci_low_ci_high": "95% CI", "n_checks": "Checks", "n_violations": "Violations", "n_prompts": "Prompts",
    "n_errors": "Judge errors", "published_model": "Published as", "published_rate": "Published rate",
    "rate_real": "Real", "rate_modified": "Modified", "n_checks_real": "Checks (real)",
    "n_checks_modified": "Checks (modified)", "diff": "Modified − real", "p_value": "p", "p_holm": "Holm p",
    "diff_adj": "Adjusted Δ", "p_adj": "p (adjusted)", "p_holm_adj": "Holm p (adjusted)",
    "n_requirements_adj": "Requirements (adjusted)", "n_pending": "Not judged yet",
    "rate_authors_convention": "Rate, authors' convention", "n_flagged": "Flagged verdicts",
    "rate_flagged_apart": "Rate, flagged set apart", "same_family_judge": "Same-family judge",
    "comparability_notes": "Noted (comparable)",
    "model_group": "Model group", "n_models": "Models", "term": "Term", "odds_ratio": "Odds ratio",
    "name": "Random effect", "sd": "SD (log-odds)", "run_id": "Run", "judge_model": "Judge",
    "checks": "Checks", "judge_errors": "Judge errors", "rubric_version": "Rubric version",
    "protocol": "Protocol", "endpoint": "Endpoint host", "judge_endpoint": "Judge host",
    "package_version": "Version", "smoke_test": "Smoke test", "finished": "Finished",
    "response_flip_rate": "Response flip rate", "judge_flip_rate": "Judge flip rate", "share_prompt": "Prompt share",
    "share_response": "Response share", "share_judge": "Judge share", "sd_prompt": "Prompt SD (log-odds)",
    "sd_response": "Response SD (log-odds)", "se_rate": "SE of the rate", "se_rate_benchmark": "SE, whole benchmark",
    "judge_repeats": "Judge repeats", "n_verdicts": "Verdicts", "reducer": "Reducer",
}
"""Readable names for analysis columns (others are shown as they are)."""
RANDOM_EFFECTS = {"prompt_id": "Prompt (random intercept)", "model": "Model (random intercept)"}


def fmt_pct(value: float) -> str:
    """``12.3%`` from a fraction; ``–`` when missing."""
    return "–" if _missing(value) else f"{value * 100:.1f}%"


def fmt_pts(value: float) -> str:
    """``+8.1 pts`` from a difference of fractions."""
    return "–" if _missing(value) else f"{value * 100:+.1f} pts"


def fmt_p(value: float) -> str:
    """``< 0.001``, else three significant digits (``0.0123``, ``1.00``)."""
    if _missing(value):
        return "–"
    if value < 0.001:
        return "< 0.001"
    return f"{value:#.3g}"


def fmt_interval(low: float, high: float, kind: str = "pct") -> str:
    """``[10.1, 14.2]`` (percent or points from fractions, or plain numbers)."""
    if _missing(low) or _missing(high):
        return "–"
    if kind == "pct":
        return f"[{low * 100:.1f}, {high * 100:.1f}]"
    if kind == "pts":
        return f"[{low * 100:+.1f}, {high * 100:+.1f}]"
    return f"[{_num(low)}, {_num(high)}]"


def _num(value: float) -> str:
    # A boundary variance's Wald upper end is inf (see analysis.rates.log_scale_interval).
    return "∞" if value == math.inf else f"{value:.2f}"


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def plural(n: int, noun: str) -> str:
    """A count with its noun: "1 model", "22 models"."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def column_name(column: str) -> str:
    """A readable header for an analysis column."""
    if column in COLUMN_NAMES:
        return COLUMN_NAMES[column]
    if column in REQUIREMENT_KEYS:
        return requirement(column).label
    return column.replace("_", " ").capitalize()


def term_label(term: str) -> str:
    """Readable label for a patsy term name such as ``requirement[T.2C_deference]``."""
    if term == "source[T.modified]":
        return "Modified vs real prompt"
    if "[T." in term and term.endswith("]"):
        factor, level = term[:-1].split("[T.", 1)
        factor = factor.removeprefix("C(").split(",")[0].rstrip(")")
        if factor == "requirement":
            return f"Requirement: {requirement(level).label if level in REQUIREMENT_KEYS else level}"
        if ":" in factor:
            return term
        return f"{factor.capitalize()}: {level}"
    return term


def readable_table(frame: pd.DataFrame, *, simulated: bool = False) -> pd.DataFrame:
    """A display copy of an analysis table (see the module docstring); every cell a string.
    Tables of simulated data end with a ``Simulated`` column."""
    out = pd.DataFrame(index=frame.index)
    folded = {low for low, _, _ in INTERVALS.values()} | {high for _, high, _ in INTERVALS.values()}
    for column in frame.columns:
        values = frame[column]
        if column in folded or (column in HIDDEN and column not in INTERVALS):
            continue
        if column in RATE_COLUMNS:
            shown = values.map(fmt_pct)
        elif column in DIFF_COLUMNS:
            shown = values.map(fmt_pts)
        elif column in P_COLUMNS:
            shown = values.map(fmt_p)
        elif column == "term":
            shown = values.astype(str).map(term_label)
        elif column == "requirement":
            shown = values.astype(str).map(lambda k: requirement(k).label if k in REQUIREMENT_KEYS else k)
        elif column == "name":
            shown = values.astype(str).map(lambda k: RANDOM_EFFECTS.get(k, k))
        elif column in REQUIREMENT_KEYS or column in ("odds_ratio", "sd", *NOISE_SDS):
            shown = values.map(lambda v: "–" if _missing(v) else f"{v:.2f}")
        elif pd.api.types.is_bool_dtype(values):
            shown = values.map(lambda v: "yes" if v else "no")
        elif pd.api.types.is_integer_dtype(values):
            shown = values.map(lambda v: f"{v:,}")
        elif pd.api.types.is_float_dtype(values):
            shown = values.map(lambda v: "–" if _missing(v) else (f"{v:,.0f}" if float(v).is_integer() else f"{v:.3g}"))
        else:
            shown = values.astype(object).where(values.notna(), "–").astype(str)
        out[column_name(column)] = shown
        if column in INTERVALS:
            low, high, kind = INTERVALS[column]
            if low in frame.columns and high in frame.columns:
                out["95% CI" if column in ("rate", "odds_ratio", "sd") else f"{column_name(column)} 95% CI"] = [
                    fmt_interval(lo, hi, kind) for lo, hi in zip(frame[low], frame[high])]
    if simulated:
        out["Simulated"] = "yes"
    return out


def csv_table(frame: pd.DataFrame, *, simulated: bool) -> pd.DataFrame:
    """The analysis table for a CSV download: every column, plus ``simulated``; text cells a
    spreadsheet would run as formulas (a model name, a response) are neutralised (``outputs.csv_safe``)."""
    return csv_safe(frame.assign(simulated=simulated))
