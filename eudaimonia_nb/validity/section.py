"""The *Judge validity* dashboard tab and report section, as plain parts (figures, tables as
(name, title, frame), notes) that ``report.builders`` wraps in its ``Section``; this module does not
import the report, so there is no import cycle.

With a results store behind the data: a readable summary per run first (``validity.summary``),
raw versus corrected rates per run (forest plot), the planning advice as a small table, then
folded: agreement, flips, panel alpha, the disagreement list, the labels behind each, and what
was assumed. Without one (the demo, a results file) there are no labels: the tab says how to get
them and shows the raw rates.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..analysis.ppi import FEW_LABELS
from ..analysis.stratified import corrected_rates
from ..benchmark.design_code import requirement
from ..formatting import table_html
from .summary import MIN_LABELS_FOR_INTERVAL, planning_frames, summary_frames

Parts = tuple[dict[str, go.Figure], list[tuple], list[str]]
"""Figures; tables as ``(name, title, frame)`` or ``(name, title, frame, display)`` (``display``: a
copy already in words); notes. ``SHOWN_TABLES`` are laid out first, every other table folded."""
MAX_DISAGREEMENTS = 300
"""Rows of the disagreement list shown (the CSV download has the same rows)."""
SHOWN_TABLES = ("validity_planning",)
"""Tables the page shows unfolded (after the figure); the summary itself leads the section."""
NO_LABELS_HOWTO = (
    "<div class='eud-howto'><b>No human labels yet: here is how to check the judge.</b><ol>"
    "<li>Judge a model into a results store (<code>eudaimonia-nb run ...</code>, or notebook 2).</li>"
    "<li>Open <code>notebooks/04_validate_judge.ipynb</code>, choose the run, type your name and label a sample "
    "(one key press per item, blind to the judge), or import a label file with <code>eudaimonia-nb labels "
    "import FILE</code>.</li>"
    "<li>Load that store here (<i>Data</i>: <i>Runs in a results store</i>): this tab then shows agreement "
    "(κ, sensitivity, specificity) and violation rates corrected by your labels, with 95% intervals.</li></ol>"
    "Shown meanwhile: the judge's raw rates with prompt-clustered 95% intervals.</div>")
"""The lead of the tab for data without labels (the demo, a results file)."""


def _raw_only(frame: pd.DataFrame) -> pd.DataFrame:
    judged = frame[frame["violation"].notna()]
    work = judged.assign(judge=judged["violation"].astype(float), human=np.nan, weight=np.nan,
                         run_id=judged["run_id"] if "run_id" in judged.columns else "-")
    out = corrected_rates(work, ["run_id", "model"])
    return out.rename(columns={"rate": "corrected_rate"})


def run_labels(frame: pd.DataFrame) -> dict[str, str]:
    """Run id -> the run's label as every tab shows it (``model · judge · protocol``)."""
    if "run_id" not in frame.columns:
        return {}
    pairs = frame[["run_id", "model"]].drop_duplicates()
    single = pairs.groupby("run_id")["model"].transform("size") == 1  # a simulated run holds many models
    pairs = pairs[single]
    return dict(zip(pairs["run_id"].astype(str), pairs["model"].astype(str)))


def validity_lead(frame: pd.DataFrame, store_path: str | Path | None, result: object | None) -> list[str]:
    """The section's opening: the per-run summary table, or how to get labels."""
    if result is None:
        return [NO_LABELS_HOWTO]
    _, shown = summary_frames(result, run_labels(frame))
    if shown.empty:
        return [NO_LABELS_HOWTO]
    intro = ("<b>Summary.</b> Per run: the labels given, the judge's agreement with the person who labelled most "
             "(κ; sensitivity and specificity with the person as reference), and the violation rate corrected by "
             "the labels beside the judge's own. An estimate needs at least "
             f"{MIN_LABELS_FOR_INTERVAL} labels behind it; details and every other pair are folded below.")
    lead = [intro, table_html(shown)]
    if int(result.models["n_labels"].sum()) == 0:  # type: ignore[attr-defined]
        lead.append(NO_LABELS_HOWTO)
    return lead


