"""The dashboard's *Studies* tab: conditions and their effects, the power planner, and the
paper's attribute analyses. Also usable alone (``StudiesPanel(...).widget``, notebook 05).

The study data follow the dashboard's data source: a results store is read with each run's
condition (``conditions.study_judgments``); a results file is used when it has a ``condition``
column; the embedded demo has no conditions, so the tab shows a simulated two-condition study
(``power.simulate_study``), labelled as simulated.
"""

from __future__ import annotations

import html
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import replace

import ipywidgets as w
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..analysis.attributes import attribute_rates
from ..analysis.conditions import (CONDITION, condition_odds_ratios, condition_rates, fit_condition_model,
                                   paired_effects)
from ..analysis.frames import is_simulated
from ..analysis.power import HumanLabels, StudyPlan, minimum_detectable_effect, plan_with_noise, simulate_study
from ..analysis.reducers import reduce_repeats
from ..formatting import readable_table
from ..plots.analysis import fit_to_width, sync_figure
from ..plots.studies import (attribute_figures, condition_rates_figure, effects_figure, empty_figure_note,
                             power_curve_figure)
from .figures import plotly_loader, shared_figure
from .layout import busy

log = logging.getLogger(__name__)

TAB_TITLE = "Studies"
DEMO_PLAN = StudyPlan(n_models=3, prompts=300, effect=-0.06, replicates=400)
"""The simulated study the demo shows: three models, 300 prompts, a 6-point reduction."""
DEMO_CONDITIONS = ("baseline", "design-code")
STUDY_ERRORS = (OSError, ValueError, KeyError, sqlite3.Error, np.linalg.LinAlgError)
"""What a selection without a usable study raises; shown as a message, never a traceback."""


def demo_study() -> pd.DataFrame:
    """The simulated two-condition study shown with the demo (seed 0; ``simulated=True``)."""
    return simulate_study(DEMO_PLAN, 0, conditions=DEMO_CONDITIONS)


def study_frame(kind: str, path: str | None, run_ids: tuple[str, ...], frame: pd.DataFrame) -> pd.DataFrame:
    """The study data for a dashboard source (see the module docstring)."""
    if kind == "demo":
        return demo_study()
    if kind == "store":
        from ..judging.conditions import study_judgments

        # Runs with epochs or judge repeats count each check once, as the mean of its verdicts.
        return reduce_repeats(study_judgments(path, list(run_ids) or None))
    if CONDITION not in frame.columns:
        raise KeyError(f"the results file has no {CONDITION!r} column, so it holds no study")
    return frame


def _table_html(frame: pd.DataFrame, title: str, *, simulated: bool = False) -> str:
    """A table that reads like a paper's (``formatting.readable_table``): named columns, rates in
    %, differences in points, intervals folded into one cell that does not wrap."""
    body = readable_table(frame, simulated=simulated).to_html(index=False, border=0, classes="eud-table")
    return f"<b>{html.escape(title)}</b><div class='eud-tablebox'>{body}</div>"


EFFECT_COLUMNS = {"rate_a": "rate_condition_a", "rate_b": "rate_condition_b", "diff": "diff_condition",
                  "ci_low": "diff_condition_ci_low", "ci_high": "diff_condition_ci_high"}
"""``paired_effects`` columns under the names ``formatting`` reads as a condition effect."""


def _effect_columns(effects: pd.DataFrame) -> pd.DataFrame:
    return effects.drop(columns=[c for c in ("se",) if c in effects.columns]).rename(columns=EFFECT_COLUMNS)


