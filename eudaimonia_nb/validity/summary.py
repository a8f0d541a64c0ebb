"""The Judge validity findings in a few readable lines: one row per run, then the planning
advice as a small table. Shared by the dashboard tab, the report and ``validity --format text``.

Per run: how many labels, the judge's agreement with the person who labelled most (Cohen's κ,
sensitivity, specificity, each with its 95% interval), and the corrected violation rate beside
the judge's own, in %. A number is printed only with an interval it can support: a κ from three
labels reads "too few labels (3)", not "1.00 [1.00, 1.00]", which looks exact.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from ..analysis.ppi import FEW_LABELS
from ..benchmark.design_code import requirement
from ..formatting import fmt_interval, fmt_pct

MIN_LABELS_FOR_INTERVAL = 10
"""Fewer labels (for κ), labelled violations (for sensitivity) or labelled non-violations (for
specificity) than this: no estimate is printed, "too few labels (n)" instead. Below it a
bootstrap interval collapses onto the few values seen and looks exact."""
MIN_PLANNING_LABELS = 10
"""Below this many labels in a cell its variance is too noisy to plan from."""
SUMMARY_COLUMNS = ("Run", "Labels", "Agreement with", "κ (95% CI)", "Sensitivity (95% CI)",
                   "Specificity (95% CI)", "Judge's rate", "Corrected rate (95% CI)", "Note")
"""Columns of the displayed summary; ``Note`` is where a remark about a rate goes (few labels;
``rate_note`` adds others, such as a judge of the same family as the model)."""


def rate_note(run_id: str) -> str:
    """A remark to print beside a run's rates ("" for none). The place for notes other modules
    provide about a rate (e.g. that its judge shares the model's family); none here yet."""
    return ""


def _too_few(n: float, what: str = "labels") -> str:
    return f"too few {what} ({0 if n is None or (isinstance(n, float) and math.isnan(n)) else int(n)})"


def _estimate(value: float, low: float, high: float, n: float, what: str = "labels", *, pct: bool = False) -> str:
    """``0.61 [0.42, 0.78]`` (or in %), or why there is none."""
    if n is None or (isinstance(n, float) and math.isnan(n)) or n < MIN_LABELS_FOR_INTERVAL:
        return _too_few(n, what)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "undefined (one class only)"
    if pct:
        return f"{fmt_pct(value)} {fmt_interval(low, high)}"
    return f"{value:.2f} {fmt_interval(low, high, 'num')}"


def _agreement_rows(agreement: pd.DataFrame) -> pd.DataFrame:
    """The overall judge-human row of each run with the person who labelled most of it."""
    if agreement.empty or "kind" not in agreement.columns:
        return pd.DataFrame()
    rows = agreement[(agreement["kind"] == "judge-human") & (agreement["requirement"] == "all")]
    if rows.empty:
        return rows
    return rows.sort_values("n", ascending=False, kind="stable").drop_duplicates("rater_a").set_index("rater_a")


def summary_frames(result: object, labels: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(numbers, display) of the per-run summary of a ``ValidityResult``: ``numbers`` keeps the
    analysis columns for the CSV, ``display`` is in words (``SUMMARY_COLUMNS``). ``labels``: run
    id -> the run's label (``model · judge · protocol``); default the model name."""
    models: pd.DataFrame = result.models  # type: ignore[attr-defined]
    if models.empty:
        return pd.DataFrame(), pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    if labels is None:  # without run labels, a model judged twice is told apart by its run id
        twice = models["model"].duplicated(keep=False)
        labels = {str(r): (f"{m} · run {r}" if t else str(m)) for r, m, t in zip(models["run_id"], models["model"], twice)}
    agree = _agreement_rows(result.agreement)  # type: ignore[attr-defined]
    numbers, shown = [], []
    for run in models.to_dict("records"):
        run_id = str(run["run_id"])
        a = agree.loc[run_id] if not agree.empty and run_id in agree.index else None
        n_labels = int(run["n_labels"])
        positives = negatives = float("nan")
        if a is not None:
            positives, negatives = float(a["both"] + a["only_b"]), float(a["neither"] + a["only_a"])
        row = {"run_id": run_id, "model": run["model"], "n_labels": n_labels,
               "labeller": str(a["rater_b"]).removeprefix("labeller:") if a is not None else "",
               "kappa": a["kappa"] if a is not None else math.nan,
               "kappa_ci_low": a["kappa_ci_low"] if a is not None else math.nan,
               "kappa_ci_high": a["kappa_ci_high"] if a is not None else math.nan,
               "sensitivity": a.get("sensitivity", math.nan) if a is not None else math.nan,
               "sensitivity_ci_low": a.get("sensitivity_ci_low", math.nan) if a is not None else math.nan,
               "sensitivity_ci_high": a.get("sensitivity_ci_high", math.nan) if a is not None else math.nan,
               "specificity": a.get("specificity", math.nan) if a is not None else math.nan,
               "specificity_ci_low": a.get("specificity_ci_low", math.nan) if a is not None else math.nan,
               "specificity_ci_high": a.get("specificity_ci_high", math.nan) if a is not None else math.nan,
               "labelled_violations": positives, "labelled_non_violations": negatives,
               "raw_rate": run["raw_rate"], "corrected_rate": run["corrected_rate"],
               "ci_low": run["ci_low"], "ci_high": run["ci_high"]}
        numbers.append(row)
        pairs = int(a["n"]) if a is not None else 0
        note = [rate_note(run_id)]
        if n_labels == 0:
            note.append("no labels yet: the judge's rate only")
        elif n_labels < FEW_LABELS:
            note.append(f"under {FEW_LABELS} labels: a rough interval")
        shown.append({
            "Run": (labels or {}).get(run_id, str(run["model"])), "Labels": f"{n_labels:,}",
            "Agreement with": row["labeller"] or "–",
            "κ (95% CI)": _estimate(row["kappa"], row["kappa_ci_low"], row["kappa_ci_high"], pairs) if a is not None
            else "no labels",
            "Sensitivity (95% CI)": _estimate(row["sensitivity"], row["sensitivity_ci_low"], row["sensitivity_ci_high"],
                                              positives, "labelled violations", pct=True) if a is not None else "–",
            "Specificity (95% CI)": _estimate(row["specificity"], row["specificity_ci_low"], row["specificity_ci_high"],
                                              negatives, "labelled non-violations", pct=True) if a is not None else "–",
            "Judge's rate": fmt_pct(row["raw_rate"]),
            "Corrected rate (95% CI)": (_estimate(row["corrected_rate"], row["ci_low"], row["ci_high"], n_labels,
                                                  pct=True) if n_labels else "–"),
            "Note": "; ".join(n for n in note if n),
        })
    return pd.DataFrame(numbers), pd.DataFrame(shown, columns=list(SUMMARY_COLUMNS))


def planning_frames(by_requirement: pd.DataFrame, target: float, labels: Mapping[str, str] | None = None
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(numbers, display) of the planning advice: per requirement (rows) and run (columns), the
    labels so far and about how many more a corrected 95% interval of +/- ``target`` needs."""
    if by_requirement.empty or by_requirement["n_labels"].sum() == 0:
        return pd.DataFrame(), pd.DataFrame()
    cells = by_requirement[by_requirement["n_labels"] > 0]
    numbers = cells[["run_id", "requirement", "n_labels", "more_labels_needed"]].reset_index(drop=True)

    def advice(r: pd.Series) -> str:
        need = r["more_labels_needed"]
        if r["n_labels"] < MIN_PLANNING_LABELS:
            return f"{int(r['n_labels'])} so far: too few to plan from"
        if pd.isna(need):
            return f"{int(r['n_labels'])} so far: labels alone cannot reach ±{100 * target:.0f} points"
        return f"{int(r['n_labels'])} so far: " + ("enough" if need == 0 else f"about {int(need):,} more")

    table = numbers.assign(text=numbers.apply(advice, axis=1),
                           run=numbers["run_id"].map(lambda r: (labels or {}).get(str(r), str(r))))
    display = table.pivot(index="requirement", columns="run", values="text").fillna("no labels")
    display.index = [requirement(k).label for k in display.index]
    display = display.rename_axis("Requirement").reset_index()
    display.columns.name = None
    return numbers, display


def summary_text(result: object, labels: Mapping[str, str] | None = None) -> str:
    """The plain-text summary ``eudaimonia-nb validity`` prints: one block per run, the
    planning advice, then the notes."""
    _, shown = summary_frames(result, labels)
    lines = ["Judge validity: the judge against human labels (95% intervals: prompt bootstrap; corrected "
             "rates: PPI++)"]
    if shown.empty:
        lines.append("  no runs")
    for row in shown.to_dict("records"):
        lines.append(f"  {row['Run']}")
        lines.append(f"    labels {row['Labels']}" + (f" (agreement with {row['Agreement with']})"
                                                     if row["Agreement with"] != "–" else ""))
        lines.append(f"    kappa {row['κ (95% CI)']}; sensitivity {row['Sensitivity (95% CI)']}; "
                     f"specificity {row['Specificity (95% CI)']}")
        judge_rate = row["Judge's rate"]
        lines.append(f"    violation rate: judge {judge_rate}, "
                     f"corrected {row['Corrected rate (95% CI)']}" + (f"  [{row['Note']}]" if row["Note"] else ""))
    _, plan = planning_frames(result.by_requirement, result.target_half_width, labels)  # type: ignore[attr-defined]
    if not plan.empty:
        lines.append(f"Labels needed for a corrected 95% interval of ±{100 * result.target_half_width:.0f} points "  # type: ignore[attr-defined]
                     "per requirement:")
        for row in plan.to_dict("records"):
            cells = "; ".join(f"{run}: {text}" for run, text in row.items() if run != "Requirement")
            lines.append(f"  {row['Requirement']}: {cells}")
    designs = getattr(result, "designs", None)
    if designs is not None and not designs.empty:
        # Which samples the labels came from and how they were drawn (issue 24's label designs).
        lines.append("Label samples (design; labels; used in the estimates)")
        for r in designs.to_dict("records"):
            lines.append(f"  {r['sample_id']} [{r['run_id']}]: {r['design']}; {r['n_labels']} labels; "
                         f"{'used' if r['used'] else 'not used'}")
    lines += [f"Note: {n}" for n in result.notes]  # type: ignore[attr-defined]
    return "\n".join(lines)
