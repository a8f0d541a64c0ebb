"""The noise decomposition against simulated data with known prompt, response and judge noise."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from eudaimonia_nb.analysis import noise, simulate
from eudaimonia_nb.analysis.noise_study import coverage_study, format_result, sample_design
from eudaimonia_nb.analysis.reducers import reduce_repeats


@pytest.fixture(scope="module")
def design(benchmark):
    return sample_design(benchmark.checks[["prompt_id", "requirement", "source"]], 200, seed=0)


@pytest.fixture(scope="module")
def small_design(benchmark):
    """120 benchmark prompts: the coverage study's 200 fits stay within the suite's time limit."""
    return sample_design(benchmark.checks[["prompt_id", "requirement", "source"]], 120, seed=1)


@pytest.mark.slow
@pytest.mark.timeout(2400)  # 200 model fits: about 2 minutes on an idle 2-core machine, far more when shared
def test_the_decomposition_recovers_known_noise_in_200_replicates(small_design):
    """Every 95% interval (the three sources on both scales: sd_prompt, sd_response, the judge and
    response flip rates, the three shares) holds its known value in at least 90% of 200 fresh
    tables of 120 prompts (3 epochs x 2 judge calls, prompt SD 1, response SD 1; Monte Carlo SE
    about 0.016 at 95%). Measured 2026-12-07: 0.925 (response flips) to 0.98 (prompt SD), the
    prompt SD's mean estimate 0.93 (maximum likelihood shrinks variance components on few
    prompts); on 200 prompts, seeds 1-200 (``benchmarks/bench_noise.py``), 0.92-0.975."""
    result = coverage_study(small_design, replicates=200, seed=10_000, n_boot=300)
    print(format_result(result))
    for name, value in result.coverage.items():
        assert 0.90 <= value <= 0.995, (name, format_result(result))
    # Not only covered: close to the truth on average.
    assert abs(result.mean_estimate["judge_flip_rate"] - result.truth["judge_flip_rate"]) < 0.01
    assert abs(result.mean_estimate["sd_response"] - 1.0) < 0.1 and abs(result.mean_estimate["sd_prompt"] - 1.0) < 0.1


def test_the_known_values_match_a_monte_carlo_of_the_simulator(design):
    """``noise_truth`` (quadrature) against the flip rates of one huge simulated table."""
    frame, truth = simulate.simulate_with_truth("common", seed=1, design=design, models=1, epochs=2, judge_repeats=2,
                                                response_sd=1.5, prompt_sd=0.8)
    known = simulate.noise_truth(truth, design, truth.models[0])
    draws = []
    for seed in range(40):
        frame, _ = simulate.simulate_with_truth("common", seed=seed, design=design, models=1, epochs=2, judge_repeats=2,
                                                response_sd=1.5, prompt_sd=0.8)
        y = frame["violation"].to_numpy().reshape(-1, 2, 2)  # checks x epochs x calls
        draws.append((np.mean(y[:, :, 0] != y[:, :, 1]), np.mean(y[:, 0, :] != y[:, 1, ::-1]), y.mean()))
    judge, response, rate = np.mean(draws, axis=0)
    assert abs(judge - known["judge_flip_rate"]) < 0.005
    assert abs(response - known["response_flip_rate"]) < 0.006
    assert abs(rate - known["rate"]) < 0.01
    assert math.isclose(known["share_prompt"] + known["share_response"] + known["share_judge"], 1.0)


def test_predicted_standard_errors_match_the_spread_over_replicates(design):
    """From ONE run with 3 epochs x 2 judge calls, the SE predicted for 1 x 1 and 5 x 4 against
    the standard deviation of the mean-reduced rate over 300 tables simulated with those designs."""
    kwargs = dict(design=design, models=1, response_sd=1.2)
    frame, _ = simulate.simulate_with_truth("common", seed=7, epochs=3, judge_repeats=2, **kwargs)
    row = noise.decompose(frame, fit_sds=False, n_boot=100).iloc[0]
    for epochs, repeats in ((1, 1), (5, 4), (3, 2)):
        rates = []
        for seed in range(300):
            table, _ = simulate.simulate_with_truth("common", seed=100 + seed, epochs=epochs, judge_repeats=repeats, **kwargs)
            rates.append(reduce_repeats(table)["violation"].mean())
        empirical = float(np.std(rates, ddof=1))  # Monte Carlo error of an SD from 300 draws: about 4%
        predicted = noise.predicted_se(row, epochs, repeats)
        print(f"{epochs} epochs x {repeats} judge calls: predicted SE {predicted:.5f}, empirical {empirical:.5f}")
        assert abs(predicted / empirical - 1) < 0.2, (epochs, repeats, predicted, empirical)
    assert noise.predicted_se(row, 1, 1) > noise.predicted_se(row, 3, 2) > noise.predicted_se(row, 5, 4)
    # The whole benchmark has more checks: a smaller SE by sqrt(checks here / checks there).
    assert math.isclose(noise.predicted_se(row, 3, 2, benchmark=True),
                        noise.predicted_se(row, 3, 2) * math.sqrt(row["n_checks"] / 3147), rel_tol=1e-9)


def test_what_the_design_cannot_separate_is_not_estimated_and_says_why(design):
    no_judge, _ = simulate.simulate_with_truth("common", seed=2, design=design, models=1, epochs=3, response_sd=1.0)
    row = noise.decompose(no_judge, n_boot=100).iloc[0]
    assert math.isnan(row["judge_flip_rate"]) and math.isnan(row["sd_response"]) and math.isnan(row["share_judge"])
    assert 0 < row["response_flip_rate"] < 1 and "--judge-repeats" in row["note"]
    assert math.isnan(noise.predicted_se(row, 3, 2)) and noise.predicted_se(row, 5, 1) < noise.predicted_se(row, 3, 1)
    no_epochs, _ = simulate.simulate_with_truth("common", seed=2, design=design, models=1, judge_repeats=3)
    row = noise.decompose(no_epochs, n_boot=100).iloc[0]
    assert math.isnan(row["response_flip_rate"]) and math.isnan(row["share_prompt"]) and "--epochs" in row["note"]
    assert 0 < row["judge_flip_rate"] < 1 and math.isnan(noise.predicted_se(row, 2, 3))
    assert "epochs cannot be assessed" in row["recommendation"]


def test_a_noisier_judge_shifts_the_recommendation_to_judge_calls(design):
    """Per extra call: where responses vary little and the judge's calls split, another judge call
    is the better buy; where responses vary and the judge is sure of itself, another epoch."""
    sure, _ = simulate.simulate_with_truth("common", seed=3, design=design, models=1, epochs=2, judge_repeats=2,
                                           prompt_sd=3.0, response_sd=3.0)
    unsure, _ = simulate.simulate_with_truth("common", seed=3, design=design, models=1, epochs=2, judge_repeats=2,
                                             prompt_sd=0.3, response_sd=0.0)
    sure_row = noise.decompose(sure, fit_sds=False, n_boot=100).iloc[0]
    unsure_row = noise.decompose(unsure, fit_sds=False, n_boot=100).iloc[0]
    assert sure_row["judge_flip_rate"] < unsure_row["judge_flip_rate"]
    assert "per extra call, a 3rd epoch narrows the interval more" in sure_row["recommendation"]
    assert "per extra call, a 3rd judge call per response narrows" in unsure_row["recommendation"]


def test_per_requirement_rows_and_json_records(design):
    frame, _ = simulate.simulate_with_truth("common", seed=4, design=design, models=2, epochs=2, judge_repeats=2,
                                            response_sd=1.0)
    rows = noise.decompose(frame, ["model", "requirement"], fit_sds=False, n_boot=100)
    assert len(rows) == 2 * design["requirement"].nunique()
    assert (rows["n_checks"] == rows["requirement"].map(design["requirement"].value_counts())).all()
    records = noise.noise_records(rows)
    assert all(r["sd_prompt"] is None for r in records)  # NaN becomes null, not NaN
    assert {"judge_flip_rate_ci_low", "judge_flip_rate_ci_high", "se_rate"} <= set(records[0])


def test_the_simulator_without_repeats_draws_what_it_always_drew():
    """Hash of simulate_judgments("common", seed=1, design=synthetic_design(0), models=2), computed
    with the code before repeats existed (commit f2b7db4)."""
    frame = simulate.simulate_judgments("common", seed=1, design=simulate.synthetic_design(0), models=2)
    import hashlib

    digest = hashlib.sha256(pd.util.hash_pandas_object(frame[["model", "prompt_id", "requirement", "violation"]],
                                                       index=False).to_numpy().tobytes()).hexdigest()
    assert digest == "b4fe1df56f161c6d40ed5f70f3ad105c3253b82b8d070c2f9337bcd5f807bc15"
    assert "epoch" not in frame.columns
