"""A study's analysis on simulated data with known truth: per-requirement effects hold their
family-wise error, the paired bootstrap covers when the condition moves some prompts more than
others (where the mixed model, a cross-check, does not), and a separated study fit is flagged
instead of reporting an unidentified coefficient."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pytest

from eudaimonia_nb.analysis.conditions import (TEST_MCNEMAR, check_condition_model, fit_condition_model,
                                               mcnemar_exact_p, paired_effects)
from eudaimonia_nb.analysis.power import StudyPlan, _observed_rate_diff, delta_for, plan_setup, simulate_study

REPLICATES = 200


def test_mcnemar_exact_p_matches_the_binomial_tail_worked_by_hand():
    # 1 vs 6 discordant pairs: 2 x P(X <= 1 | 7, 1/2) = 2 x 8/128.
    assert mcnemar_exact_p(np.array([1.0]), np.array([6.0]))[0] == pytest.approx(16 / 128)
    assert mcnemar_exact_p(np.array([0.0, 3.0]), np.array([0.0, 3.0])).tolist() == [1.0, 1.0]


def test_per_requirement_effects_of_a_small_null_study_hold_the_family_wise_error():
    """1 model x 100 prompts, no condition effect, nine requirements with Holm across them: the
    audit measured a family-wise error of 0.088 with the Wald test on the bootstrap SE (0.105 on
    these replicates); McNemar's exact test on such cells keeps it at or under 0.05."""
    plan = StudyPlan(n_models=1, prompts=100, effect=0.0, seed=7)
    setup = plan_setup(plan)
    any_rejected = []
    for seed in range(REPLICATES):
        effects = paired_effects(simulate_study(plan, seed, setup=setup), by="requirement", n_boot=50, seed=seed)
        assert set(effects["test"]) == {TEST_MCNEMAR} and effects["requirement"].nunique() == 9
        any_rejected.append(bool((effects["p_holm"] <= 0.05).any()))
    fwer = float(np.mean(any_rejected))
    mc_se = float(np.sqrt(0.05 * 0.95 / REPLICATES))
    print(f"per-requirement family-wise error {fwer:.3f} over {REPLICATES} null studies (MC SE {mc_se:.3f})")
    assert fwer <= 0.05


def test_pooled_models_keep_the_wald_test():
    plan = StudyPlan(n_models=2, prompts=60, effect=0.0, seed=1)
    effects = paired_effects(simulate_study(plan, 0), by="requirement", n_boot=50)
    assert set(effects["test"]) == {TEST_MCNEMAR}  # one model's requirement: one check per prompt
    pooled = paired_effects(simulate_study(plan, 0), pooled=True, n_boot=50)
    assert set(pooled["test"]) == {"Wald (bootstrap SE)"}


def test_the_paired_bootstrap_covers_an_effect_that_varies_by_prompt_and_the_model_does_not():
    """Condition b shifts each prompt's log-odds by N(log 0.6, 1.0): the paired bootstrap's 95%
    interval covers the true expected rate difference; the intercept-only mixed model's interval
    for the mean shift covers far less often (its shared shift does not describe the variation),
    which is why it is the cross-check and not the primary estimate."""
    plan = StudyPlan(n_models=1, prompts=200, effect=0.6, effect_scale="odds_ratio", effect_prompt_sd=1.0, seed=3)
    setup = plan_setup(plan)
    delta = delta_for(plan, setup)
    truth = _observed_rate_diff(setup, delta, plan.prompt_sd, plan.effect_prompt_sd)
    assert delta == pytest.approx(np.log(0.6)) and -0.06 < truth < -0.04
    paired_cover, model_cover = [], []
    for seed in range(REPLICATES):
        frame = simulate_study(plan, seed, setup=setup)
        row = paired_effects(frame, n_boot=400, seed=seed).iloc[0]
        paired_cover.append(row["ci_low"] <= truth <= row["ci_high"])
        term = fit_condition_model(frame, interaction=False, use_cache=False).params.loc["condition[T.b]"]
        model_cover.append(term["ci_low"] <= delta <= term["ci_high"])
    paired, model = float(np.mean(paired_cover)), float(np.mean(model_cover))
    mc_se = float(np.sqrt(0.95 * 0.05 / REPLICATES))
    print(f"effect varying by prompt: paired bootstrap coverage {paired:.3f}, mixed model {model:.3f} "
          f"(MC SE {mc_se:.3f}, {REPLICATES} replicates)")
    assert abs(paired - 0.95) <= 3 * mc_se
    assert model < 0.95 - 3 * mc_se


