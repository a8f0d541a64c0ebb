"""The mixed model at leaderboard size: the blocked design (``laplace.Indicators``, dense columns
reduced to their distinct rows) computes exactly what the dense design computes, the closed-form
Hessian equals differences of the exact gradient, and at 110 models x 969 prompts (346,170
rows) both variants match lme4 and recover the known truth.

The lme4 numbers are stored in ``lme4_many_models_reference.py`` (provenance there); the data
come from ``lme4_cases.many_models_case``, a generator of its own, so the stored numbers do not
move when ``analysis.simulate`` changes. The fixed model's Laplace fit is checked against lme4's
own Laplace criterion evaluated at our estimates and at lme4's nAGQ=0 fit (log-likelihoods and
SEs), because glmer(nAGQ=1) with 120 parameters in bobyqa takes far too long on this machine to be
the reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from patsy import dmatrix

from eudaimonia_nb.analysis import mixed, simulate
from eudaimonia_nb.analysis.frames import model_data
from eudaimonia_nb.analysis.laplace import (Indicators, Problem, _laplace_and_grad, fit_prompt_intercept, full_hessian,
                                            full_hessian_cov, joint_mode, joint_mode_profile, laplace_beta_hessian)

import lme4_many_models_reference as ref
from lme4_cases import lme4_names, many_models_case, many_models_truth, small_case


def _random_problem(seed: int, continuous: bool) -> tuple[Problem, np.ndarray]:
    """A problem with three factor columns (and a continuous one, which stops the distinct-row
    reduction), two indicator blocks with reference rows, and the same design written out densely."""
    rng = np.random.default_rng(seed)
    n, q = 4000, 50
    group = rng.integers(0, q, n)
    a, b = rng.integers(0, 3, n), rng.integers(0, 4, n)
    columns = [np.ones(n), (a == 1) * 1.0, (a == 2) * 1.0, (b == 3) * 1.0]
    if continuous:
        columns.append(rng.normal(size=n))
    X = np.column_stack(columns)
    first = rng.integers(-1, 7, n)   # 7 columns, -1 = reference level
    second = np.where(a == 1, rng.integers(0, 5, n), -1)
    blocks = [Indicators(first, 7), Indicators(second, 5)]
    dense = np.column_stack([X] + [np.eye(k)[np.where(c >= 0, c, 0)] * (c >= 0)[:, None]
                                   for c, k in ((first, 7), (second, 5))])
    y = (rng.random(n) < 0.4).astype(float)
    return Problem(y, X, group, q, blocks), dense


@pytest.mark.parametrize("continuous", [False, True])
def test_blocked_design_products_equal_the_dense_ones(continuous):
    prob, dense = _random_problem(3, continuous)
    assert (prob.Xc is None) == continuous  # both ways of holding the dense columns are exercised
    rng = np.random.default_rng(4)
    coef, values, w = rng.normal(size=prob.P), rng.normal(size=len(prob.y)), rng.random(len(prob.y))
    Z = np.eye(prob.q)[prob.group]
    np.testing.assert_allclose(prob.xmul(coef), dense @ coef, rtol=0, atol=1e-12)
    np.testing.assert_allclose(prob.xtmul(values), dense.T @ values, rtol=0, atol=1e-10)
    A, Bt = prob.weighted_blocks(w)
    np.testing.assert_allclose(A, dense.T @ (dense * w[:, None]), rtol=0, atol=1e-10)
    np.testing.assert_allclose(Bt, Z.T @ (dense * w[:, None]), rtol=0, atol=1e-10)
    np.testing.assert_allclose(prob.ztwx(values), Z.T @ (dense * values[:, None]), rtol=0, atol=1e-10)


def test_the_closed_form_beta_hessian_equals_differences_of_the_exact_gradient():
    prob, _ = _random_problem(5, continuous=False)
    rng = np.random.default_rng(6)
    beta, t, u = 0.3 * rng.normal(size=prob.P), np.log(0.8), np.zeros(prob.q)
    closed = laplace_beta_hessian(prob, beta, t, u)
    h = 1e-5
    numeric = np.empty_like(closed)
    for j in range(prob.P):
        step = np.zeros(prob.P)
        step[j] = h
        plus = _laplace_and_grad(prob, beta + step, t, u)[1][:prob.P]
        minus = _laplace_and_grad(prob, beta - step, t, u)[1][:prob.P]
        numeric[:, j] = (plus - minus) / (2 * h)
    # The log-determinant's part (third and fourth derivatives) is what the Schur complement
    # misses; it must be there, and equal the differences to their own accuracy.
    u_hat = _laplace_and_grad(prob, beta, t, u)[2]
    *_, A, Bt, _, D = prob.blocks(beta, u_hat, np.exp(2 * t), np.zeros(prob.P))
    schur_only = -prob.schur(A, Bt, D)
    assert np.max(np.abs(closed - numeric)) < 1e-6 * np.max(np.abs(closed))
    assert np.max(np.abs(numeric - schur_only)) > 1e-3


def _dense_fit(frame: pd.DataFrame, interaction: bool):
    """The pre-blocking computation: patsy's full dense design, no indicator blocks."""
    data, rhs = model_data(frame, interaction=interaction)
    design = dmatrix(rhs, data)
    group, prompts = pd.factorize(data["prompt_id"])
    y = data["violation"].to_numpy(float)
    X = np.asarray(design, float)
    fit = fit_prompt_intercept(y, X, group, len(prompts))
    return list(design.design_info.column_names), fit, full_hessian_cov(y, X, group, len(prompts), fit)


