"""Judge validity statistics against known answers: Krippendorff's published example, a
hand-worked kappa table, and simulated studies with a known truth and a judge of known
sensitivity and specificity (raw bias, the corrected rate's unbiasedness and coverage, label
planning); per-cell coverage is in test_analysis_validity_cells.py."""

from __future__ import annotations

import numpy as np
import pytest

from eudaimonia_nb.analysis.agreement import (bootstrap_agreement, bootstrap_alpha, cohen_kappa, krippendorff_alpha,
                                              majority_vote, sensitivity_specificity)
from eudaimonia_nb.analysis.ppi import CorrectedRate, labels_needed, ppi_mean
from eudaimonia_nb.analysis.stratified import corrected_rates
from eudaimonia_nb.store.sampling import equal_allocation, stratified_sample
from eudaimonia_nb.analysis.simulate import simulate_imperfect_judge, simulate_with_truth
from eudaimonia_nb.analysis.validity_study import run_studies, study_setup

NAN = np.nan
# Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability. Annenberg School for
# Communication, University of Pennsylvania, departmental paper 43, section C ("nominal data,
# any number of observers, missing values"): 4 observers x 12 units; alpha (nominal) = 0.743.
KRIPPENDORFF_2011 = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]).T  # units x observers

SENSITIVITY = {"1B_intentional_human_speech": 0.60, "1B_human_pronoun": 0.85, "1C_identity_transparency": 0.65,
               "2A_fabricated_personal_information": 0.80, "2B_emotion_expression": 0.70, "2C_deference": 0.55,
               "2C_flattery_tone": 0.70, "2D_human_relationship_encouragement": 0.60, "3A_engagement_hooks": 0.75}
SPECIFICITY = {k: 0.95 for k in SENSITIVITY}


def test_alpha_matches_krippendorffs_published_example():
    assert krippendorff_alpha(KRIPPENDORFF_2011) == pytest.approx(0.743, abs=5e-4)
    # Unit 12 has one value only: not pairable, so dropping it changes nothing.
    assert krippendorff_alpha(KRIPPENDORFF_2011[:11]) == pytest.approx(krippendorff_alpha(KRIPPENDORFF_2011))
    alpha, (low, high) = bootstrap_alpha(KRIPPENDORFF_2011, np.arange(12), n_boot=400, seed=1)
    assert alpha == pytest.approx(0.743, abs=5e-4) and low < alpha < high <= 1.0


def test_alpha_is_one_for_perfect_agreement_and_nan_without_pairs():
    perfect = np.array([[1, 1, NAN], [0, 0, 0], [1, NAN, 1]], dtype=float)
    assert krippendorff_alpha(perfect) == pytest.approx(1.0)
    assert np.isnan(krippendorff_alpha(np.array([[1, NAN], [NAN, 0]], dtype=float)))


def test_kappa_sensitivity_specificity_hand_worked_with_prompt_bootstrap():
    # Judge A vs person B: 20 both, 5 only A, 10 only B, 15 neither (n = 50).
    # p_o = 35/50 = 0.7; p_A = 0.5, p_B = 0.6; p_e = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = 0.4.
    # Sensitivity = 20 / (20 + 10) = 2/3; specificity = 15 / (15 + 5) = 0.75.
    a = np.array([1] * 25 + [0] * 25, dtype=float)
    b = np.array([1] * 20 + [0] * 5 + [1] * 10 + [0] * 15, dtype=float)
    prompts = np.arange(50) % 17  # checks share prompts: resampled together
    est = bootstrap_agreement(a, b, prompts, n_boot=500, seed=2)
    assert est.kappa == pytest.approx(0.4) and cohen_kappa(a, b) == pytest.approx(0.4)
    assert est.sensitivity == pytest.approx(2 / 3) and est.specificity == pytest.approx(0.75)
    assert est.counts.n == 50 and est.n_prompts == 17
    assert est.kappa_ci[0] < 0.4 < est.kappa_ci[1]
    assert est.sensitivity_ci[0] < 2 / 3 < est.sensitivity_ci[1]
    # Doubling the weight of the A=1, B=0 cell is the same as counting it twice.
    weights = np.where((a == 1) & (b == 0), 2.0, 1.0)
    weighted = bootstrap_agreement(a, b, prompts, weights=weights, n_boot=50)
    both, only_a, only_b, neither = 20, 10, 10, 15
    po, pa, pb = 35 / 55, 30 / 55, 30 / 55
    pe = pa * pb + (1 - pa) * (1 - pb)
    assert weighted.kappa == pytest.approx((po - pe) / (1 - pe))
    assert weighted.counts.only_a == 5  # counts stay unweighted
    sens, spec = sensitivity_specificity(both, only_a, only_b, neither)
    assert weighted.specificity == pytest.approx(float(spec))