def unsure_line(unsure: pd.DataFrame) -> str:
    """One sentence: how many labelled checks were only called unsure, and where most."""
    if unsure.empty:
        return ""
    total, labelled = int(unsure["unsure"].sum()), int(unsure["labelled"].sum())
    if total == 0:
        return f"<b>Unsure.</b> None of the {labelled} labelled checks was only called unsure."
    worst = unsure.sort_values("unsure_share", ascending=False, kind="stable").iloc[0]
    return (f"<b>Unsure.</b> {total} of {labelled} labelled checks were only called unsure; the largest share is "
            f"{worst['unsure_share']:.0%} ({html.escape(requirement(worst['requirement']).label)}, judge said "
            f"{html.escape(str(worst['judge_verdict']))}, run {html.escape(str(worst['run_id']))}). They are treated "
            "as missing at random within their stratum: if people are unsure mostly where the judge errs, the "
            "corrected rate leans the judge's way there.")


def validity_parts(frame: pd.DataFrame, store_path: str | Path | None, *, n_boot: int = 1000, seed: int = 0) -> Parts:
    """Figures, tables and notes of the section for the selected judgments (see ``validity_result``
    for the result behind them, which ``validity_lead`` summarises)."""
    return validity_sections(frame, store_path, n_boot=n_boot, seed=seed)[:3]


def validity_sections(frame: pd.DataFrame, store_path: str | Path | None, *, n_boot: int = 1000, seed: int = 0
                      ) -> tuple[dict[str, go.Figure], list[tuple], list[str], list[str]]:
    """Figures, tables, notes and the lead of the section."""
    from ..plots.validity import validity_forest
    from .measures import ASSUMPTIONS, compute_validity

    if store_path is None or "run_id" not in frame.columns:
        models = _raw_only(frame)
        notes = ["No human labels here: corrected rates need a results store with labels (see above)."]
        return ({"validity_forest": validity_forest(models, run_labels(frame))},
                [("validity_rates", "Raw judge rates", models)], notes,
                validity_lead(frame, store_path, None))
    result = compute_validity(store_path, sorted(frame["run_id"].astype(str).unique()),
                              requirements=sorted(frame["requirement"].astype(str).unique()), n_boot=n_boot, seed=seed)
    by_req, agreement = result.by_requirement, result.agreement
    labels = run_labels(frame)
    notes = [html.escape(n) for n in result.notes]
    notes.append(
        "<b>Agreement.</b> Judge vs person: Cohen's kappa, sensitivity and specificity with the person as reference, "
        "weighted by the labelling sample's inverse inclusion probabilities (so they describe all judged checks, not "
        "the over-sampled strata); person vs person and judge vs judge (runs over identical response text, e.g. a "
        "rejudge): kappa, and Krippendorff's alpha across a panel. Intervals: percentile bootstrap over prompts.")
    unsure = unsure_line(result.unsure)
    if unsure:
        notes.append(unsure)
    notes.append(f"<b>Assumptions.</b> {html.escape(ASSUMPTIONS)} Cells with fewer than {FEW_LABELS} labels are "
                 "flagged in <code>few_labels</code>.")
    numbers, _ = summary_frames(result, labels)
    plan_numbers, plan = planning_frames(by_req, result.target_half_width, labels)
    tables = [("validity_planning", f"Planning: labels needed per requirement for a corrected 95% interval of "
               f"±{100 * result.target_half_width:.0f} points (analytic variance of the stratified estimator at smoothed "
               "stratum rates, labels spread like the current ones)", plan_numbers, plan),
              ("validity_summary", "Summary per run (the table at the top, as numbers)", numbers),
              ("validity_rates", "Raw and corrected violation rates per run", result.models),
              ("validity_by_requirement", "Corrected rates per requirement, with labels still needed", by_req),
              ("validity_by_source", "Corrected rates, real vs modified prompts", result.by_source),
              ("validity_unsure", "Unsure share per labelling stratum (unsure checks are assumed missing at random "
               "within their stratum)", result.unsure),
              ("agreement", "Agreement (kappa; sensitivity and specificity against a person)", agreement),
              ("agreement_alpha", "Krippendorff's alpha per panel", result.alpha),
              ("flips", "Flip table: verdicts a person turned", result.flips),
              ("judge_panel", "Judge panel over identical responses: each judge, votes and majority verdict",
               result.panel.head(MAX_DISAGREEMENTS)),
              ("disagreements", "Disagreement list (label it from notebook 4: 'Label the disagreement list')",
               result.disagreements.head(MAX_DISAGREEMENTS)),
              ("label_designs", "Label samples and their designs (stratified, srs, queue)", result.designs)]
    return ({"validity_forest": validity_forest(result.models, labels)}, [t for t in tables if not t[2].empty], notes,
            validity_lead(frame, store_path, result))
