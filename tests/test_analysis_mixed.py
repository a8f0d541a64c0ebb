"""The mixed model and GEE: parameter recovery on the full design, and a cross-check of the
Laplace fit against statsmodels' variational Bayes posterior means."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

import eudaimonia_nb
from eudaimonia_nb.analysis import gee, mixed, simulate
from eudaimonia_nb.analysis.frames import model_data


@pytest.fixture(scope="module")
def full(benchmark):
    frame, truth = simulate.simulate_with_truth("common", seed=0, design=benchmark.checks)
    return frame, truth


@pytest.mark.slow
def test_recovery_on_22_models_over_the_full_design(full, benchmark):
    frame, truth = full
    assert len(frame) == 22 * 3147
    result = eudaimonia_nb.fit_mixed(frame)
    assert result.converged and result.n_obs == len(frame) and result.n_groups == 969
    params, true = result.params, truth.fixed_effects()
    z = (params["estimate"] - true.reindex(params.index)) / params["std_error"]
    assert z.notna().all()
    assert abs(z["source[T.modified]"]) < 2
    requirement_z = z[z.index.str.startswith("requirement")]
    assert len(requirement_z) == 8 and (requirement_z.abs() < 2).all(), requirement_z.to_dict()
    sd = result.variance_components.set_index("name").loc["prompt_id"]
    sd_se = (np.log(sd["sd_ci_high"]) - np.log(sd["sd"])) / 1.96 * sd["sd"]
    assert abs(sd["sd"] - truth.prompt_sd) < 2 * sd_se
    assert "Laplace" in result.method and "prompt" in result.assumptions
    reading = result.reading()
    assert f"{result.source_effect['odds_ratio']:.2f} times" in reading and "fewer violations" in reading
    assert reading.startswith("[SIMULATED DATA]")
    assert result.references == {"source": "real", "requirement": "1B_intentional_human_speech",
                                 "model": sorted(truth.models)[0]}
    # A second call with the same frame comes from the cache.
    assert eudaimonia_nb.fit_mixed(frame.copy()) is result

    g = eudaimonia_nb.fit_gee(frame)
    marginal = simulate.marginal_source_effect(truth, benchmark.checks)
    row = g.source_effect
    assert abs(row["estimate"] - marginal) < 2 * row["std_error"]
    assert abs(row["estimate"]) < abs(result.source_effect["estimate"])  # attenuation
    assert "agree" in gee.compare(result, g) and "DISAGREE" not in gee.compare(result, g)


def _vb_fit(frame):
    from patsy import dmatrix
    from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

    data, rhs = model_data(frame)
    X = dmatrix(rhs, data, return_type="dataframe")
    codes = data["prompt_id"].astype("category").cat.codes.to_numpy()
    Z = sparse.csr_matrix((np.ones(len(codes)), (np.arange(len(codes)), codes)))
    model = BinomialBayesMixedGLM(data["violation"].to_numpy(), X, Z, np.zeros(Z.shape[1], dtype=int),
                                  fe_p=10.0)
    return model.fit_vb(fit_method="L-BFGS-B", rng=0), list(X.columns)


def test_laplace_agrees_with_statsmodels_variational_bayes_means(benchmark):
    rng = np.random.default_rng(1)
    keep = rng.choice(benchmark.prompts["prompt_id"], 300, replace=False)
    design = benchmark.checks[benchmark.checks["prompt_id"].isin(keep)]
    frame = simulate.simulate_judgments("common", seed=2, design=design, models=5)
    ours = mixed.fit_mixed(frame, use_cache=False)
    vb, names = _vb_fit(frame)
    means = dict(zip(names, vb.fe_mean))
    for term in ("source[T.modified]", "requirement[T.2C_flattery_tone]", "model[T.Claude Opus 4.7]"):
        # VB means sit on the Laplace mode to within a small fraction of a standard error.
        assert abs(means[term] - ours.params.loc[term, "estimate"]) < 0.15 * ours.params.loc[term, "std_error"]
    assert np.exp(vb.vcp_mean[0]) == pytest.approx(ours.variance_components["sd"].iloc[0], rel=0.05)
    # ...while VB's own SDs are far too small: the reason it is not used for intervals.
    vb_sd = dict(zip(names, vb.fe_sd))["source[T.modified]"]
    assert vb_sd < 0.6 * ours.params.loc["source[T.modified]", "std_error"]
    # The cache key includes the simulated flag: the same numbers without it are a new fit
    # that does not claim to be simulated.
    flagged = mixed.fit_mixed(frame)
    plain = frame.drop(columns="simulated")
    plain.attrs = {}
    unflagged = mixed.fit_mixed(plain)
    assert flagged.simulated and not unflagged.simulated
    assert unflagged.params["estimate"].equals(flagged.params["estimate"])


def test_gee_reports_an_iteration_cap_instead_of_claiming_convergence(benchmark, caplog):
    rng = np.random.default_rng(5)
    keep = rng.choice(benchmark.prompts["prompt_id"], 150, replace=False)
    frame = simulate.simulate_judgments("common", seed=6, design=benchmark.checks[benchmark.checks["prompt_id"].isin(keep)],
                                        models=3)
    assert gee.fit_gee(frame, use_cache=False).converged
    with caplog.at_level("WARNING", logger="eudaimonia_nb.analysis.gee"):
        capped = gee.fit_gee(frame, maxiter=2, use_cache=False)
    assert not capped.converged and "Iteration limit" in capped.message
    assert "did not converge" in caplog.text
    assert "did not converge" in capped.reading()


def test_random_model_effect_and_interaction_layouts(benchmark):
    frame = simulate.simulate_judgments("common", seed=3, design=benchmark.checks, models=6)
    crossed = mixed.fit_mixed(frame, model_effect="random")
    assert not crossed.params.index.str.startswith("model").any()
    assert list(crossed.variance_components["name"]) == ["prompt_id", "model"]
    assert crossed.source_effect["ci_low"] < -0.35 < crossed.source_effect["ci_high"]
    inter = mixed.fit_mixed(frame, interaction=True)
    assert inter.params.index.str.startswith("source[T.modified]:model[T.").sum() == 5
    # With source x model the main effect is the reference model's, and the reading says whose.
    reference = sorted(frame["model"].unique())[0]
    assert inter.references["model"] == reference and f"for {reference} (the reference model" in inter.reading()
    with pytest.raises(ValueError, match="interaction=True needs"):
        mixed.fit_mixed(frame, interaction=True, model_effect="random")
    for column in ("estimate", "std_error", "ci_low", "ci_high", "odds_ratio"):
        assert column in inter.params.columns