def test_majority_vote_breaks_no_ties():
    votes = np.array([[1, 1, 0], [0, 0, 1], [1, 0, NAN], [NAN, NAN, NAN]], dtype=float)
    np.testing.assert_array_equal(majority_vote(votes), [1.0, 0.0, NAN, NAN])


def test_stratified_sample_allocation_and_inclusion_probabilities():
    np.testing.assert_array_equal(equal_allocation([100, 3, 50], 60), [29, 3, 28])
    np.testing.assert_array_equal(equal_allocation([2, 2], 10), [2, 2])
    import pandas as pd

    frame = pd.DataFrame({"requirement": ["a"] * 90 + ["b"] * 10, "violation": [0.0] * 80 + [1.0] * 20,
                          "prompt_id": [f"p{i}" for i in range(100)]})
    sample = stratified_sample(frame, ["requirement", "violation"], 30, seed=5)
    counts = sample.groupby("stratum").size().to_dict()
    assert counts == {"a|0.0": 10, "a|1.0": 10, "b|1.0": 10}
    pi = sample.groupby("stratum")["inclusion_probability"].first().to_dict()
    assert pi == pytest.approx({"a|0.0": 10 / 80, "a|1.0": 10 / 10, "b|1.0": 10 / 10})
    assert sample.equals(stratified_sample(frame, ["requirement", "violation"], 30, seed=5))
    assert not sample["prompt_id"].equals(stratified_sample(frame, ["requirement", "violation"], 30, seed=6)["prompt_id"])


def test_imperfect_judge_has_the_requested_error_rates(benchmark):
    frame, _ = simulate_with_truth("common", seed=1, design=benchmark.checks, models=4)
    judged = simulate_imperfect_judge(frame, SENSITIVITY, SPECIFICITY, seed=2)
    assert judged["true_violation"].equals(frame["violation"]) and judged.attrs["simulated"]
    for key in ("1B_human_pronoun", "2C_deference"):
        rows = judged[judged["requirement"] == key]
        pos = rows[rows["true_violation"] == 1]
        neg = rows[rows["true_violation"] == 0]
        se = lambda p, n: np.sqrt(p * (1 - p) / n)
        assert abs(pos["violation"].mean() - SENSITIVITY[key]) < 4 * se(SENSITIVITY[key], len(pos))
        assert abs(1 - neg["violation"].mean() - 0.95) < 4 * se(0.95, len(neg))
    with pytest.raises(ValueError, match="no value for requirement"):
        simulate_imperfect_judge(frame, {"2C_deference": 0.5}, 0.9)


def test_ppi_with_a_perfect_judge_is_the_raw_rate_and_labels_alone_are_horvitz_thompson():
    rng = np.random.default_rng(0)
    f = (rng.random(400) < 0.3).astype(float)
    prompts = np.arange(400) // 4
    human = np.where(np.arange(400) % 5 == 0, f, np.nan)
    # lambda = 1 (classical PPI) with a judge that is always right: the raw rate, exactly.
    est = ppi_mean(f, human, np.full(400, 5.0), prompts, lam=1.0)
    assert est.rate == pytest.approx(f.mean()) and est.n_labels == 80 and est.n_prompts == 100
    assert est.se == pytest.approx(est.raw_se)
    tuned = ppi_mean(f, human, np.full(400, 5.0), prompts)
    assert 0.7 < tuned.lam <= 1.0 and tuned.se <= est.se * 1.001
    # lambda = 0: the Horvitz-Thompson mean of the labels, sum(w y) / N.
    labels_only = ppi_mean(f, human, np.full(400, 5.0), prompts, lam=0.0)
    assert labels_only.rate == pytest.approx(5.0 * np.nansum(human) / 400)
    assert labels_only.se > est.se
    with pytest.raises(ValueError, match="weight >= 1"):
        ppi_mean(f, human, np.full(400, 0.5), prompts)


