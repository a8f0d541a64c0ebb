"""Laplace-approximation fitting of a logistic model with a random intercept per cluster
(prompt), optionally plus penalised dense random effects (model intercepts), as lme4's glmer.

With one random intercept per prompt the random-effects block Z'WZ is diagonal, so every
Newton step solves a (fixed effects) x (fixed effects) Schur complement; nothing of size
prompts x prompts is ever formed.

Notation: eta = X beta + u[group], u ~ N(0, s^2). For the crossed variant the dense block is
[X, M] with M the model indicators and a ridge 1/s_m^2 on M's coefficients (their prior).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, sparse
from scipy.special import expit, log1p

_MAX_STEP = 20


@dataclass
class LaplaceFit:
    """The fitted mode, variance parameters and curvature of a Laplace fit."""

    coef: np.ndarray
    """Dense-block coefficients (fixed effects, then any penalised model effects)."""
    u: np.ndarray
    """Conditional modes of the prompt intercepts."""
    prompt_sd: float
    """Estimated prompt intercept SD."""
    log_prompt_sd_se: float
    """Standard error of log(prompt SD), from the curvature of the Laplace likelihood
    (NaN for the crossed variant)."""
    model_sd: float | None
    """Estimated model intercept SD (crossed variant), else None."""
    cov: np.ndarray
    """Inverse of the Schur complement of the joint negative Hessian for the dense block."""
    loglik: float
    """Laplace-approximate marginal log-likelihood at the optimum."""
    converged: bool
    """Whether the optimisers reported success and the final gradient is small."""
    message: str
    """Optimiser notes, for the record."""
    n_evals: int
    """Objective evaluations used."""


def bernoulli_weight(eta: np.ndarray) -> np.ndarray:
    """The IRLS weight mu (1 - mu) at log-odds ``eta``, computed as expit(eta) expit(-eta).

    ``mu * (1 - mu)`` rounds to exactly 0 once ``mu`` rounds to 1 (eta > ~37): a level that
    always violates then gives a singular Hessian, while the never-violating side only worked
    because expit(-40) does not round to 0. The symmetric product stays positive on both sides.
    """
    return expit(eta) * expit(-eta)


def _bernoulli_loglik(y: np.ndarray, eta: np.ndarray) -> float:
    # log(1 + e^eta) computed stably for large |eta|.
    return float(np.sum(y * eta - np.logaddexp(0.0, eta)))


class _Problem:
    """Data and the building blocks of the penalised likelihood."""

    def __init__(self, y: np.ndarray, X: np.ndarray, group: np.ndarray, n_groups: int):
        self.y, self.X, self.group, self.q = y, X, group, n_groups
        n = len(y)
        self.Zt = sparse.csr_matrix((np.ones(n), (group, np.arange(n))), shape=(n_groups, n))

    def gsum(self, values: np.ndarray) -> np.ndarray:
        """Sums per prompt (Z' values), for a vector or an n x k matrix."""
        if values.ndim == 1:
            return np.bincount(self.group, weights=values, minlength=self.q)
        return np.asarray(self.Zt @ values)

    def xmul(self, coef: np.ndarray) -> np.ndarray:
        """The dense block times ``coef`` (X coef)."""
        return self.X @ coef

    def xtmul(self, values: np.ndarray) -> np.ndarray:
        """The dense block transposed times a row vector (X' values)."""
        return self.X.T @ values

    def weighted_blocks(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """X'WX (p x p) and Z'WX (q x p)."""
        Xw = self.X * w[:, None]
        return self.X.T @ Xw, self.gsum(Xw)

    def blocks(self, coef: np.ndarray, u: np.ndarray, s2: float, pen: np.ndarray) -> tuple[np.ndarray, ...]:
        eta = self.xmul(coef) + u[self.group]
        mu = expit(eta)
        w = bernoulli_weight(eta)
        resid = self.y - mu
        XtWX, Bt = self.weighted_blocks(w)  # Bt: q x p, per prompt sum of w x
        A = XtWX + np.diag(pen)
        d = self.gsum(w)
        D = d + 1.0 / s2
        return eta, mu, w, resid, A, Bt, d, D

    def schur(self, A: np.ndarray, Bt: np.ndarray, D: np.ndarray) -> np.ndarray:
        return A - Bt.T @ (Bt / D[:, None])

    def penalised(self, eta: np.ndarray, coef: np.ndarray, u: np.ndarray, s2: float, pen: np.ndarray) -> float:
        return _bernoulli_loglik(self.y, eta) - 0.5 * float(u @ u) / s2 - 0.5 * float(coef @ (pen * coef))


class _IndicatorProblem(_Problem):
    """A dense block [X, M] whose trailing columns M are the indicators of ``codes`` (the
    crossed model's model effects), handled as sums per code instead of dense columns: the
    products cost O(n p) rather than O(n (p + k)^2)."""

    def __init__(self, y: np.ndarray, X: np.ndarray, codes: np.ndarray, n_codes: int, group: np.ndarray,
                 n_groups: int):
        super().__init__(y, X, group, n_groups)
        self.codes, self.k, self.p = codes, n_codes, X.shape[1]
        self.cell = group * n_codes + codes  # prompt x code, for Z'WM
        self.Mt = sparse.csr_matrix((np.ones(len(y)), (codes, np.arange(len(y)))), shape=(n_codes, len(y)))

    def xmul(self, coef: np.ndarray) -> np.ndarray:
        return self.X @ coef[:self.p] + coef[self.p:][self.codes]

    def xtmul(self, values: np.ndarray) -> np.ndarray:
        return np.concatenate([self.X.T @ values, np.bincount(self.codes, weights=values, minlength=self.k)])

    def weighted_blocks(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Xw = self.X * w[:, None]
        p, k = self.p, self.k
        A = np.empty((p + k, p + k))
        A[:p, :p] = self.X.T @ Xw
        MtWX = np.asarray(self.Mt @ Xw)  # k x p
        A[:p, p:], A[p:, :p] = MtWX.T, MtWX
        A[p:, p:] = np.diag(np.bincount(self.codes, weights=w, minlength=k))
        ZtWM = np.bincount(self.cell, weights=w, minlength=self.q * k).reshape(self.q, k)
        return A, np.hstack([self.gsum(Xw), ZtWM])


def joint_mode(prob: _Problem, coef: np.ndarray, u: np.ndarray, s2: float, pen: np.ndarray,
               tol: float = 1e-9, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray, bool]:
    """Penalised IRLS (Newton with step halving) for the joint mode of (coef, u)."""
    coef, u = coef.copy(), u.copy()
    eta = prob.xmul(coef) + u[prob.group]
    value = prob.penalised(eta, coef, u, s2, pen)
    for _ in range(max_iter):
        eta, mu, w, resid, A, Bt, d, D = prob.blocks(coef, u, s2, pen)
        g_coef = prob.xtmul(resid) - pen * coef
        g_u = prob.gsum(resid) - u / s2
        S = prob.schur(A, Bt, D)
        step_coef = np.linalg.solve(S, g_coef - Bt.T @ (g_u / D))
        step_u = (g_u - Bt @ step_coef) / D
        scale = 1.0
        for _ in range(_MAX_STEP):
            new_coef, new_u = coef + scale * step_coef, u + scale * step_u
            new_eta = prob.xmul(new_coef) + new_u[prob.group]
            new_value = prob.penalised(new_eta, new_coef, new_u, s2, pen)
            if new_value >= value - 1e-10 * abs(value):
                break
            scale /= 2
        coef, u = new_coef, new_u
        change, value = new_value - value, new_value
        if max(np.max(np.abs(step_coef)), np.max(np.abs(step_u), initial=0.0)) * scale < tol or abs(change) < tol * 1e-3:
            return coef, u, True
    return coef, u, False


def _u_mode(prob: _Problem, offset: np.ndarray, u: np.ndarray, s2: float, tol: float = 1e-10) -> tuple[np.ndarray, bool]:
    """Conditional modes of the prompt intercepts given the fixed part: one 1-D concave
    problem per prompt, solved together by Newton with damped steps."""
    u = u.copy()
    for _ in range(100):
        eta = offset + u[prob.group]
        g = prob.gsum(prob.y - expit(eta)) - u / s2
        D = prob.gsum(bernoulli_weight(eta)) + 1.0 / s2
        step = np.clip(g / D, -2.0, 2.0)
        u += step
        if np.max(np.abs(step)) < tol:
            return u, True
    return u, False


def _laplace_and_grad(prob: _Problem, beta: np.ndarray, t: float, u: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Laplace log-likelihood at (beta, log s = t) with u at its conditional mode, and its
    exact gradient (the mode's dependence on beta and s enters through the log-determinant)."""
    s2 = np.exp(2.0 * t)
    offset = prob.X @ beta
    u, _ = _u_mode(prob, offset, u, s2)
    eta = offset + u[prob.group]
    mu = expit(eta)
    w = bernoulli_weight(eta)
    v = w * (1.0 - 2.0 * mu)  # d w / d eta
    d = prob.gsum(w)
    D = d + 1.0 / s2
    value = _bernoulli_loglik(prob.y, eta) - 0.5 * float(u @ u) / s2 - 0.5 * float(np.sum(log1p(s2 * d)))
    Bt = prob.gsum(prob.X * w[:, None])
    V = prob.gsum(v)
    g_beta = prob.X.T @ (prob.y - mu) - 0.5 * (prob.X.T @ (v / D[prob.group]) - Bt.T @ (V / D**2))
    g_s2 = 0.5 * float(u @ u) / s2**2 - 0.5 * float(np.sum(d / (s2 * D) + V * u / (s2**2 * D**2)))
    return value, np.append(g_beta, 2.0 * s2 * g_s2), u


def _log_sd_se(prob: _Problem, beta: np.ndarray, t: float, u: np.ndarray, cov: np.ndarray, h: float = 1e-4) -> float:
    """SE of log s: the t column of the Hessian by differencing the exact gradient, combined
    with the fixed-effect curvature (cov^-1) through the Schur complement."""
    p = len(beta)
    g_plus = _laplace_and_grad(prob, beta, t + h, u)[1]
    g_minus = _laplace_and_grad(prob, beta, t - h, u)[1]
    column = -(g_plus - g_minus) / (2 * h)  # Hessian of the negative log-likelihood
    info = column[p] - column[:p] @ cov @ column[:p]
    return float(1.0 / np.sqrt(info)) if info > 0 else float("nan")


def fit_prompt_intercept(y: np.ndarray, X: np.ndarray, group: np.ndarray, n_groups: int) -> LaplaceFit:
    """Laplace fit of ``y ~ X + (1 | group)``: first the joint-mode profile over the prompt SD
    (lme4's nAGQ=0), then the full Laplace likelihood over (beta, log SD) with an exact
    gradient, as glmer's default nAGQ=1."""
    prob = _Problem(y, X, group, n_groups)
    p = X.shape[1]
    pen = np.zeros(p)
    state = {"coef": np.zeros(p), "u": np.zeros(n_groups)}
    evals = 0

    def profile(t: float) -> float:
        nonlocal evals
        evals += 1
        s2 = np.exp(2.0 * t)
        coef, u, _ = joint_mode(prob, state["coef"], state["u"], s2, pen)
        state["coef"], state["u"] = coef, u
        eta = X @ coef + u[group]
        d = prob.gsum(bernoulli_weight(eta))
        return -(prob.penalised(eta, coef, u, s2, pen) - 0.5 * float(np.sum(log1p(s2 * d))))

    first = optimize.minimize_scalar(profile, bounds=(np.log(1e-3), np.log(20.0)), method="bounded",
                                     options={"xatol": 1e-4})
    t0 = float(first.x)
    coef0, u0, ok0 = joint_mode(prob, state["coef"], state["u"], np.exp(2 * t0), pen)
    *_, A, Bt, _, D = prob.blocks(coef0, u0, np.exp(2 * t0), pen)
    # Whiten beta with the joint-mode curvature so L-BFGS sees a near-identity Hessian.
    chol = np.linalg.cholesky(prob.schur(A, Bt, D))
    whiten = np.linalg.inv(chol.T)
    state["u"] = u0

    def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal evals
        evals += 1
        beta = coef0 + whiten @ z[:p]
        value, grad, u = _laplace_and_grad(prob, beta, float(z[p]), state["u"])
        state["u"] = u
        return -value, -np.append(whiten.T @ grad[:p], grad[p])

    second = optimize.minimize(objective, np.append(np.zeros(p), t0), jac=True, method="L-BFGS-B",
                               bounds=[(None, None)] * p + [(np.log(1e-4), np.log(50.0))],
                               options={"maxiter": 500, "gtol": 1e-6, "ftol": 1e-14})
    beta = coef0 + whiten @ second.x[:p]
    t = float(second.x[p])
    s2 = np.exp(2 * t)
    u, ok_u = _u_mode(prob, X @ beta, state["u"], s2)
    *_, A, Bt, _, D = prob.blocks(beta, u, s2, pen)
    cov = np.linalg.inv(prob.schur(A, Bt, D))
    log_sd_se = _log_sd_se(prob, beta, t, u, cov)
    grad_norm = float(np.max(np.abs(second.jac))) if second.jac is not None else np.inf
    converged = bool(ok0 and ok_u and (second.success or grad_norm < 1e-3))
    return LaplaceFit(coef=beta, u=u, prompt_sd=float(np.sqrt(s2)), log_prompt_sd_se=log_sd_se, model_sd=None, cov=cov,
                      loglik=-float(second.fun), converged=converged,
                      message=f"profile: {first.message}; Laplace: {second.message} (max |grad| {grad_norm:.2g})",
                      n_evals=evals)


def fit_crossed(y: np.ndarray, X: np.ndarray, M: np.ndarray, group: np.ndarray, n_groups: int) -> LaplaceFit:
    """``y ~ X + (1 | group) + (1 | model)``: the model intercepts (columns of M) enter the
    dense block with a ridge 1/s_m^2; both SDs maximise the Laplace likelihood evaluated at
    the joint mode (lme4's nAGQ=0 criterion)."""
    codes = np.argmax(M, axis=1) if M.size else np.zeros(len(y), dtype=int)
    prob = _IndicatorProblem(y, X, codes, M.shape[1], group, n_groups)
    p, k = X.shape[1], M.shape[1]
    state = {"coef": np.zeros(p + k), "u": np.zeros(n_groups), "ok": True}
    evals = 0

    def pen_for(t_m: float) -> np.ndarray:
        return np.concatenate([np.zeros(p), np.full(k, np.exp(-2.0 * t_m))])

    def negative(ts: np.ndarray) -> float:
        nonlocal evals
        evals += 1
        s2 = np.exp(2.0 * ts[0])
        pen = pen_for(ts[1])
        coef, u, ok = joint_mode(prob, state["coef"], state["u"], s2, pen)
        state.update(coef=coef, u=u, ok=ok)
        eta, mu, w, resid, A, Bt, d, D = prob.blocks(coef, u, s2, pen)
        S = prob.schur(A, Bt, D)[p:, p:]
        logdet_model = np.linalg.slogdet(S)[1] + k * 2.0 * ts[1]
        return -(prob.penalised(eta, coef, u, s2, pen) - 0.5 * float(np.sum(log1p(s2 * d))) - 0.5 * logdet_model)

    # Quasi-Newton on the two log SDs with central-difference gradients: about a third of the
    # inner mode solves Nelder-Mead needed (each one is a full penalised IRLS on every row).
    # Bounds keep a vanishing SD finite; a boundary fit is reported by the caller.
    res = optimize.minimize(negative, np.array([0.0, np.log(0.5)]), method="L-BFGS-B",
                            jac="3-point", bounds=[(np.log(1e-3), np.log(20.0))] * 2,
                            options={"ftol": 1e-10, "gtol": 1e-5, "eps": 1e-4, "maxiter": 100})
    negative(res.x)
    s2, pen = np.exp(2 * res.x[0]), pen_for(res.x[1])
    *_, A, Bt, _, D = prob.blocks(state["coef"], state["u"], s2, pen)
    cov = np.linalg.inv(prob.schur(A, Bt, D))
    return LaplaceFit(coef=state["coef"], u=state["u"], prompt_sd=float(np.exp(res.x[0])),
                      log_prompt_sd_se=float("nan"), model_sd=float(np.exp(res.x[1])), cov=cov, loglik=-float(res.fun),
                      converged=bool(res.success and state["ok"]), message=f"L-BFGS-B: {res.message}",
                      n_evals=evals)


def full_hessian_cov(y: np.ndarray, X: np.ndarray, group: np.ndarray, n_groups: int, fit: LaplaceFit,
                     h: float = 1e-4) -> np.ndarray:
    """Covariance of the fixed effects from the Hessian of the Laplace log-likelihood in
    (beta, log SD) jointly, by central differences of its exact gradient (lme4's default
    ``vcov(use.hessian=TRUE)``). Unlike ``fit.cov`` it carries the uncertainty of the prompt
    SD into the fixed effects, which matters on small designs; p + 1 pairs of gradient
    evaluations. The beta block of the inverse does not depend on how the SD is parametrised
    (the gradient is zero at the optimum), so log SD here matches lme4's theta."""
    prob = _Problem(y, X, group, n_groups)
    p = X.shape[1]
    t = float(np.log(fit.prompt_sd))
    point = np.append(fit.coef[:p], t)
    # Steps scaled to each coordinate's own uncertainty, so every difference is well resolved.
    scale = np.append(np.sqrt(np.diag(fit.cov)[:p]), 1.0)
    hessian = np.empty((p + 1, p + 1))
    for j in range(p + 1):
        step = np.zeros(p + 1)
        step[j] = h * scale[j]
        plus = _laplace_and_grad(prob, point[:p] + step[:p], t + step[p], fit.u)[1]
        minus = _laplace_and_grad(prob, point[:p] - step[:p], t - step[p], fit.u)[1]
        hessian[:, j] = -(plus - minus) / (2 * step[j])
    hessian = (hessian + hessian.T) / 2
    return np.linalg.inv(hessian)[:p, :p]


def profile_prompt_sd_interval(y: np.ndarray, X: np.ndarray, group: np.ndarray, n_groups: int, fit: LaplaceFit,
                               chi2: float = 3.841458820694124) -> tuple[float, float]:
    """Profile-likelihood interval for the prompt SD (95% by default: chi-square(1) 0.95
    quantile): the SDs whose Laplace log-likelihood, maximised over the fixed effects, is
    within chi2 / 2 of the maximum (lme4's ``confint(method="profile")`` for ``.sig01``). The
    lower end is 0 when even SD -> 0 stays within the bound. Each profile point is an L-BFGS
    fit of beta at fixed SD, started from the optimum and whitened with ``fit.cov``."""
    prob = _Problem(y, X, group, n_groups)
    p = X.shape[1]
    t_hat = float(np.log(fit.prompt_sd))
    whiten = np.linalg.cholesky(fit.cov[:p, :p])
    state = {"u": fit.u.copy(), "z": np.zeros(p)}

    def profile(t: float) -> float:
        def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
            value, grad, u = _laplace_and_grad(prob, fit.coef[:p] + whiten @ z, t, state["u"])
            state["u"] = u
            return -value, -(whiten.T @ grad[:p])

        res = optimize.minimize(objective, state["z"], jac=True, method="L-BFGS-B",
                                options={"maxiter": 200, "gtol": 1e-7, "ftol": 1e-13})
        state["z"] = res.x
        return -float(res.fun)

    top = profile(t_hat)

    def excess(t: float) -> float:
        return 2.0 * (top - profile(t)) - chi2

    def root(direction: float, limit: float) -> float:
        state["u"], state["z"] = fit.u.copy(), np.zeros(p)
        step, inner = 0.25, t_hat
        for _ in range(40):
            outer = inner + direction * step
            if (direction < 0 and outer < limit) or (direction > 0 and outer > limit):
                return float("nan")
            if excess(outer) > 0:
                return float(optimize.brentq(excess, min(inner, outer), max(inner, outer), xtol=1e-4))
            inner, step = outer, step * 1.6
        return float("nan")

    # SD -> 0 is approached on the log scale; below 1e-4 the likelihood no longer changes.
    low_t = root(-1.0, np.log(1e-4))
    low = 0.0 if np.isnan(low_t) else float(np.exp(low_t))
    high_t = root(1.0, np.log(50.0))
    return low, float(np.exp(high_t))