@pytest.mark.parametrize("interaction", [False, True])
def test_the_blocked_fit_equals_the_dense_fit(benchmark, interaction):
    rng = np.random.default_rng(8)
    keep = rng.choice(benchmark.prompts["prompt_id"], 300, replace=False)
    frame = simulate.simulate_judgments("common", seed=9, design=benchmark.checks[benchmark.checks["prompt_id"].isin(keep)],
                                        models=6)
    names, dense, dense_full = _dense_fit(frame, interaction)
    blocked = mixed.fit_mixed(frame, interaction=interaction, use_cache=False)
    assert list(blocked.params.index) == names  # patsy's names, in patsy's order
    np.testing.assert_allclose(blocked.params["estimate"], dense.coef, rtol=0, atol=1e-8)
    np.testing.assert_allclose(blocked.params["std_error"], np.sqrt(np.diag(dense.cov)), rtol=1e-8)
    np.testing.assert_allclose(blocked.params_hessian["std_error"], np.sqrt(np.diag(dense_full)), rtol=1e-6)
    assert blocked.loglik == pytest.approx(dense.loglik, abs=1e-7)


def test_small_case_full_hessian_ses_are_unchanged_by_the_closed_form():
    """``params_hessian`` came from 2 (P + 1) gradient differences; the closed-form beta block
    must give the same SEs (the lme4 test holds them to 0.3%; here to 1e-6)."""
    result = mixed.fit_mixed(small_case(), use_cache=False)
    data, rhs = model_data(small_case())
    X = np.asarray(dmatrix(rhs, data), float)
    group, prompts = pd.factorize(data["prompt_id"])
    y = data["violation"].to_numpy(float)
    fit = fit_prompt_intercept(y, X, group, len(prompts))
    prob = Problem(y, X, group, len(prompts))
    p, t, h = X.shape[1], float(np.log(fit.prompt_sd)), 1e-4
    point = np.append(fit.coef, t)
    scale = np.append(np.sqrt(np.diag(fit.cov)), 1.0)
    numeric = np.empty((p + 1, p + 1))
    for j in range(p + 1):
        step = np.zeros(p + 1)
        step[j] = h * scale[j]
        plus = _laplace_and_grad(prob, point[:p] + step[:p], t + step[p], fit.u)[1]
        minus = _laplace_and_grad(prob, point[:p] - step[:p], t - step[p], fit.u)[1]
        numeric[:, j] = -(plus - minus) / (2 * step[j])
    numeric = (numeric + numeric.T) / 2
    differences = np.sqrt(np.diag(np.linalg.inv(numeric)[:p, :p]))
    np.testing.assert_allclose(result.params_hessian["std_error"], differences, rtol=1e-6)


