"""The *Judge validity* dashboard tab and report section, as plain parts (figures, tables as
(name, title, frame), notes) that ``report.builders`` wraps in its ``Section``; this module does not
import the report, so there is no import cycle.

With a results store behind the data: agreement, flips, panel alpha, the disagreement list,
raw versus corrected rates per model (forest plot), the labels behind each, planning, and what
was assumed. Without one (the demo, a results file) there are no labels: the raw rates are shown
with the way to add labels.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..analysis.ppi import FEW_LABELS, corrected_rates
from ..benchmark.design_code import requirement

Parts = tuple[dict[str, go.Figure], list[tuple[str, str, pd.DataFrame]], list[str]]
MIN_PLANNING_LABELS = 10
"""Below this many labels in a cell its variance is too noisy to plan from."""
MAX_DISAGREEMENTS = 300
"""Rows of the disagreement list shown (the CSV download has the same rows)."""


def _raw_only(frame: pd.DataFrame) -> pd.DataFrame:
    judged = frame[frame["violation"].notna()]
    work = judged.assign(judge=judged["violation"].astype(float), human=np.nan, weight=np.nan,
                         run_id=judged["run_id"] if "run_id" in judged.columns else "-")
    out = corrected_rates(work, ["run_id", "model"])
    return out.rename(columns={"rate": "corrected_rate"})


def planning_line(by_requirement: pd.DataFrame, target: float) -> str:
    """One sentence: more labels per requirement to reach +/- ``target`` (95%)."""
    if by_requirement.empty or by_requirement["n_labels"].sum() == 0:
        return ""
    parts, too_few = [], []
    for r in by_requirement[by_requirement["n_labels"] > 0].itertuples(index=False):
        name = f"{html.escape(requirement(r.requirement).label)} [{html.escape(str(r.run_id))}]"
        need = r.more_labels_needed
        if r.n_labels < MIN_PLANNING_LABELS:
            too_few.append(name)
        else:
            parts.append(f"{name}: " + ("not reachable by labels alone (prompt-sampling floor)" if pd.isna(need)
                                        else "met" if need == 0 else f"about {int(need)} more"))
    if too_few:
        parts.append(f"fewer than {MIN_PLANNING_LABELS} labels so far, too few to extrapolate: " + ", ".join(too_few))
    return (f"<b>Planning.</b> Labels needed for a corrected 95% interval of ±{100 * target:.0f} points per "
            "requirement (analytic PPI++ variance, labels spread like the current ones): " + "; ".join(parts) + ".")


def validity_parts(frame: pd.DataFrame, store_path: str | Path | None, *, n_boot: int = 1000, seed: int = 0) -> Parts:
    """Figures, tables and notes of the section for the selected judgments."""
    from ..plots.validity import validity_forest
    from .measures import ASSUMPTIONS, compute_validity

    if store_path is None or "run_id" not in frame.columns:
        models = _raw_only(frame)
        notes = ["<b>No human labels here.</b> Corrected rates need a results store with labels: label a sample in "
                 "<code>notebooks/04_validate_judge.ipynb</code> (or import a label file with <code>eudaimonia-nb "
                 "labels import</code>), then load that store. Shown: the judge's raw rates with prompt-clustered "
                 "95% intervals."]
        return {"validity_forest": validity_forest(models)}, [("validity_rates", "Raw judge rates", models)], notes
    result = compute_validity(store_path, sorted(frame["run_id"].astype(str).unique()),
                              requirements=sorted(frame["requirement"].astype(str).unique()), n_boot=n_boot, seed=seed)
    by_req, agreement = result.by_requirement, result.agreement
    notes = [html.escape(n) for n in result.notes]
    notes.append(
        "<b>Agreement.</b> Judge vs person: Cohen's kappa, sensitivity and specificity with the person as reference, "
        "weighted by the labelling sample's inverse inclusion probabilities (so they describe all judged checks, not "
        "the over-sampled strata); person vs person and judge vs judge (runs over identical response text, e.g. a "
        "rejudge): kappa, and Krippendorff's alpha across a panel. Intervals: percentile bootstrap over prompts.")
    planning = planning_line(by_req, result.target_half_width)
    if planning:
        notes.append(planning)
    notes.append(f"<b>Assumptions.</b> {html.escape(ASSUMPTIONS)} Cells with fewer than {FEW_LABELS} labels are "
                 "flagged in <code>few_labels</code>.")
    tables = [("validity_rates", "Raw and corrected violation rates per run", result.models),
              ("validity_by_requirement", "Corrected rates per requirement, with labels still needed", by_req),
              ("validity_by_source", "Corrected rates, real vs modified prompts", result.by_source),
              ("agreement", "Agreement (kappa; sensitivity and specificity against a person)", agreement),
              ("agreement_alpha", "Krippendorff's alpha per panel", result.alpha),
              ("flips", "Flip table: verdicts a person turned", result.flips),
              ("judge_panel", "Judge panel over identical responses: each judge, votes and majority verdict",
               result.panel.head(MAX_DISAGREEMENTS)),
              ("disagreements", "Disagreement list (label it from notebook 4: 'Label the disagreement list')",
               result.disagreements.head(MAX_DISAGREEMENTS)),
              ("label_designs", "Label samples and their designs (stratified, srs, queue)", result.designs)]
    return {"validity_forest": validity_forest(result.models)}, [t for t in tables if not t[2].empty], notes
