"""Coverage of the 95% interval for the source effect over 200 simulated replicates on a
smaller design (200 real benchmark prompts, 4 models): the mixed model against the
conditional truth, GEE against the marginal truth (Gauss-Hermite, see simulate)."""

from __future__ import annotations

import numpy as np
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
        m = mixed.fit_mixed(frame, use_cache=False).source_effect
        g = gee.fit_gee(frame, use_cache=False).source_effect
        hits["mixed"] += m["ci_low"] <= conditional <= m["ci_high"]
        hits["gee"] += g["ci_low"] <= marginal <= g["ci_high"]
    coverage = {k: v / REPLICATES for k, v in hits.items()}
    assert 0.90 <= coverage["mixed"] <= 0.99, coverage
    assert 0.90 <= coverage["gee"] <= 0.99, coverage