@pytest.fixture(scope="module")
def many(benchmark):
    return many_models_case(benchmark.checks)


@pytest.fixture(scope="module")
def many_fixed(many):
    return mixed.fit_mixed(many, use_cache=False)


def _problem(frame: pd.DataFrame) -> tuple[Problem, list[str]]:
    """The fixed model's blocked problem and its coefficient names, as ``fit_mixed`` builds them."""
    data, rhs = model_data(frame)
    X, names, blocks, block_names = mixed.blocked_design(data, rhs)
    group, prompts = pd.factorize(data["prompt_id"])
    return Problem(data["violation"].to_numpy(float), X, group, len(prompts), blocks), names + block_names


@pytest.mark.slow
def test_110_models_joint_mode_and_its_profile_match_lme4_nagq0(many):
    """lme4's nAGQ=0 criterion on the blocked design: at lme4's prompt SD our joint mode gives
    lme4's 119 coefficients and SEs, and our stage 1 (``joint_mode_profile``) finds lme4's SD."""
    prob, names = _problem(many)
    assert prob.Xc is not None and len(prob.Xc) == 18 and prob.P == 119
    s2, pen = ref.FIXED_NAGQ0_PROMPT_SD**2, np.zeros(prob.P)
    coef, u, ok = joint_mode(prob, np.zeros(prob.P), np.zeros(prob.q), s2, pen)
    *_, A, Bt, _, D = prob.blocks(coef, u, s2, pen)
    se = np.sqrt(np.diag(np.linalg.inv(prob.schur(A, Bt, D))))
    theirs = np.array([ref.FIXED_NAGQ0[name] for name in lme4_names(names)])
    assert ok
    # Measured: 5e-10 SE and 2e-7 relative (lme4 prints 10 digits).
    assert np.max(np.abs(coef - theirs[:, 0]) / theirs[:, 1]) < 1e-6
    assert np.max(np.abs(se / theirs[:, 1] - 1)) < 1e-6
    profile = joint_mode_profile(prob)  # Brent to 1e-4 on log SD: measured 1.4e-5 from lme4's
    assert np.exp(profile.log_sd) == pytest.approx(ref.FIXED_NAGQ0_PROMPT_SD, abs=1e-4)


