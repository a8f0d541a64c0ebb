"""The selection check can fail: the selection-only band and the source x group contrast on
tables whose curation is simulated here by plain rejection sampling (independent of the grid
sampler in ``analysis.curation``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from eudaimonia_nb.analysis import curation, selection
from eudaimonia_nb.analysis.simulate import calibrated_effects

MODELS = ("GPT-4o", "Claude Sonnet 4", "Gemini 2.0 Flash",  # targets
          "GPT-5.4", "Gemini 3.1 Pro", "Claude Opus 4.6",  # rewriters
          "GPT-5.5", "Qwen3 8B")  # others
CURATION = {"GPT-4o": "GPT-4o", "Gemini2.0Flash": "Gemini 2.0 Flash", "Sonnet4": "Claude Sonnet 4"}


def _curated(benchmark, seed: int, *, source_effects: dict[str, float] | None = None,
             select: bool = True, prompt_sd: float = 1.0) -> pd.DataFrame:
    """Verdicts of MODELS on the benchmark's checks. With ``select``, each modified prompt's
    difficulty is redrawn until its curation model (the recorded responder) violates on at
    least one of its requirements, as the authors kept prompts; real prompts are unselected."""
    a, g = calibrated_effects(prompt_sd)
    checks = benchmark.checks
    rng = np.random.default_rng(seed)
    prompts = checks.drop_duplicates("prompt_id").set_index("prompt_id")
    labels = checks.groupby("prompt_id")["requirement"].agg(list)
    u = {}
    for pid, row in prompts.iterrows():
        while True:
            value = rng.normal(0.0, prompt_sd)
            if not select or row["source"] == "real":
                break
            p = expit(a[CURATION[row["responder_model"]]] + np.array([g[r] for r in labels[pid]]) + value)
            if (rng.random(len(p)) < p).any():
                break
        u[pid] = value
    base = checks["requirement"].map(g).to_numpy() + checks["prompt_id"].map(u).to_numpy()
    modified = (checks["source"] == "modified").to_numpy()
    frames = []
    for model in MODELS:
        b = (source_effects or {}).get(model, 0.0)
        eta = a[model] + base + b * modified
        frames.append(checks[["prompt_id", "requirement", "source", "responder_model"]].assign(
            model=model, violation=(rng.random(len(checks)) < expit(eta)).astype(float), error=""))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def selected_null(benchmark):
    return _curated(benchmark, seed=21)


@pytest.mark.slow
def test_selection_alone_produces_gaps_for_every_group_and_the_band_contains_them(selected_null):
    band = curation.selection_only_band(selected_null, prompt_sd=1.0, n_sims=200, seed=0).set_index("model_group")
    assert list(band.index) == ["target", "rewriter", "other"]
    # No source effect anywhere, yet selection shifts every group's gap upwards...
    assert (band["band_median"] > 0.01).all() and (band["adj_band_median"] > 0.01).all()
    assert (band["diff_adj"] > 0).all()
    # ...and the observed gaps fall inside the band selection alone produces.
    assert band["inside_band"].all(), band[["diff_adj", "adj_band_low", "adj_band_high"]]
    assert all("inside the selection-only band" in r for r in band["reading"])
    assert any("Real prompts were selected too" in n for n in band.attrs["notes"])
    # The reading names what it rests on and that its group verdicts are not adjusted (issue 23 point 6).
    assert any("published calibration" in n and "not adjusted for multiplicity" in n for n in band.attrs["notes"])
    # The group contrast cannot see shared-difficulty selection: target - other includes 0.
    contrast = selection.source_by_group(selected_null).set_index("contrast")
    row = contrast.loc["target - other"]
    assert row["ci_low"] < 0 < row["ci_high"]
    assert "cannot detect" in contrast.attrs["notes"][0]


@pytest.mark.slow
def test_a_real_source_effect_falls_outside_the_selection_only_band(benchmark):
    frame = _curated(benchmark, seed=22, select=False, source_effects={m: 0.6 for m in MODELS})
    band = curation.selection_only_band(frame, prompt_sd=1.0, n_sims=200, seed=0)
    assert not band["inside_band"].any(), band[["diff_adj", "adj_band_low", "adj_band_high"]]
    assert all("above the selection-only band" in r for r in band["reading"])


@pytest.mark.slow
def test_target_specific_selection_shows_in_the_source_by_group_term(benchmark):
    targets = {"GPT-4o": 0.5, "Claude Sonnet 4": 0.5, "Gemini 2.0 Flash": 0.5}
    frame = _curated(benchmark, seed=23, select=False, source_effects=targets)
    contrast = selection.source_by_group(frame).set_index("contrast")
    assert contrast.loc["target - other", "ci_low"] > 0
    assert contrast.loc["target - other", "estimate"] == pytest.approx(0.5, abs=0.2)
    assert contrast.loc["rewriter - other", "ci_low"] < 0 < contrast.loc["rewriter - other", "ci_high"]
    assert "excludes 0" in contrast.loc["target - other", "reading"]


def test_the_band_needs_the_curation_model_and_both_sources(selected_null):
    with pytest.raises(KeyError, match="responder_model"):
        curation.selection_only_band(selected_null.drop(columns="responder_model"), prompt_sd=1.0)
    with pytest.raises(ValueError, match="only modified"):
        curation.selection_only_band(selected_null[selected_null["source"] == "modified"], prompt_sd=1.0)
