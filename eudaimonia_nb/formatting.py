"""How numbers read in tables: one place for the dashboard, its CSV downloads and the report.

Displayed tables read like a paper's: rates in % with one decimal, intervals as ``[a, b]``,
p-values as ``< 0.001`` or three significant digits, readable column and term names. CSV
downloads keep the analysis columns and full precision (for further work) and gain a
``simulated`` column, so a file cut loose from the page still says what it is.
"""

from __future__ import annotations

import html
import math
import re

import pandas as pd

from .benchmark.design_code import REQUIREMENT_KEYS, requirement

NOISE_FRACTIONS = ("response_flip_rate", "judge_flip_rate", "share_prompt", "share_response", "share_judge")
"""The noise decomposition's fractions (``analysis.noise``), shown as percentages with their intervals."""
NOISE_SDS = ("sd_prompt", "sd_response")
RATE_COLUMNS = ("rate", "rate_real", "rate_modified", "published_rate", "rate_authors_convention", "rate_flagged_apart",
                "rate_judge_a", "rate_judge_b", "agreement_share", "rate_condition_a", "rate_condition_b",
                *NOISE_FRACTIONS)
"""Fractions shown as percentages."""
DIFF_COLUMNS = ("diff", "diff_adj", "diff_judge_b_a", "diff_condition")
"""Differences of fractions, shown in signed percentage points."""
P_COLUMNS = ("p_value", "p_holm", "p_adj", "p_holm_adj", "p_mcnemar", "p_clustered")
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
    "diff_judge_b_a": ("diff_judge_b_a_ci_low", "diff_judge_b_a_ci_high", "pts"),
    "agreement_share": ("agreement_share_ci_low", "agreement_share_ci_high", "pct"),
    "kappa": ("kappa_ci_low", "kappa_ci_high", "num"),
    "diff_condition": ("diff_condition_ci_low", "diff_condition_ci_high", "pts"),
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
    "n_checks_modified": "Checks (modified)", "diff": "Raw Δ (modified − real)", "p_value": "p", "p_holm": "Holm p",
    "diff_adj": "Adjusted Δ (modified − real)", "p_adj": "p (adjusted)", "p_holm_adj": "Holm p (adjusted)",
    "n_requirements_adj": "Requirements (adjusted)", "n_pending": "Not judged yet",
    "rate_authors_convention": "Rate, authors' convention", "n_flagged": "Flagged verdicts",
    "rate_flagged_apart": "Rate, flagged set apart", "same_family_judge": "Same-family judge",
    "comparability_notes": "Noted (comparable)",
    "model_group": "Model group", "n_models": "Models", "term": "Term", "odds_ratio": "Odds ratio",
    "name": "Random effect", "sd": "SD (log-odds)", "run_id": "Run", "judge_model": "Judge",
    "checks": "Checks", "judge_errors": "Judge errors", "rubric_version": "Rubric version",
    "protocol": "Protocol", "endpoint": "Endpoint host", "judge_endpoint": "Judge host",
    "package_version": "Version", "smoke_test": "Smoke test", "finished": "Finished",
    "rate_judge_a": "Rate, judge A", "rate_judge_b": "Rate, judge B", "diff_judge_b_a": "Judge B − judge A (points)",
    "both": "Both violation", "only_a": "Only judge A", "only_b": "Only judge B", "neither": "Neither",
    "n_pairs": "Paired checks", "n_unpaired": "Unpaired", "agreement_share": "Agreement", "kappa": "κ",
    "p_mcnemar": "McNemar p", "p_clustered": "Clustered p", "rejudge_of": "Rejudge of",
    "condition_a": "Condition A", "condition_b": "Condition B", "rate_condition_a": "Rate under A",
    "rate_condition_b": "Rate under B", "diff_condition": "B − A (points)", "n_labels": "Labels",
    "coverage": "Coverage", "published_scope": "Published scope",
    "not_comparable_because": "Not comparable because", "note": "Note",
    "response_flip_rate": "Response flip rate", "judge_flip_rate": "Judge flip rate", "share_prompt": "Prompt share",
    "share_response": "Response share", "share_judge": "Judge share", "sd_prompt": "Prompt SD (log-odds)",
    "sd_response": "Response SD (log-odds)", "se_rate": "SE of the rate", "se_rate_benchmark": "SE, whole benchmark",
    "judge_repeats": "Judge repeats", "n_verdicts": "Verdicts", "reducer": "Reducer",
}
"""Readable names for analysis columns (others are shown as they are)."""
METHOD_COLUMNS = {"ci_method": "95% intervals", "sd_ci_method": "SD interval"}
"""Columns that name how a number was made: said once in a table's caption when every row says
the same (a 20-word method on every row reads as noise)."""
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


def interval_columns(estimates: tuple[str, ...] | list[str]) -> set[str]:
    """The low and high columns of the given estimates' intervals (``INTERVALS``)."""
    return {c for e in estimates if e in INTERVALS for c in INTERVALS[e][:2]}


def split_methods(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """``frame`` without its method columns that hold one value, and those values as sentences
    (``95% intervals: Wilson ...``) for the caption; a method that varies stays a column."""
    said = []
    for column, name in METHOD_COLUMNS.items():
        if column in frame.columns:
            values = frame[column].dropna().astype(str).unique()
            if len(values) <= 1:
                if len(values):
                    said.append(f"{name}: {values[0].rstrip('.')}.")
                frame = frame.drop(columns=column)
    return frame, said


def _header_stem(column: str) -> str:
    """The name of an estimate without its unit, for the header of its interval column."""
    return column_name(column).removesuffix(" (points)").removesuffix(" (modified − real)")


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
        elif column in REQUIREMENT_KEYS or column in ("odds_ratio", "sd", "kappa", *NOISE_SDS):
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
                out["95% CI" if column in ("rate", "odds_ratio", "sd") else f"{_header_stem(column)} 95% CI"] = [
                    fmt_interval(lo, hi, kind) for lo, hi in zip(frame[low], frame[high])]
    if simulated:
        out["Simulated"] = "yes"
    return out


_NUMERIC_CELL = re.compile(r"[-+−–\d.,%\s\[\]<>∞]*\d[-+−–\d.,%\s\[\]∞]*( pts|%)?|–|yes|no")
"""A cell that is a number, a rate, an interval or a yes/no: kept on one line, right-aligned."""


def table_html(shown: pd.DataFrame, *, caption: str = "", classes: str = "eud-table") -> str:
    """A display table (``readable_table`` output, every cell a string) as HTML: numbers,
    rates and intervals on one line each (``eud-num``: an interval never wraps), text cells
    left-aligned and wrapping; ``caption`` (HTML) under the table says how it was made."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    rows = []
    for values in shown.astype(str).itertuples(index=False):
        cells = []
        for value in values:
            kind = "eud-num" if _NUMERIC_CELL.fullmatch(value.strip()) and len(value) <= 32 else "eud-txt"
            cells.append(f"<td class='{kind}'>{html.escape(value)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    note = f"<caption class='eud-caption'>{caption}</caption>" if caption else ""
    return f"<table class='{classes}'>{note}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