class StudiesPanel:
    """Conditions, effects, planner and attribute figures; display ``.widget``."""

    def __init__(self, load: Callable[[], pd.DataFrame], *, runs_frame: Callable[[], pd.DataFrame] | None = None,
                 n_boot: int = 1000, width: Callable[[], int | None] | None = None) -> None:
        self._load = load
        self._width = width  # the page's width for figures (a phone's, say); None: plotly's own
        self._runs_frame = runs_frame
        self.n_boot = n_boot
        self.frame: pd.DataFrame | None = None
        self.effects: pd.DataFrame | None = None
        self.figures: dict[str, go.FigureWidget] = {}
        self.banner = w.HTML("")
        self.status = w.HTML("")
        self.refresh_button = w.Button(description="Refresh study")
        self.refresh_button.on_click(lambda _: self.compute())
        self.effects_box = w.VBox([])
        self.tables = w.HTML("")
        self._build_planner()
        self.attributes_box = w.VBox([])
        self.attributes_note = w.HTML("")
        self.widget = w.VBox([
            plotly_loader(),
            w.HTML("<h3>Conditions and their effects</h3>"), w.HBox([self.refresh_button, self.status]), self.banner,
            self.effects_box, self.tables,
            w.HTML("<h3>Plan a study (power by simulation)</h3>"), self.planner,
            w.HTML("<h3>The paper's attribute analyses</h3>"), self.attributes_box, self.attributes_note,
        ])

    # -- conditions and effects --------------------------------------------------------
    def compute(self) -> bool:
        """(Re)load the study and redraw effects and attribute figures; False on a message."""
        self.status.value = busy("Computing the study…")
        try:
            frame = self._load()
            effects = paired_effects(frame, n_boot=self.n_boot)
        except STUDY_ERRORS as exc:
            self.frame = self.effects = None
            self.effects_box.children, self.tables.value = [], ""
            self.status.value = f"<span class='eud-error'>No study to show: {html.escape(str(exc))}</span>"
            self._show_attributes(None)
            return False
        self.frame, self.effects = frame, effects
        simulated = is_simulated(frame)
        self.banner.value = ("<div class='eud-banner'>⚠ SIMULATED study (the demo has no conditions): "
                             "not a finding about any model.</div>" if simulated else "")
        self._show("condition_rates", condition_rates_figure(condition_rates(frame)), self.effects_box)
        self._show("effects", effects_figure(effects), self.effects_box)
        tables = [_table_html(_effect_columns(effects), "Paired effects of condition B against A (95% "
                              "prompt-bootstrap intervals; Holm p across models)", simulated=simulated)]
        try:
            fit = fit_condition_model(frame, interaction=False)
            tables.append(_table_html(condition_odds_ratios(fit),
                                      f"Mixed model: {fit.formula} (odds ratios; converged: "
                                      f"{'yes' if fit.converged else 'no'})", simulated=simulated))
        except STUDY_ERRORS as exc:
            tables.append(f"<p class='eud-note'>Mixed model not fitted: {html.escape(str(exc))}</p>")
        self.tables.value = "".join(tables)
        conditions = sorted(frame[CONDITION].astype(str).unique())
        self.status.value = (f"<span class='eud-status'>{frame['model'].nunique()} model(s), conditions "
                             f"{html.escape(', '.join(conditions))}; {len(effects)} comparison(s).</span>")
        self._show_attributes(None if simulated else self._runs())
        return True

    def _runs(self) -> pd.DataFrame | None:
        return self._runs_frame() if self._runs_frame is not None else None

    def _show(self, name: str, figure: go.Figure, box: w.VBox) -> None:
        fit_to_width(figure, self._width() if self._width else None)
        if name in self.figures:
            sync_figure(self.figures[name], figure)
        else:
            self.figures[name] = shared_figure(figure)
            box.children = [*box.children, self.figures[name]]

    # -- attributes ---------------------------------------------------------------------
    def _show_attributes(self, runs: pd.DataFrame | None) -> None:
        notes = []
        for name, figure in attribute_figures(attribute_rates()).items():
            # A chart with nothing to draw (rates the paper did not publish) is a sentence, not an empty panel.
            note = empty_figure_note(figure)
            if note is None:
                self._show(f"published_{name}", figure, self.attributes_box)
            else:
                notes.append(note)
        self.attributes_note.value = "".join(f"<p class='eud-note'>{html.escape(n)}</p>" for n in notes)
        if runs is not None and not runs.empty and runs["violation"].notna().any():
            try:
                # Runs with epochs or judge repeats count each check once (the mean of its verdicts).
                table = attribute_rates(reduce_repeats(runs), n_boot=min(self.n_boot, 500))
            except STUDY_ERRORS as exc:
                log.info("attribute figures for the runs skipped: %s", exc)
                return
            for name, figure in attribute_figures(table).items():
                if empty_figure_note(figure) is None:
                    figure.update_layout(title_text=f"Your runs: {figure.layout.title.text}")
                    self._show(f"runs_{name}", figure, self.attributes_box)

    # -- planner ------------------------------------------------------------------------
    def _build_planner(self) -> None:
        style = {"description_width": "150px"}
        self.plan_models = w.BoundedIntText(value=1, min=1, max=22, description="models", style=style)
        self.plan_prompts = w.BoundedIntText(value=0, min=0, max=969, description="prompts (0 = all)", style=style)
        self.plan_conditions = w.BoundedIntText(value=2, min=2, max=6, description="conditions", style=style)
        self.plan_scale = w.Dropdown(options=[("rate difference (points)", "rate"), ("odds ratio", "odds_ratio")],
                                     value="rate", description="effect given as", style=style)
        self.plan_effect = w.FloatText(value=-5.0, description="expected effect", style=style)
        self.plan_alpha = w.BoundedFloatText(value=0.05, min=0.001, max=0.5, step=0.01, description="α (Holm)", style=style)
        self.plan_sd = w.Dropdown(options=[("published calibration (1.0)", "published"),
                                           ("fitted to the loaded study", "fitted"),
                                           ("noise of the loaded runs", "noise")],
                                  value="published", description="prompt SD from", style=style)
        # Epochs and judge repeats (analysis.noise): each check's verdict is the mean of its calls.
        self.plan_epochs = w.BoundedIntText(value=1, min=1, max=20, description="epochs", style=style)
        self.plan_judge_repeats = w.BoundedIntText(value=1, min=1, max=20, description="judge calls per response",
                                                   style=style)
        self.plan_response_sd = w.BoundedFloatText(value=0.0, min=0.0, max=10.0, step=0.1,
                                                   description="response SD (log-odds)", style=style)
        self.plan_labels = w.BoundedIntText(value=0, min=0, max=10_000, description="human labels per run (0 = none)",
                                            style=style)
        self.plan_sensitivity = w.BoundedFloatText(value=0.9, min=0.01, max=1.0, step=0.01,
                                                   description="judge sensitivity", style=style)
        self.plan_specificity = w.BoundedFloatText(value=0.9, min=0.01, max=1.0, step=0.01,
                                                   description="judge specificity", style=style)
        self.plan_replicates = w.BoundedIntText(value=400, min=50, max=20_000, description="replicates", style=style)
        self.plan_seed = w.IntText(value=StudyPlan().seed, description="seed", style=style)
        self.plan_button = w.Button(description="Plan", button_style="primary")
        self.plan_button.on_click(lambda _: self.plan())
        self.plan_result = w.HTML("")
        self.plan_box = w.VBox([])
        self.planner = w.VBox([
            w.HBox([w.VBox([self.plan_models, self.plan_prompts, self.plan_conditions, self.plan_scale, self.plan_effect]),
                    w.VBox([self.plan_alpha, self.plan_sd, self.plan_labels, self.plan_sensitivity, self.plan_specificity,
                            self.plan_replicates, self.plan_seed]),
                    w.VBox([self.plan_epochs, self.plan_judge_repeats, self.plan_response_sd])],
                   layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.plan_button, self.plan_result]), self.plan_box,
        ])

    def current_plan(self) -> StudyPlan:
        """The plan the planner's controls describe."""
        scale = self.plan_scale.value
        effect = float(self.plan_effect.value) / (100.0 if scale == "rate" else 1.0)
        labels = HumanLabels(int(self.plan_labels.value), sensitivity=float(self.plan_sensitivity.value),
                             specificity=float(self.plan_specificity.value)) if self.plan_labels.value else None
        plan = StudyPlan(n_models=int(self.plan_models.value), prompts=int(self.plan_prompts.value) or None,
                         n_conditions=int(self.plan_conditions.value), effect=effect, effect_scale=scale,
                         alpha=float(self.plan_alpha.value), human_labels=labels,
                         replicates=int(self.plan_replicates.value), seed=int(self.plan_seed.value),
                         epochs=int(self.plan_epochs.value), judge_repeats=int(self.plan_judge_repeats.value),
                         response_sd=float(self.plan_response_sd.value))
        if self.plan_sd.value == "noise":
            plan = plan_with_noise(plan, self._run_noise())
        elif self.plan_sd.value == "fitted":
            from ..analysis.power import prompt_sd_from_fit

            if self.frame is None:
                raise ValueError("no study is loaded to fit the prompt SD to; choose the published calibration")
            plan = replace(plan, prompt_sd=prompt_sd_from_fit(fit_condition_model(self.frame, interaction=False)))
        return plan

    def _run_noise(self) -> dict[str, float]:
        """The prompt and response SDs of the loaded runs' noise decomposition (``analysis.noise``;
        the mean over models whose runs have epochs and judge repeats)."""
        from ..analysis.noise import decompose
        from ..analysis.reducers import has_repeats

        runs = self._runs()
        if runs is None or runs.empty or not has_repeats(runs):
            raise ValueError("no loaded run has epochs and judge repeats to take the noise from (run with --epochs 2 "
                             "--judge-repeats 2, or choose another prompt SD)")
        rows = decompose(runs, "model")
        rows = rows[np.isfinite(rows["sd_prompt"].astype(float)) & np.isfinite(rows["sd_response"].astype(float))]
        if rows.empty:
            raise ValueError("the loaded runs' noise has no log-odds SDs: they need both epochs and judge repeats")
        return {"sd_prompt": float(rows["sd_prompt"].mean()), "sd_response": float(rows["sd_response"].mean())}

    def plan(self) -> float | None:
        """Run the planner: power at the expected effect, the MDE and the curve."""
        self.plan_result.value = busy("Simulating…")
        try:
            plan = self.current_plan()
            mde, curve = minimum_detectable_effect(plan)
            from ..analysis.power import power

            result = power(plan)
        except STUDY_ERRORS as exc:
            self.plan_result.value = f"<span class='eud-error'>{html.escape(str(exc))}</span>"
            return None
        unit = (lambda v: f"{100 * v:.1f} points") if plan.effect_scale == "rate" else (lambda v: f"OR {v:.2f}")
        mde_text = unit(mde) if mde is not None else "beyond the curve's range"
        labels = plan.human_labels
        label_text = (f" Corrected rates from {labels.n_labels} human labels per run, judge sensitivity "
                      f"{labels.sensitivity:.2f} and specificity {labels.specificity:.2f} (the judge sees "
                      f"{unit(result.judge_rate_diff)})." if labels is not None else "")
        self.plan_result.value = (
            f"<span class='eud-status'>Power at {unit(plan.effect)}: <b>{result.power:.2f}</b> "
            f"(Monte Carlo SE {result.mc_se:.3f}; {result.n_prompts} prompts, {result.n_checks} checks per model, "
            f"prompt SD {plan.prompt_sd:.2f}{_repeats_text(plan)}). Minimum detectable effect at 80% power: <b>{mde_text}</b>. "
            f"{result.replicates} simulated studies per point, seed {result.seed}.{html.escape(label_text)}</span>")
        self._show("power_curve", power_curve_figure(curve, mde=mde), self.plan_box)
        return result.power


def _repeats_text(plan: StudyPlan) -> str:
    """``, response SD 0.80, 3 epochs x 2 judge calls`` (empty for one response judged once)."""
    if plan.epochs == 1 and plan.judge_repeats == 1 and plan.response_sd == 0:
        return ""
    return (f", response SD {plan.response_sd:.2f}, {plan.epochs} epoch{'s' if plan.epochs != 1 else ''} x "
            f"{plan.judge_repeats} judge call{'s' if plan.judge_repeats != 1 else ''} per response")


def studies_panel(dashboard: object) -> StudiesPanel:
    """The Studies panel of a ``Dashboard``: it reads the dashboard's current data source, and the
    dashboard registers it as a tab that computes when opened after a change."""
    def load() -> pd.DataFrame:
        source = dashboard.current_source()  # type: ignore[attr-defined]
        return study_frame(source.kind, str(source.path) if source.path else None, source.run_ids,
                           dashboard.frame)  # type: ignore[attr-defined]

    return StudiesPanel(load, runs_frame=lambda: dashboard.frame,  # type: ignore[attr-defined]
                        width=lambda: dashboard.figure_width)  # type: ignore[attr-defined]
