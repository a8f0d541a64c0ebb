"""The Studies tab in a Python process: the demo's simulated study, a real store with two
conditions (scripted loopback endpoint, real runner), the planner and its errors."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from study_server import MARKER, STEERABLE, StudyServer

from eudaimonia_nb.judging.config import RunConfig
from eudaimonia_nb.judging.runner import run
from eudaimonia_nb.report import DataSource
from eudaimonia_nb.widgets.dashboard import Dashboard
from eudaimonia_nb.widgets.studies import DEMO_PLAN, TAB_TITLE


def _open_studies(dashboard: Dashboard) -> None:
    dashboard.tab_bar.selected_index = len(dashboard.tab_bar.children) - 1


@pytest.fixture(scope="module")
def demo():
    dashboard = Dashboard(DataSource("demo"))
    _open_studies(dashboard)
    return dashboard


def test_studies_tab_follows_the_report_tabs_and_shows_the_simulated_demo_study(demo):
    bar = demo.tab_bar
    assert bar.get_title(len(bar.children) - 1) == TAB_TITLE and demo.selected_key == "studies"
    panel = demo.studies
    assert "SIMULATED" in panel.banner.value
    effects = panel.effects
    assert len(effects) == DEMO_PLAN.n_models and set(effects["condition_b"]) == {"design-code"}
    # The demo draws a 6-point reduction: the models' average estimate is near it.
    assert abs(effects["diff"].mean() - DEMO_PLAN.effect) < 0.02
    assert {"condition_rates", "effects"} <= set(panel.figures)
    assert len(panel.figures["effects"].data[0].x) == DEMO_PLAN.n_models
    # Tables read like a paper's: named columns and terms, not analysis names.
    assert "Condition: design-code" in panel.tables.value and "Rate under A" in panel.tables.value
    for raw in ("condition_a", "n_checks", "p_holm", "or_ci_low", "condition[T."):
        assert raw not in panel.tables.value, raw
    # The attribute figures with published rates (thinking from the authors' list of thinking
    # models, issue 19); the budgets, whose rates the paper does not publish, are a sentence,
    # not an empty panel.
    assert sorted(k for k in panel.figures if k.startswith("published_")) == [
        "published_generation", "published_scale", "published_thinking"]
    assert len(panel.figures["published_thinking"].data) == 2  # thinking off and on, both drawn
    assert "Thinking budget" in panel.attributes_note.value and "publishes no rates" in panel.attributes_note.value
    assert not any(k.startswith("runs_") for k in panel.figures)
    # Figures take the page's width once it is known (on a phone they ran off the screen).
    demo._probe.width = 390
    assert {fig.layout.width for fig in panel.figures.values()} == {350}
    assert panel.figures["effects"].layout.legend.y < 0  # the legend under the plot, as on the other tabs
    # Long row names (effects) and tilted model names (rates) get the margin they need, not cut.
    assert panel.figures["effects"].layout.yaxis.automargin is True
    assert panel.figures["condition_rates"].layout.xaxis.automargin is True
    # Rows named 'Claude Opus 4.6 · design-code vs baseline' were cut by a phone's left edge:
    # they break at their '·' there (the hover keeps the name) and come back whole on a desktop.
    effects_axis = panel.figures["effects"].layout.yaxis
    assert list(effects_axis.tickvals) == list(panel.figures["effects"].data[0].y)
    assert all(t.count("<br>") == 1 and " vs " in t.split("<br>")[1] for t in effects_axis.ticktext)
    demo._probe.width = 1440
    assert {fig.layout.width for fig in panel.figures.values()} == {1400}
    assert panel.figures["effects"].layout.yaxis.ticktext is None
    # Leaving and re-opening the report tabs still works.
    demo.tab_bar.selected_index = 0
    assert demo.selected_key == "leaderboard"


def test_planner_reports_power_mde_and_curve_and_refuses_bad_input(demo):
    panel = demo.studies
    panel.plan_models.value, panel.plan_prompts.value, panel.plan_effect.value = 1, 200, -8.0
    panel.plan_replicates.value = 200
    power = panel.plan()
    assert power is not None and 0 < power < 1
    assert "Minimum detectable effect" in panel.plan_result.value
    curve = panel.figures["power_curve"].data[1]
    assert np.all(np.diff(curve.y) >= -0.1)  # rises with the effect, up to Monte Carlo noise
    panel.plan_effect.value = 150.0
    assert panel.plan() is None and "rate difference" in panel.plan_result.value
    panel.plan_effect.value, panel.plan_sd.value = -8.0, "fitted"
    assert panel.plan() is not None and "prompt SD 1.00" not in panel.plan_result.value


def test_studies_tab_reads_conditions_from_a_store(tmp_path, benchmark):
    store = tmp_path / "store.sqlite"
    prompt_file = tmp_path / "p.txt"
    prompt_file.write_text(MARKER, encoding="utf-8")
    prompts = tuple(benchmark.prompts.groupby("source").head(20)["prompt_id"])
    with StudyServer() as server:
        base = RunConfig(model=STEERABLE, base_url=server.base_url, judge_model="j", judge_base_url=server.base_url,
                         api_key_env=None, judge_api_key_env=None, prompt_ids=prompts, store_path=str(store),
                         condition="baseline", max_retries=0, protocol="suite")
        run(base, benchmark=benchmark, progress=False)
        run(replace(base, condition="design-code", system_prompt_file=str(prompt_file)), benchmark=benchmark, progress=False)
    dashboard = Dashboard(DataSource("store", store))
    _open_studies(dashboard)
    panel = dashboard.studies
    assert panel.banner.value == "" and list(panel.effects["model"]) == [STEERABLE]
    assert panel.effects["diff"].iloc[0] < 0
    assert "baseline, design-code" in panel.status.value
    # A store whose runs name no conditions: a message, not a traceback.
    dashboard.run_ids.value = panel.frame["run_id"].iloc[0]
    dashboard.load()
    assert panel.compute() is False and "at least two conditions" in panel.status.value


def test_the_planner_takes_epochs_judge_calls_and_the_noise_of_loaded_runs(demo, benchmark):
    from eudaimonia_nb.analysis import noise, simulate
    from eudaimonia_nb.analysis.noise_study import sample_design
    from eudaimonia_nb.widgets.studies import StudiesPanel, demo_study

    panel = demo.studies
    panel.plan_models.value, panel.plan_prompts.value, panel.plan_effect.value = 1, 150, -6.0
    panel.plan_replicates.value, panel.plan_sd.value = 300, "published"
    panel.plan_epochs.value, panel.plan_judge_repeats.value, panel.plan_response_sd.value = 3, 2, 1.5
    plan = panel.current_plan()
    assert (plan.epochs, plan.judge_repeats, plan.response_sd) == (3, 2, 1.5)
    assert panel.plan() is not None
    assert "response SD 1.50, 3 epochs x 2 judge calls per response" in panel.plan_result.value
    # The demo's runs have no repeats: the noise option says why it cannot be used.
    panel.plan_sd.value = "noise"
    assert panel.plan() is None and "no loaded run has epochs and judge repeats" in panel.plan_result.value
    panel.plan_sd.value, panel.plan_epochs.value, panel.plan_judge_repeats.value = "published", 1, 1
    panel.plan_response_sd.value = 0.0

    design = sample_design(benchmark.checks[["prompt_id", "requirement", "source"]], 150, seed=2)
    runs, _ = simulate.simulate_with_truth("common", seed=6, design=design, models=2, epochs=2, judge_repeats=2,
                                           response_sd=1.0)
    loaded = StudiesPanel(demo_study, runs_frame=lambda: runs)
    loaded.plan_sd.value = "noise"
    loaded.plan_prompts.value, loaded.plan_epochs.value = 150, 2
    plan = loaded.current_plan()
    rows = noise.decompose(runs, "model")
    assert plan.prompt_sd == pytest.approx(rows["sd_prompt"].mean()) and plan.response_sd == pytest.approx(rows["sd_response"].mean())
    assert plan.epochs == 2 and 0.3 < plan.response_sd < 2.0
    # The attribute figures of the user's runs read each check once (repeated rows were refused).
    loaded._show_attributes(runs)
    assert any(name.startswith("runs_") for name in loaded.figures)
def test_planner_takes_the_judges_sensitivity_and_specificity_and_shows_them(demo):
    panel = demo.studies
    panel.plan_models.value, panel.plan_prompts.value, panel.plan_effect.value = 1, 100, -10.0
    panel.plan_replicates.value, panel.plan_labels.value = 50, 100
    panel.plan_sensitivity.value, panel.plan_specificity.value = 0.8, 0.7
    plan = panel.current_plan()
    assert (plan.human_labels.sensitivity, plan.human_labels.specificity) == (0.8, 0.7)
    assert panel.plan() is not None
    text = panel.plan_result.value
    assert "100 human labels per run" in text and "sensitivity 0.80" in text and "specificity 0.70" in text
    assert "the judge sees -5.0 points" in text  # J = 0.5
    panel.plan_sensitivity.value, panel.plan_specificity.value = 0.5, 0.4
    assert panel.plan() is None and "better than chance" in panel.plan_result.value
