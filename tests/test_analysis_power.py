"""The power planner against the actual analysis on simulated studies, and the paired analysis'
size under the null. Monte Carlo error is stated and used in every comparison."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from eudaimonia_nb.analysis.conditions import paired_effects
from eudaimonia_nb.analysis.rates import holm
from eudaimonia_nb.analysis.power import (HumanLabels, StudyPlan, minimum_detectable_effect, plan_setup, power,
                                          power_curve, simulate_study)

N_BOOT = 300


def _rejection_rate(plan: StudyPlan, replicates: int) -> tuple[float, float]:
    """Share of (study, model) effects the real analysis (bootstrap, Holm) finds at plan.alpha."""
    setup = plan_setup(plan)
    hits = []
    for seed in range(replicates):
        effects = paired_effects(simulate_study(plan, seed, setup=setup), n_boot=N_BOOT, seed=seed)
        hits.append(float((effects["p_holm"] <= plan.alpha).mean()))
    hits = np.asarray(hits)
    return float(hits.mean()), float(hits.std(ddof=1) / np.sqrt(replicates))


def test_null_study_rejects_at_about_the_nominal_rate():
    plan = StudyPlan(n_models=1, prompts=100, effect=1.0, effect_scale="odds_ratio")
    replicates = 200
    rate, _ = _rejection_rate(plan, replicates)
    mc_se = np.sqrt(0.05 * 0.95 / replicates)  # 0.015 under the nominal rate
    print(f"null rejection rate {rate:.3f} (nominal 0.05, MC SE {mc_se:.3f}, {replicates} studies)")
    assert abs(rate - 0.05) <= 3 * mc_se
    planned = power(plan)
    assert abs(planned.power - 0.05) <= 3 * planned.mc_se + 0.01


@pytest.mark.parametrize("plan", [
    StudyPlan(n_models=1, prompts=100, effect=0.65, effect_scale="odds_ratio", replicates=4000),
    StudyPlan(n_models=2, prompts=150, effect=-0.05, effect_scale="rate", replicates=4000),
], ids=["1-model-OR-0.65", "2-models-rate-minus-5pts"])
def test_planner_power_matches_the_actual_analysis(plan):
    planned = power(plan)
    actual, actual_se = _rejection_rate(plan, 150)
    tolerance = 3 * np.hypot(planned.mc_se, actual_se)
    print(f"planner {planned.power:.3f} +- {planned.mc_se:.3f}; analysis {actual:.3f} +- {actual_se:.3f}")
    assert 0.15 < planned.power < 0.95  # an informative setting, not a floor or a ceiling
    assert abs(planned.power - actual) <= tolerance


def test_rate_effect_is_realised_on_average_and_odds_ratio_is_conditional():
    plan = StudyPlan(n_models=3, prompts=200, effect=-0.08, replicates=200)
    result = power(plan)
    assert result.rate_diff == pytest.approx(-0.08, abs=1e-6) and result.delta < 0
    frames = [simulate_study(plan, seed) for seed in range(30)]
    observed = np.mean([f.loc[f.condition == "b", "violation"].mean() - f.loc[f.condition == "a", "violation"].mean()
                        for f in frames])
    assert abs(observed - (-0.08)) < 0.01  # 30 studies x 3 models x ~650 checks: SE about 0.003
    assert power(StudyPlan(effect=0.5, effect_scale="odds_ratio", prompts=50, replicates=20)).delta == pytest.approx(np.log(0.5))


def test_power_grows_with_effect_prompts_and_shrinks_with_label_noise():
    base = StudyPlan(n_models=1, prompts=150, effect=-0.06, replicates=1000)
    curve = power_curve(base, [0.0, -0.03, -0.06, -0.09])
    assert curve["power"].is_monotonic_increasing and curve["power"].iloc[0] < 0.1 and curve["power"].iloc[-1] > 0.8
    assert (curve["ci_low"] <= curve["power"]).all() and (curve["power"] <= curve["ci_high"]).all()
    more = power(StudyPlan(n_models=1, prompts=400, effect=-0.06, replicates=1000))
    assert more.power > curve["power"].iloc[2] + 3 * more.mc_se
    labelled = power(StudyPlan(n_models=1, prompts=150, effect=-0.06, replicates=200,
                               human_labels=HumanLabels(n_labels=100, sensitivity=0.8, specificity=0.8)))
    # The judge sees 0.6 x the true difference, and the corrected rates carry the labels' noise.
    assert labelled.rate_diff == pytest.approx(-0.06, abs=1e-6)
    assert labelled.judge_rate_diff == pytest.approx(-0.06 * 0.6, abs=1e-6)
    assert labelled.power < curve["power"].iloc[2] - 3 * labelled.mc_se


def test_minimum_detectable_effect_reads_the_curve():
    plan = StudyPlan(n_models=1, prompts=200, effect=-0.05, replicates=600)
    mde, curve = minimum_detectable_effect(plan, effects=np.linspace(0, -0.15, 11))
    assert mde is not None and -0.15 < mde < 0
    check = power(StudyPlan(n_models=1, prompts=200, effect=mde, replicates=2000))
    assert abs(check.power - 0.8) <= 3 * check.mc_se + 0.03  # interpolation between grid points
    none, _ = minimum_detectable_effect(StudyPlan(n_models=1, prompts=20, replicates=100), effects=[0.0, -0.01])
    assert none is None


def test_holm_matches_the_step_down_rule_and_pads_the_family():
    p = np.array([0.01, np.nan, 0.04, 0.03])
    assert np.allclose(holm(p), [0.03, np.nan, 0.06, 0.06], equal_nan=True)
    assert np.allclose(holm(np.array([[0.01, 0.02]]), family=4), [[0.04, 0.06]])


@pytest.mark.parametrize("kwargs, message", [
    (dict(effect=0.0, effect_scale="odds_ratio"), "odds ratio must be > 0"),
    (dict(effect=1.5), "rate difference"),
    (dict(alpha=1.5), "alpha"),
    (dict(effect=2.0, effect_scale="odds_ratio", human_labels=HumanLabels(50, 0.9, 0.9)), "rate difference"),
    (dict(prompts=("no-such-prompt",)), "unknown prompt id"),
    (dict(epochs=2, human_labels=HumanLabels(50, 0.9, 0.9)), "one response and one judge call per check"),
])
def test_bad_plans_say_what_is_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message):
        power(StudyPlan(replicates=10, **kwargs))


def test_planner_with_epochs_and_judge_repeats_matches_the_actual_analysis():
    """Response noise (SD 1.5 on the log-odds scale), 2 epochs x 2 judge calls: the planner's power
    against the real paired analysis of the mean-reduced studies it simulates."""
    plan = StudyPlan(n_models=1, prompts=100, effect=-0.05, replicates=4000, epochs=2, judge_repeats=2, response_sd=1.5)
    study = simulate_study(plan, 0)
    assert (study["reducer"] == "mean").all() and study.groupby(["condition", "prompt_id", "requirement"]).size().eq(1).all()
    assert not study["violation"].isin([0.0, 1.0]).all()  # means of 4 calls, not single verdicts
    planned = power(plan)
    actual, actual_se = _rejection_rate(plan, 150)
    tolerance = 3 * np.hypot(planned.mc_se, actual_se)
    print(f"planner {planned.power:.3f} +- {planned.mc_se:.3f}; analysis {actual:.3f} +- {actual_se:.3f}")
    assert 0.15 < planned.power < 0.95
    assert abs(planned.power - actual) <= tolerance


def test_more_epochs_buy_power_when_responses_vary():
    base = dict(n_models=1, prompts=150, effect=-0.06, replicates=1500, response_sd=2.0)
    one, three = power(StudyPlan(**base)), power(StudyPlan(**base, epochs=3))
    assert three.power > one.power + 3 * np.hypot(one.mc_se, three.mc_se)
    # The effect is on the marginal rate: response noise enters the calibration (prompt and response SDs together).
    assert one.rate_diff == pytest.approx(-0.06, abs=1e-6) and three.rate_diff == pytest.approx(-0.06, abs=1e-6)
    calm = power(StudyPlan(n_models=1, prompts=150, effect=-0.06, replicates=1500))
    assert one.delta < calm.delta  # a larger log-odds shift gives the same rate difference through more noise
    with pytest.raises(ValueError, match="StudyPlan.epochs"):
        StudyPlan(epochs=0)
    with pytest.raises(ValueError, match="StudyPlan.response_sd"):
        StudyPlan(response_sd=-1.0)


def test_plan_with_noise_takes_the_sds_of_a_decomposition(benchmark):
    from eudaimonia_nb.analysis import noise, simulate
    from eudaimonia_nb.analysis.noise_study import sample_design
    from eudaimonia_nb.analysis.power import plan_with_noise

    design = sample_design(benchmark.checks[["prompt_id", "requirement", "source"]], 200, seed=3)
    frame, _ = simulate.simulate_with_truth("common", seed=5, design=design, models=1, epochs=3, judge_repeats=2,
                                            prompt_sd=1.0, response_sd=0.7)
    row = noise.decompose(frame, n_boot=100).iloc[0]
    plan = plan_with_noise(StudyPlan(epochs=2, judge_repeats=3), row)
    assert plan.prompt_sd == row["sd_prompt"] and plan.response_sd == row["sd_response"]
    assert row["sd_response_ci_low"] <= 0.7 <= row["sd_response_ci_high"]
    assert (plan.epochs, plan.judge_repeats) == (2, 3)  # the design planned, not the run's
    no_judge, _ = simulate.simulate_with_truth("common", seed=5, design=design, models=1, epochs=3, response_sd=0.7)
    with pytest.raises(ValueError, match="no log-odds SDs"):
        plan_with_noise(StudyPlan(), noise.decompose(no_judge, n_boot=100).iloc[0])
def _corrected_analysis_rejects(plan: StudyPlan, replicates: int) -> tuple[float, float]:
    """Share of simulated studies in which the suite's validity pipeline finds the effect: the
    simulated verdicts are the people's, a judge with the plan's Se / Sp judges every check, each
    run gets a seeded ``store.sampling.stratified_sample`` of n_labels (requirement x verdict), and
    ``corrected_rates`` with the validity section's strata gives each run's corrected rate and SE;
    the test is (b - a) / sqrt(se_a^2 + se_b^2), two-sided at plan.alpha (one model: no Holm)."""
    import pandas as pd

    from eudaimonia_nb.analysis.rates import two_sided_p
    from eudaimonia_nb.analysis.simulate import imperfect_verdicts
    from eudaimonia_nb.analysis.stratified import corrected_rates
    from eudaimonia_nb.store.sampling import stratified_sample

    labels = plan.human_labels
    setup = plan_setup(plan)
    hits = []
    for seed in range(replicates):
        frame = simulate_study(plan, seed, setup=setup)
        rng = np.random.default_rng([99, seed])
        truth = frame["violation"].to_numpy(float)
        frame["judge"] = imperfect_verdicts(truth, np.full(len(truth), labels.sensitivity),
                                            np.full(len(truth), labels.specificity), rng)
        frame["run_id"] = frame["model"] + "/" + frame["condition"]
        frame["row"] = np.arange(len(frame))
        frame["human"], frame["weight"] = np.nan, np.nan
        for k, (_, run) in enumerate(frame.groupby("run_id")):
            sample = stratified_sample(run, ["requirement", "judge"], labels.n_labels, seed=seed * 10 + k)
            rows = sample["row"].to_numpy()
            frame.loc[rows, "human"] = frame.loc[rows, "violation"].to_numpy()
            frame.loc[rows, "weight"] = 1.0 / sample["inclusion_probability"].to_numpy()
        rates = corrected_rates(frame, ["run_id", "condition"], strata=["run_id", "requirement", "judge"],
                                coarser=[["run_id", "judge"], ["run_id"]]).set_index("condition")
        z = (rates.loc["b", "rate"] - rates.loc["a", "rate"]) / np.hypot(rates.loc["a", "se"], rates.loc["b", "se"])
        hits.append(float(two_sided_p(z) <= plan.alpha))
    hits = np.asarray(hits)
    return float(hits.mean()), float(hits.std(ddof=1) / np.sqrt(replicates))


def test_human_label_power_matches_the_corrected_rate_analysis():
    """The audit's case (issue 23 point 5): 1 model on all prompts, a true 5-point reduction, 200
    labels per run, Se = Sp = 0.85. The old planner (Rogan-Gladen d / J with a delta-method
    variance) promised 0.94; the suite's corrected rates achieve far less."""
    plan = StudyPlan(n_models=1, effect=-0.05, replicates=200,
                     human_labels=HumanLabels(n_labels=200, sensitivity=0.85, specificity=0.85))
    planned = power(plan)
    actual, actual_se = _corrected_analysis_rejects(plan, 200)
    tolerance = 3 * np.hypot(planned.mc_se, actual_se)
    print(f"labelled: planner {planned.power:.3f} +- {planned.mc_se:.3f}; "
          f"corrected-rate analysis {actual:.3f} +- {actual_se:.3f}")
    assert 0.1 < actual < 0.9
    assert abs(planned.power - actual) <= tolerance
    assert planned.assumptions != power(replace(plan, human_labels=None, replicates=10)).assumptions