@pytest.mark.slow
def test_110_models_fixed_fit_is_at_the_maximum_of_lme4s_laplace_criterion(many, many_fixed):
    """lme4's own nAGQ=1 deviance function, evaluated once at this fit and once at lme4's nAGQ=0
    fit (``FIXED_NAGQ1_AT*``): our Laplace log-likelihood is lme4's at both points, lme4's SEs at
    our point are ours, and our point is higher on lme4's criterion than lme4's nAGQ=0 fit; our
    exact gradient is ~0 there. lme4's own gradient at our point (240 evaluations of 6-7 s) was not
    affordable on this machine, so stationarity is shown on our criterion, the one the two
    evaluations show to be lme4's."""
    assert len(many) == 110 * 3147
    result = many_fixed
    assert result.converged and result.n_groups == 969 and len(result.params) == 119
    names = lme4_names(list(result.params.index))
    assert names == list(ref.FIXED_NAGQ1_AT)  # lme4's column order, which its devfun reads
    at = np.array([ref.FIXED_NAGQ1_AT[n] for n in names])
    beta, se = result.params["estimate"].to_numpy(), result.params["std_error"].to_numpy()
    sd = result.variance_components["sd"].iloc[0]
    # lme4 was run at this very fit (measured: identical to the last digit on this machine).
    assert np.max(np.abs(beta - at[:, 0]) / se) < 1e-6
    assert sd == pytest.approx(ref.FIXED_NAGQ1_AT_THETA, abs=1e-8)
    # Same criterion at our point: log-likelihood measured 1.8e-7 apart, SEs (use.hessian = FALSE)
    # 3.8e-10 relative (lme4 prints 10 digits).
    assert result.loglik == pytest.approx(ref.FIXED_NAGQ1_AT_LOGLIK, abs=1e-5)
    np.testing.assert_allclose(se, at[:, 1], rtol=1e-8)
    # ...and at a second point, lme4's nAGQ=0 fit (0.14 SE and 2e-5 in SD away): measured 1.6e-7.
    prob, _ = _problem(many)
    nagq0 = np.array([ref.FIXED_NAGQ0[n][0] for n in names])
    assert np.max(np.abs(beta - nagq0) / se) > 0.1
    there = _laplace_and_grad(prob, nagq0, float(np.log(ref.FIXED_NAGQ0_PROMPT_SD)), np.zeros(prob.q))[0]
    assert there == pytest.approx(ref.FIXED_NAGQ1_AT_NAGQ0_LOGLIK, abs=1e-5)
    # lme4's criterion is higher at our point (measured by 0.1128), and our gradient there, as a
    # Newton step with the full Hessian in (beta, log SD), is tiny next to the 0.14 SE between the
    # two points (measured 4.9e-6 SE at most): ours is the stationary point, not just the higher one.
    assert ref.FIXED_NAGQ1_AT_NAGQ0_LOGLIK < ref.FIXED_NAGQ1_AT_LOGLIK - 0.05
    _, gradient, u = _laplace_and_grad(prob, beta, float(np.log(sd)), np.zeros(prob.q))
    cov = np.linalg.inv(full_hessian(prob, beta, float(np.log(sd)), u))
    step = (cov @ gradient) / np.sqrt(np.diag(cov))
    assert np.max(np.abs(step)) < 1e-4


@pytest.mark.slow
def test_110_models_fixed_fit_recovers_the_truth(many_fixed):
    result = many_fixed
    # Known truth: the source effect, the prompt SD and 109 model contrasts.
    truth = many_models_truth()
    a = truth["model_intercepts"]
    source = result.source_effect
    assert source["ci_low"] <= truth["source_effect"] <= source["ci_high"]
    sd = result.variance_components.iloc[0]
    assert sd["sd_ci_low"] <= truth["prompt_sd"] <= sd["sd_ci_high"]
    contrasts = result.params.loc[result.params.index.str.startswith("model[T.")]
    true_contrasts = np.array([a[name[8:-1]] - a["m000"] for name in contrasts.index])
    z = (contrasts["estimate"].to_numpy() - true_contrasts) / contrasts["std_error"].to_numpy()
    # 109 correlated contrasts (all against m000): the share outside +-1.96 stays near 5%.
    assert np.mean(np.abs(z) > 1.96) < 0.15 and abs(np.mean(z)) < 1.0


@pytest.mark.slow
def test_110_models_crossed_fit_matches_lme4_nagq0(many):
    result = mixed.fit_mixed(many, model_effect="random", use_cache=False)
    assert result.converged and len(result.params) == 10
    ours = result.params.set_axis(lme4_names(list(result.params.index)))
    for term, (estimate, se) in ref.CROSSED_NAGQ0.items():
        # Same criterion (nAGQ=0): within 1e-4 SE and SEs within 0.01% (measured 7e-6 SE, 1.6e-5).
        assert abs(ours.loc[term, "estimate"] - estimate) < 1e-4 * se, term
        assert ours.loc[term, "std_error"] == pytest.approx(se, rel=1e-4), term
    sds = result.variance_components.set_index("name")["sd"]
    assert sds["prompt_id"] == pytest.approx(ref.CROSSED_NAGQ0_SD["prompt_id"], abs=1e-4)
    assert sds["model"] == pytest.approx(ref.CROSSED_NAGQ0_SD["model"], abs=1e-4)
    # The model SD is estimated from 110 drawn intercepts: near their spread (truth 0.6).
    drawn = np.std(list(many_models_truth()["model_intercepts"].values()), ddof=1)
    assert abs(sds["model"] - drawn) < 0.1 and abs(sds["model"] - 0.6) < 0.15