def _study_with_a_silent_cell():
    plan = StudyPlan(n_models=1, prompts=120, effect=-0.05, seed=5)
    frame = simulate_study(plan, 0)
    silent = (frame["condition"] == "b") & (frame["source"] == "modified")
    frame.loc[silent, "violation"] = 0.0
    return frame


def test_a_separated_condition_by_source_cell_drops_the_term_with_a_warning(caplog):
    """Condition b never violates on modified prompts: the interaction has no finite estimate
    (the audit found an unflagged -77.6 with SE 7e15); it is left out and the fit says why."""
    frame = _study_with_a_silent_cell()
    with caplog.at_level(logging.WARNING, logger="eudaimonia_nb.analysis.conditions"):
        fit = fit_condition_model(frame, interaction=True, use_cache=False)
    assert "condition[T.b]:source[T.modified]" not in fit.params.index
    assert (fit.params["estimate"].abs() < 10).all() and np.isfinite(fit.params["std_error"]).all()
    assert "WARNING: separation" in fit.message and "condition x source term is left out" in fit.message
    assert any("separation" in r.getMessage() for r in caplog.records)
    assert fit.separated and "'b' on modified prompts" in fit.separated[0]


def test_a_requirement_that_never_varies_is_set_aside_and_named():
    plan = StudyPlan(n_models=1, prompts=120, effect=-0.05, seed=5)
    frame = simulate_study(plan, 1)
    requirement = frame["requirement"].value_counts().index[0]
    frame.loc[frame["requirement"] == requirement, "violation"] = 1.0
    fit = fit_condition_model(frame, interaction=False, use_cache=False)
    assert not any(requirement in term for term in fit.params.index)
    assert any(requirement in note and "every one" in note for note in fit.separated)
    assert "WARNING: separation" in fit.message


def test_the_cross_check_says_when_the_model_and_the_paired_effect_disagree():
    plan = StudyPlan(n_models=1, prompts=200, effect=-0.10, seed=2)
    frame = simulate_study(plan, 0)
    fit = fit_condition_model(frame, interaction=False, use_cache=False)
    check = check_condition_model(frame, fit, n_boot=400)
    assert len(check) == 1 and check.iloc[0]["condition_a"] == "a" and check.iloc[0]["condition_b"] == "b"
    assert check.iloc[0]["ci_high"] < 0 and check.iloc[0]["or_ci_high"] < 1
    assert bool(check.iloc[0]["agree"]) and "agrees" in check.iloc[0]["note"]
    # A model interval that (wrongly) covers no effect while the paired one excludes it.
    params = fit.params.copy()
    params.loc["condition[T.b]", ["or_ci_low", "or_ci_high"]] = [0.5, 1.5]
    disagree = check_condition_model(frame, replace(fit, params=params), n_boot=400).iloc[0]
    assert not disagree["agree"] and "paired bootstrap finds an effect the model does not" in disagree["note"]
    params.loc["condition[T.b]", ["estimate", "or_ci_low", "or_ci_high"]] = [0.7, 1.5, 2.5]
    opposite = check_condition_model(frame, replace(fit, params=params), n_boot=400).iloc[0]
    assert not opposite["agree"] and "opposite directions" in opposite["note"]