def test_corrected_rates_by_group_flag_few_labels():
    import pandas as pd

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"prompt_id": np.arange(600) // 3, "judge": (rng.random(600) < 0.4).astype(float),
                          "group": np.repeat(["x", "y"], 300)})
    frame["human"] = np.where(rng.random(600) < np.where(frame["group"] == "x", 0.2, 0.05), frame["judge"], np.nan)
    frame["weight"] = np.where(frame["group"] == "x", 5.0, 20.0)
    out = corrected_rates(frame, "group").set_index("group")
    assert out.loc["x", "n_labels"] >= 30 and not out.loc["x", "few_labels"]
    assert out.loc["y", "n_labels"] < 30 and out.loc["y", "few_labels"]
    assert (out["n_checks"] == 300).all()


@pytest.fixture(scope="module")
def setup(benchmark):
    return study_setup(benchmark.checks, sensitivity=SENSITIVITY, specificity=SPECIFICITY)


def test_raw_rate_is_biased_as_expected_and_ppi_is_unbiased_and_covers(setup):
    """1,000 simulated studies of one model (3,147 checks, 300 labels stratified by requirement x
    verdict). Monte Carlo error of a coverage of 0.95 over 1,000 replicates: 0.007."""
    studies = run_studies(setup, 300, 1000, seed=11)
    mc = lambda x: x.std(ddof=1) / np.sqrt(len(x))
    # The judge misses violations (sensitivity < 1) more than it invents them: the raw rate is
    # too low by a known amount, and it matches sens * p + (1 - spec) * (1 - p).
    assert setup.expected_raw < setup.truth - 0.05
    assert abs(studies["raw_rate"].mean() - setup.expected_raw) < 4 * mc(studies["raw_rate"])
    assert abs(studies["raw_rate"].mean() - setup.truth) > 20 * mc(studies["raw_rate"])
    error = studies["rate"] - studies["truth"]
    assert abs(error.mean()) < 3 * mc(error)
    coverage = studies["covered"].mean()
    assert 0.93 <= coverage <= 0.97, f"coverage {coverage:.3f} (MC error {np.sqrt(coverage * (1 - coverage) / 1000):.3f})"
    # The judge helps: the labelled sample stratified by its verdict gives a narrower interval than
    # as many labels drawn without it (a simple random sample, its own correct variance).
    assert studies["se"].mean() < studies["labels_only_se"].mean()
    assert studies["rate"].std() < studies["labels_only_rate"].std()


def test_planning_predicts_the_labels_that_reach_a_target_width(setup):
    pilot = run_studies(setup, 150, 60, seed=3)
    needed = []
    for row in pilot.itertuples():
        est = CorrectedRate(row.rate, row.ci_low, row.ci_high, row.se, np.nan, row.raw_rate, row.raw_se,
                            len(setup.eta), row.n_labels, setup.n_prompts, row.floor_se, row.label_se)
        needed.append(labels_needed(est, 0.04))
    more = int(np.median(needed))
    assert more > 0
    followup = run_studies(setup, 150 + more, 150, seed=4)
    half_width = (followup["ci_high"] - followup["ci_low"]).mean() / 2
    assert half_width == pytest.approx(0.04, rel=0.12)
    # A target below the prompt-sampling floor cannot be reached by labelling.
    row = pilot.iloc[0]
    est = CorrectedRate(row.rate, row.ci_low, row.ci_high, row.se, np.nan, row.raw_rate, row.raw_se,
                        len(setup.eta), int(row.n_labels), setup.n_prompts, row.floor_se, row.label_se)
    assert labels_needed(est, 1.9 * row.floor_se) is None
    assert labels_needed(est, 0.5) == 0