def test_simulate_many_models_draws_distinct_models_with_known_truth(benchmark):
    frame, truth = simulate.simulate_many_models(40, seed=2, design=benchmark.checks)
    assert frame["model"].nunique() == 40 and len(frame) == 40 * 3147
    assert frame.attrs["simulated"] and frame["simulated"].all()
    intercepts = np.array(list(truth.model_intercepts.values()))
    assert len(set(intercepts.round(12))) == 40 and 0.4 < intercepts.std(ddof=1) < 0.8
    # Same seed, same draws; the prompt effects are simulate_with_truth's.
    again, _ = simulate.simulate_many_models(40, seed=2, design=benchmark.checks)
    assert again["violation"].equals(frame["violation"])
    _, base = simulate.simulate_with_truth("common", seed=2, design=benchmark.checks, models=2)
    assert truth.prompt_effects.equals(base.prompt_effects)
    # The fit recovers the drawn intercepts and the common source effect.
    result = mixed.fit_mixed(frame, use_cache=False)
    true = truth.fixed_effects().reindex(result.params.index)
    z = (result.params["estimate"] - true) / result.params["std_error"]
    assert z.notna().all() and abs(z["source[T.modified]"]) < 2.5 and np.mean(np.abs(z) > 1.96) < 0.15
    with pytest.raises(ValueError, match="at least 2"):
        simulate.simulate_many_models(1)


def _statsmodels_gee(frame: pd.DataFrame, interaction: bool, maxiter: int = 100):
    """statsmodels' GEE on patsy's dense design: what ``fit_gee`` called before it was blocked."""
    import statsmodels.api as sm

    data, rhs = model_data(frame, interaction=interaction)
    design = dmatrix(rhs, data)
    order = np.argsort(data["prompt_id"].to_numpy(), kind="stable")
    groups = pd.factorize(data["prompt_id"].to_numpy()[order])[0]
    model = sm.GEE(data["violation"].to_numpy(float)[order], np.asarray(design)[order], groups=groups,
                   family=sm.families.Binomial(), cov_struct=sm.cov_struct.Exchangeable())
    fit = model.fit(maxiter=maxiter)
    return list(design.design_info.column_names), fit, float(np.squeeze(model.cov_struct.dep_params))


@pytest.mark.parametrize("models, interaction", [(22, False), (5, True)])
def test_the_blocked_gee_reproduces_statsmodels(benchmark, models, interaction):
    from eudaimonia_nb.analysis import gee

    frame = simulate.simulate_judgments("common", seed=0, design=benchmark.checks, models=models)
    names, reference, correlation = _statsmodels_gee(frame, interaction)
    ours = gee.fit_gee(frame, interaction=interaction, use_cache=False)
    assert list(ours.params.index) == names and ours.converged
    np.testing.assert_allclose(ours.params["estimate"], reference.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.params["std_error"], reference.bse, rtol=1e-9)
    assert ours.working_correlation == pytest.approx(correlation, abs=1e-12)


def test_the_blocked_gee_stops_at_the_iteration_cap_where_statsmodels_does(benchmark):
    from eudaimonia_nb.analysis import gee

    rng = np.random.default_rng(5)
    keep = rng.choice(benchmark.prompts["prompt_id"], 150, replace=False)
    frame = simulate.simulate_judgments("common", seed=6, design=benchmark.checks[benchmark.checks["prompt_id"].isin(keep)],
                                        models=3)
    with pytest.warns(Warning, match="Iteration limit"):
        _, reference, _ = _statsmodels_gee(frame, False, maxiter=2)
    capped = gee.fit_gee(frame, maxiter=2, use_cache=False)
    assert not capped.converged and "Iteration limit reached" in capped.message
    np.testing.assert_allclose(capped.params["estimate"], reference.params, rtol=0, atol=1e-10)
