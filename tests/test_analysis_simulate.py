"""The simulator: designs with the benchmark's counts, flags, and the calibrated demo."""

from __future__ import annotations

import numpy as np
import pytest

from eudaimonia_nb.analysis import simulate
from eudaimonia_nb.analysis.published import leaderboard, real_modified_pairs
from eudaimonia_nb.analysis.rates import model_rates, real_vs_modified


def test_synthetic_design_has_the_real_benchmarks_counts(benchmark):
    synthetic = simulate.synthetic_design()
    real = benchmark.checks
    count = lambda d: d.groupby(["requirement", "source"]).size().sort_index()
    assert count(synthetic).equals(count(real))
    labels = lambda d: d.groupby(["source", "prompt_id"]).size().groupby("source").value_counts().sort_index()
    assert labels(synthetic).equals(labels(real))
    origins = lambda d: d.drop_duplicates("prompt_id").groupby(["rewriter_model", "responder_model"]).size()
    assert origins(synthetic).equals(origins(real))


def test_simulated_tables_are_flagged_and_reproducible(benchmark):
    frame, truth = simulate.simulate_with_truth("common", seed=4, design=benchmark.checks, models=3)
    assert frame.attrs["simulated"] and frame["simulated"].all()
    assert len(frame) == 3 * 3147 and set(frame["violation"].unique()) <= {0.0, 1.0}
    assert truth.common_source_effect == -0.35 and truth.models == tuple(leaderboard()["model"][:3])
    again = simulate.simulate_judgments("common", seed=4, design=benchmark.checks, models=3)
    assert again.equals(frame)
    assert not simulate.simulate_judgments("common", seed=5, design=benchmark.checks, models=3).equals(frame)
    assert model_rates(frame).attrs["simulated"]


def test_demo_is_calibrated_to_the_published_figures(dataset_path, monkeypatch):
    monkeypatch.setenv("EUDAIMONIA_DATASET", str(dataset_path))
    demo = simulate.demo_judgments()
    assert len(demo) == 22 * 3147 and demo.attrs["simulated"]
    assert demo.equals(simulate.demo_judgments())
    # Deterministic from scratch, not only through the cache.
    simulate._demo.cache_clear()
    simulate._calibrate.cache_clear()
    assert demo.equals(simulate.demo_judgments())
    _assert_matches_the_paper(demo)
    assert np.sign(real_vs_modified(demo, n_boot=200).set_index("model").loc["Claude Opus 4.6", "diff"]) == -1


def _assert_matches_the_paper(demo) -> None:
    """The demo is calibrated on its own draws: a reader comparing its leaderboard with the paper
    sees the paper's numbers (one plain draw from the marginal calibration missed by up to 2.4
    points overall and 3.8 in a real/modified pair)."""
    rates = model_rates(demo, n_boot=200).set_index("model")["rate"]
    published = leaderboard().set_index("model")["overall"]
    assert set(rates.index) == set(published.index)
    assert (rates - published.reindex(rates.index)).abs().max() <= 0.005
    pairs = real_modified_pairs().set_index("model")
    split = real_vs_modified(demo, n_boot=200).set_index("model").loc[pairs.index]
    assert (split["rate_real"] - pairs["real"]).abs().max() <= 0.01
    assert (split["rate_modified"] - pairs["modified"]).abs().max() <= 0.01
    assert demo.attrs["simulated"] and demo["simulated"].all()


def test_the_demo_on_the_synthetic_design_matches_the_paper_too(monkeypatch, tmp_path):
    monkeypatch.delenv("EUDAIMONIA_DATASET", raising=False)
    monkeypatch.setenv("EUDAIMONIA_DATA_DIR", str(tmp_path))
    demo = simulate.demo_judgments()
    assert demo["prompt_id"].str.startswith("sim-").all()
    _assert_matches_the_paper(demo)


def test_matching_the_draws_keeps_them_and_moves_only_the_leaderboard_models(benchmark):
    plain, truth = simulate.simulate_with_truth("published", seed=3, design=benchmark.checks, models=3)
    matched, shifted = simulate.simulate_with_truth("published", seed=3, design=benchmark.checks, models=3,
                                                    match_draws=True)
    # The same prompt effects; the verdicts move only where the shift crosses a check's draw.
    assert truth.prompt_effects.equals(shifted.prompt_effects)
    assert (plain["violation"] != matched["violation"]).mean() < 0.05
    assert all(abs(shifted.model_intercepts[m] - truth.model_intercepts[m]) < 0.3 for m in truth.models)
    with pytest.raises(ValueError, match="preset 'published'"):
        simulate.simulate_with_truth("common", seed=3, design=benchmark.checks, models=1, match_draws=True)


def test_marginal_effect_is_attenuated_as_the_notes_say(benchmark):
    _, truth = simulate.simulate_with_truth("common", seed=0, design=benchmark.checks, models=22)
    marginal = simulate.marginal_source_effect(truth, benchmark.checks)
    assert -0.35 / np.sqrt(1 + 0.346) * 1.05 < marginal < -0.35 / np.sqrt(1 + 0.346) * 0.95


def test_the_demo_follows_the_benchmark_file_in_use(dataset_path, monkeypatch, tmp_path):
    # Without a benchmark file the demo runs on a synthetic design with the same counts; once a
    # file is named (or fetched), the next demo is on the real design, not the cached synthetic one.
    monkeypatch.delenv("EUDAIMONIA_DATASET", raising=False)
    monkeypatch.setenv("EUDAIMONIA_DATA_DIR", str(tmp_path))
    synthetic = simulate.demo_judgments()
    assert synthetic["prompt_id"].str.startswith("sim-").all()
    monkeypatch.setenv("EUDAIMONIA_DATASET", str(dataset_path))
    real = simulate.demo_judgments()
    assert not real["prompt_id"].str.startswith("sim-").any() and len(real) == len(synthetic)
