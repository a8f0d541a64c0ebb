"""Coverage over 200 simulated replicates: the 95% interval for the source effect on a
smaller design (200 real benchmark prompts, 4 models): the mixed model against the
conditional truth, GEE against the marginal truth (Gauss-Hermite, see simulate); and the
pooled requirement x source rates of 22 models against their expected rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eudaimonia_nb.analysis import gee, mixed, simulate

REPLICATES = 200


@pytest.mark.slow
def test_source_effect_intervals_reach_nominal_coverage(benchmark):
    rng = np.random.default_rng(0)
    keep = rng.choice(benchmark.prompts["prompt_id"], 200, replace=False)
    design = benchmark.checks[benchmark.checks["prompt_id"].isin(keep)]
    _, truth = simulate.simulate_with_truth("common", seed=0, design=design, models=4)
    conditional = truth.common_source_effect
    marginal = simulate.marginal_source_effect(truth, design)
    hits = {"mixed": 0, "gee": 0}
    for seed in range(REPLICATES):
        frame = simulate.simulate_judgments("common", seed=1000 + seed, design=design, models=4)
        m = mixed.fit_mixed(frame, small_sample=False, use_cache=False).source_effect
        g = gee.fit_gee(frame, use_cache=False).source_effect
        hits["mixed"] += m["ci_low"] <= conditional <= m["ci_high"]
        hits["gee"] += g["ci_low"] <= marginal <= g["ci_high"]
    coverage = {k: v / REPLICATES for k, v in hits.items()}
    assert 0.90 <= coverage["mixed"] <= 0.99, coverage
    assert 0.90 <= coverage["gee"] <= 0.99, coverage


POOLED_REPLICATES = 200


@pytest.mark.slow
def test_pooled_requirement_by_source_intervals_cover_like_95_percent(benchmark):
    """The Requirements tab's real/modified bars pool every model's checks of a prompt. Over 200
    replicates (22 models, 300 benchmark prompts, fresh prompt effects and verdicts each), the
    cluster-robust interval of each requirement x source cell must cover the cell's expected
    rate (Gauss-Hermite over the prompt effect) 93-97% of the time on average; Wilson's, which
    treats the pooled checks as independent, must not. (The interval was chosen on seeds
    5000-5199, where the percentile prompt bootstrap covered 0.923 and this one 0.938; these
    seeds are fresh.)"""
    from eudaimonia_nb.analysis.rates import violation_rates, wilson_interval

    rng = np.random.default_rng(3)
    keep = rng.choice(benchmark.prompts["prompt_id"], 300, replace=False)
    design = benchmark.checks[benchmark.checks["prompt_id"].isin(keep)]
    _, truth = simulate.simulate_with_truth("common", seed=0, design=design)
    cells = design.groupby(["requirement", "source"]).size().rename("n").reset_index()
    expected = []
    for _, cell in cells.iterrows():
        eta = np.array([truth.model_intercepts[m] for m in truth.models]) + truth.requirement_effects[cell["requirement"]] \
            + (truth.common_source_effect if cell["source"] == "modified" else 0.0)
        expected.append(simulate.marginal_probability(eta, truth.prompt_sd).mean())
    truth_by_cell = pd.Series(expected, index=pd.MultiIndex.from_frame(cells[["requirement", "source"]]))
    hits = np.zeros(len(cells))
    wilson_hits = np.zeros(len(cells))
    for seed in range(POOLED_REPLICATES):
        frame = simulate.simulate_judgments("common", seed=7000 + seed, design=design)
        rates = violation_rates(frame, ["requirement", "source"]).set_index(["requirement", "source"])
        assert rates["ci_method"].str.startswith("cluster-robust").all()
        target = truth_by_cell.reindex(rates.index).to_numpy()
        hits += (rates["ci_low"].to_numpy() <= target) & (target <= rates["ci_high"].to_numpy())
        low, high = wilson_interval(rates["n_violations"], rates["n_checks"])
        wilson_hits += (low <= target) & (target <= high)
    coverage = hits / POOLED_REPLICATES
    mean = float(coverage.mean())
    # Monte Carlo error: binomial per cell; the mean over 18 correlated cells is at most as noisy.
    mc_error = float(np.sqrt(0.95 * 0.05 / POOLED_REPLICATES))
    report = (f"cluster-robust coverage mean {mean:.3f} (cells {coverage.min():.3f}-{coverage.max():.3f}), Wilson "
              f"{wilson_hits.mean() / POOLED_REPLICATES:.3f}; Monte Carlo SE per cell {mc_error:.3f}")
    print(report)
    assert 0.93 <= mean <= 0.97, report
    assert coverage.min() >= 0.95 - 4 * mc_error, report
    assert wilson_hits.mean() / POOLED_REPLICATES < 0.85, report
