"""The report's first real-versus-modified sentence counts models by the requirement-adjusted gap
(``diff_adj``, ``p_holm_adj``), not by the raw gap, which also compares different requirement
mixes (real prompts carry more engagement-hook and flattery checks)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from eudaimonia_nb.analysis.rates import real_vs_modified
from eudaimonia_nb.analysis.simulate import simulate_judgments
from eudaimonia_nb.report.appendix import _gap_sentence

# A dataset with no source effect at all (preset "null": the published calibration's model and
# requirement effects, every source effect 0) on the benchmark's design. Over seeds 0-39 the raw
# gap's Holm test named at least one model in 6 datasets (15%), the adjusted one in none; seed 39
# is the one where the raw gap names the most models (3 of 22), so the old sentence fails here.
NULL_SEED = 39


def _counts(sentence: str) -> tuple[int, int, int]:
    found = re.search(r"more violations than real ones for (\d+) of (\d+) models and fewer for (\d+)", sentence)
    assert found, sentence
    return int(found[1]), int(found[2]), int(found[3])


def test_headline_on_a_null_dataset_with_the_benchmarks_requirement_mix_names_no_model(benchmark):
    frame = simulate_judgments("null", seed=NULL_SEED, design=benchmark.checks)
    comparison = real_vs_modified(frame, n_boot=400, seed=NULL_SEED)
    assert (comparison["p_holm"] < 0.05).sum() >= 1  # the raw gap would have named models
    sentence = _gap_sentence(comparison, None)
    higher, total, lower = _counts(sentence)
    assert (higher, total, lower) == (0, 22, 0), sentence
    assert f"median adjusted gap {np.median(comparison['diff_adj']) * 100:+.1f} points" in sentence
    # The raw gap is quoted only as such.
    assert "raw gap, which also compares different requirement mixes" in sentence


def test_headline_counts_the_adjusted_gap_and_quotes_its_median():
    comparison = pd.DataFrame({
        "model": ["a", "b", "c", "d"],
        # raw gaps all significantly negative (a requirement-mix artefact) ...
        "diff": [-0.05, -0.04, -0.06, -0.05], "p_holm": [0.001, 0.002, 0.001, 0.003],
        # ... adjusted: one model higher, one lower, two not significant.
        "diff_adj": [0.04, -0.03, 0.01, 0.0], "p_holm_adj": [0.01, 0.02, 0.4, 0.9]})
    sentence = _gap_sentence(comparison, None)
    assert _counts(sentence) == (1, 4, 1)
    assert "median adjusted gap +0.5 points" in sentence and "has median -5.0 points" in sentence
    missing = comparison.assign(diff_adj=np.nan)
    assert _gap_sentence(missing, None) == "Real versus modified prompts: not estimable in this selection."
