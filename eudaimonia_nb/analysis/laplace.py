"""Laplace-approximation fitting of a logistic model with a random intercept per cluster
(prompt), optionally plus penalised random effects (model intercepts), as lme4's glmer.

With one random intercept per prompt the random-effects block Z'WZ is diagonal, so every
Newton step solves a (coefficients) x (coefficients) Schur complement; nothing of size
prompts x prompts is ever formed.

The design is kept in blocks: dense columns X (intercept, source, requirement: a handful) and
``Indicators`` blocks, each a factor's 0/1 columns (the model contrasts, source x model, the
crossed model's intercepts) stored as one integer code per row instead of an n x k matrix.
Every product with the design then costs O(n p0) for the dense columns plus O(n) per block,
and the only arrays that grow with the number of levels are P x P and prompts x P (P the
number of coefficients): with 110 models a dense design was 346,000 x 119 (330 MB) and each
X'WX cost n P^2 flops; blocked, X is 346,000 x 10 and X'WX costs n p0^2 plus per-level sums.

Notation: eta = X beta + sum_j M_j beta_j + u[group], u ~ N(0, s^2), M_j the indicator
blocks. For the crossed variant the model intercepts are one such block with a ridge 1/s_m^2
on its coefficients (their prior).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, sparse
from scipy.special import log1p

_MAX_STEP = 20


@dataclass
class LaplaceFit:
    """The fitted mode, variance parameters and curvature of a Laplace fit."""

    coef: np.ndarray
    """Coefficients: the dense columns, then each indicator block's (fixed effects, then any
    penalised model effects)."""
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
    """Inverse of the Schur complement of the joint negative Hessian for the coefficients."""
    loglik: float
    """Laplace-approximate marginal log-likelihood at the optimum."""
    converged: bool
    """Whether the optimisers reported success and the final gradient is small."""
    message: str
    """Optimiser notes, for the record."""
    n_evals: int
    """Objective evaluations used."""


@dataclass(frozen=True)
class Indicators:
    """A block of 0/1 design columns with at most one 1 per row (a factor's treatment
    contrasts, or a factor's intercepts), kept as codes instead of an n x ``n_levels`` matrix."""

    codes: np.ndarray
    """Per row, the block's column (0 to ``n_levels`` - 1) that holds its 1, or -1 where the
    row has none (the factor's reference level)."""
    n_levels: int
    """Columns in the block."""


def logistic_parts(eta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """mu = expit(eta), the IRLS weight mu (1 - mu) and e = exp(-|eta|), from one exponential
    (the fits spend most of their time in elementwise work on every row)."""
    e = np.exp(-np.abs(eta))
    r = 1.0 / (1.0 + e)
    return np.where(eta >= 0, r, e * r), e * r * r, e


def bernoulli_weight(eta: np.ndarray) -> np.ndarray:
    """The IRLS weight mu (1 - mu) at log-odds ``eta``, computed as expit(eta) expit(-eta)
    = e / (1 + e)^2 with e = exp(-|eta|).

    ``mu * (1 - mu)`` rounds to exactly 0 once ``mu`` rounds to 1 (eta > ~37): a level that
    always violates then gives a singular Hessian, while the never-violating side only worked
    because expit(-40) does not round to 0. The symmetric form stays positive on both sides.
    """
    return logistic_parts(eta)[1]


def _bernoulli_loglik(y: np.ndarray, eta: np.ndarray, e: np.ndarray | None = None) -> float:
    # log(1 + e^eta) = max(eta, 0) + log1p(exp(-|eta|)), stable for large |eta|.
    if e is None:
        e = np.exp(-np.abs(eta))
    return float(y @ eta - np.maximum(eta, 0.0).sum() - np.log1p(e).sum())


def _distinct_rows(X: np.ndarray, budget: int) -> tuple[np.ndarray, np.ndarray] | None:
    """X's distinct rows (m x p0) and each row's index among them, or None when there are
    more than ``budget`` // prompts of them. Dense columns here are factor codings (intercept,
    source, requirement): 18 distinct rows among 346,000, so every product with X becomes a
    per-row-type sum (``np.bincount``) times an m x p0 matrix."""
    n, p0 = X.shape
    if n == 0 or p0 == 0:
        return None
    key = X @ np.sqrt(np.arange(2.0, p0 + 2.0))  # irrational weights: distinct rows, distinct keys
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    if len(first) > budget:
        return None
    distinct = X[first]
    inverse = inverse.reshape(-1)
    if not np.array_equal(distinct[inverse], X):  # two rows shared a key: keep X as it is
        return None
    return distinct, inverse.astype(np.int64)


class Problem:
    """Data, the blocked design and the building blocks of the penalised likelihood."""

    def __init__(self, y: np.ndarray, X: np.ndarray, group: np.ndarray, n_groups: int,
                 indicators: Sequence[Indicators] = ()):
        self.y, self.X, self.group, self.q = y, X, group, n_groups
        n = len(y)
        self.p0 = X.shape[1]
        self.k = [int(b.n_levels) for b in indicators]
        self.P = self.p0 + sum(self.k)
        self.slices = []
        start = self.p0
        for k in self.k:
            self.slices.append(slice(start, start + k))
            start += k
        # Codes shifted by one, so the reference level (-1) lands in a bin that is dropped.
        self.shifted = [np.asarray(b.codes, dtype=np.int64) + 1 for b in indicators]
        self.zcell = [group.astype(np.int64) * (k + 1) + s for s, k in zip(self.shifted, self.k)]
        self.cross = {(i, j): self.shifted[i] * (self.k[j] + 1) + self.shifted[j]
                      for i in range(len(self.k)) for j in range(i + 1, len(self.k))}
        # The dense columns by distinct row where that pays (bins of prompts x row types no
        # larger than the data), else as they are.
        compressed = _distinct_rows(X, max(1, n // max(n_groups, max(self.k, default=0) + 1)))
        if compressed is not None:
            self.Xc, self.cell = compressed
            m = len(self.Xc)
            self.m = m
            self.zrow = group.astype(np.int64) * m + self.cell
            self.mrow = [s * m + self.cell for s in self.shifted]
        else:
            self.Xc = self.cell = None
            self.Zt = sparse.csr_matrix((np.ones(n), (group, np.arange(n))), shape=(n_groups, n))
            self.Mt = []
            for b, k in zip(indicators, self.k):
                rows = np.flatnonzero(np.asarray(b.codes) >= 0)
                self.Mt.append(sparse.csr_matrix((np.ones(len(rows)), (np.asarray(b.codes)[rows], rows)),
                                                 shape=(k, n)))

    def gsum(self, values: np.ndarray) -> np.ndarray:
        """Sums per prompt (Z' values) of a row vector."""
        return np.bincount(self.group, weights=values, minlength=self.q)

    def _level_sums(self, j: int, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.shifted[j], weights=values, minlength=self.k[j] + 1)[1:]

    def xmul(self, coef: np.ndarray) -> np.ndarray:
        """The design times ``coef``."""
        eta = (self.Xc @ coef[:self.p0])[self.cell] if self.Xc is not None else self.X @ coef[:self.p0]
        for j, cut in enumerate(self.slices):
            eta += np.concatenate([[0.0], coef[cut]])[self.shifted[j]]
        return eta

    def xtmul(self, values: np.ndarray) -> np.ndarray:
        """The design transposed times a row vector."""
        dense = (self.Xc.T @ np.bincount(self.cell, weights=values, minlength=self.m) if self.Xc is not None
                 else self.X.T @ values)
        return np.concatenate([dense] + [self._level_sums(j, values) for j in range(len(self.k))])

    def _block_columns(self, Bt: np.ndarray, w: np.ndarray) -> None:
        for j, cut in enumerate(self.slices):
            k = self.k[j]
            Bt[:, cut] = np.bincount(self.zcell[j], weights=w, minlength=self.q * (k + 1)).reshape(self.q, k + 1)[:, 1:]

    def ztwx(self, w: np.ndarray) -> np.ndarray:
        """Z'WX (q x P): per prompt, the w-weighted sums of every design column."""
        Bt = np.empty((self.q, self.P))
        if self.Xc is not None:
            Bt[:, :self.p0] = np.bincount(self.zrow, weights=w, minlength=self.q * self.m).reshape(self.q, self.m) @ self.Xc
        else:
            Bt[:, :self.p0] = np.asarray(self.Zt @ (self.X * w[:, None]))
        self._block_columns(Bt, w)
        return Bt

    def weighted_blocks(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """X'WX (P x P) and Z'WX (q x P)."""
        p0 = self.p0
        A = np.zeros((self.P, self.P))
        Bt = np.empty((self.q, self.P))
        if self.Xc is not None:
            m, Xc = self.m, self.Xc
            A[:p0, :p0] = Xc.T @ (np.bincount(self.cell, weights=w, minlength=m)[:, None] * Xc)
            Bt[:, :p0] = np.bincount(self.zrow, weights=w, minlength=self.q * m).reshape(self.q, m) @ Xc
            level_by_row = [np.bincount(r, weights=w, minlength=(k + 1) * m).reshape(k + 1, m)[1:] @ Xc
                            for r, k in zip(self.mrow, self.k)]
        else:
            Xw = self.X * w[:, None]
            A[:p0, :p0] = self.X.T @ Xw
            Bt[:, :p0] = np.asarray(self.Zt @ Xw)
            level_by_row = [np.asarray(Mt @ Xw) for Mt in self.Mt]
        for j, cut in enumerate(self.slices):
            A[cut, :p0], A[:p0, cut] = level_by_row[j], level_by_row[j].T  # k x p0
            A[cut, cut] = np.diag(self._level_sums(j, w))
        for (i, j), cell in self.cross.items():
            ki, kj = self.k[i] + 1, self.k[j] + 1
            block = np.bincount(cell, weights=w, minlength=ki * kj).reshape(ki, kj)[1:, 1:]
            A[self.slices[i], self.slices[j]], A[self.slices[j], self.slices[i]] = block, block.T
        self._block_columns(Bt, w)
        return A, Bt

    def blocks(self, coef: np.ndarray, u: np.ndarray, s2: float, pen: np.ndarray,
               eta: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        if eta is None:
            eta = self.xmul(coef) + u[self.group]
        mu, w, _ = logistic_parts(eta)
        resid = self.y - mu
        XtWX, Bt = self.weighted_blocks(w)  # Bt: q x P, per prompt sum of w x
        A = XtWX + np.diag(pen)
        d = self.gsum(w)
        D = d + 1.0 / s2
        return eta, mu, w, resid, A, Bt, d, D

    def schur(self, A: np.ndarray, Bt: np.ndarray, D: np.ndarray) -> np.ndarray:
        return A - Bt.T @ (Bt / D[:, None])

    def penalised(self, eta: np.ndarray, coef: np.ndarray, u: np.ndarray, s2: float, pen: np.ndarray) -> float:
        return _bernoulli_loglik(self.y, eta) - 0.5 * float(u @ u) / s2 - 0.5 * float(coef @ (pen * coef))


def joint_mode(prob: Problem, coef: np.ndarray, u: np.ndarray, s2: float, pen: np.ndarray,
               tol: float = 1e-9, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray, bool]:
    """Penalised IRLS (Newton with step halving) for the joint mode of (coef, u)."""
    coef, u = coef.copy(), u.copy()
    eta = prob.xmul(coef) + u[prob.group]
    value = prob.penalised(eta, coef, u, s2, pen)
    for _ in range(max_iter):
        eta, mu, w, resid, A, Bt, d, D = prob.blocks(coef, u, s2, pen, eta)
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
        coef, u, eta = new_coef, new_u, new_eta
        change, value = new_value - value, new_value
        if max(np.max(np.abs(step_coef)), np.max(np.abs(step_u), initial=0.0)) * scale < tol or abs(change) < tol * 1e-3:
            return coef, u, True
    return coef, u, False


def _u_mode(prob: Problem, offset: np.ndarray, u: np.ndarray, s2: float, tol: float = 1e-10) -> tuple[np.ndarray, bool]:
    """Conditional modes of the prompt intercepts given the fixed part: one 1-D concave
    problem per prompt, solved together by Newton with damped steps."""
    u = u.copy()
    for _ in range(100):
        mu, w, _ = logistic_parts(offset + u[prob.group])
        g = prob.gsum(prob.y - mu) - u / s2
        D = prob.gsum(w) + 1.0 / s2
        step = np.clip(g / D, -2.0, 2.0)
        u += step
        if np.max(np.abs(step)) < tol:
            return u, True
    return u, False


def _laplace_and_grad(prob: Problem, beta: np.ndarray, t: float, u: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Laplace log-likelihood at (beta, log s = t) with u at its conditional mode, and its
    exact gradient (the mode's dependence on beta and s enters through the log-determinant)."""
    s2 = np.exp(2.0 * t)
    offset = prob.xmul(beta)
    u, _ = _u_mode(prob, offset, u, s2)
    eta = offset + u[prob.group]
    mu, w, e = logistic_parts(eta)
    v = w * (1.0 - 2.0 * mu)  # d w / d eta
    d = prob.gsum(w)
    D = d + 1.0 / s2
    value = _bernoulli_loglik(prob.y, eta, e) - 0.5 * float(u @ u) / s2 - 0.5 * float(np.sum(log1p(s2 * d)))
    Bt = prob.ztwx(w)
    V = prob.gsum(v)
    g_beta = prob.xtmul(prob.y - mu) - 0.5 * (prob.xtmul(v / D[prob.group]) - Bt.T @ (V / D**2))
    g_s2 = 0.5 * float(u @ u) / s2**2 - 0.5 * float(np.sum(d / (s2 * D) + V * u / (s2**2 * D**2)))
    return value, np.append(g_beta, 2.0 * s2 * g_s2), u


def _log_sd_se(prob: Problem, beta: np.ndarray, t: float, u: np.ndarray, cov: np.ndarray, h: float = 1e-4) -> float:
    """SE of log s: the t column of the Hessian by differencing the exact gradient, combined
    with the fixed-effect curvature (cov^-1) through the Schur complement."""
    p = len(beta)
    g_plus = _laplace_and_grad(prob, beta, t + h, u)[1]
    g_minus = _laplace_and_grad(prob, beta, t - h, u)[1]
    column = -(g_plus - g_minus) / (2 * h)  # Hessian of the negative log-likelihood
    info = column[p] - column[:p] @ cov @ column[:p]
    return float(1.0 / np.sqrt(info)) if info > 0 else float("nan")


@dataclass
class JointModeProfile:
    """Stage 1 of ``fit_prompt_intercept``: the prompt SD that maximises the Laplace likelihood
    evaluated at the joint mode of (coefficients, prompt intercepts), lme4's nAGQ=0 criterion."""

    log_sd: float
    """log prompt SD at the optimum (bounded Brent search, to 1e-4)."""
    coef: np.ndarray
    """The joint-mode coefficients at that SD."""
    u: np.ndarray
    """The joint-mode prompt intercepts at that SD."""
    converged: bool
    """Whether the final penalised IRLS settled."""
    message: str
    """The scalar optimiser's message."""
    n_evals: int
    """Profile evaluations (each a joint-mode solve)."""


def joint_mode_profile(prob: Problem) -> JointModeProfile:
    """Maximise the joint-mode Laplace likelihood over log prompt SD in [log 1e-3, log 20]."""
    p = prob.P
    pen = np.zeros(p)
    state = {"coef": np.zeros(p), "u": np.zeros(prob.q)}
    evals = 0

    def profile(t: float) -> float:
        nonlocal evals
        evals += 1
        s2 = np.exp(2.0 * t)
        coef, u, _ = joint_mode(prob, state["coef"], state["u"], s2, pen)
        state["coef"], state["u"] = coef, u
        eta = prob.xmul(coef) + u[prob.group]
        d = prob.gsum(bernoulli_weight(eta))
        return -(prob.penalised(eta, coef, u, s2, pen) - 0.5 * float(np.sum(log1p(s2 * d))))

    first = optimize.minimize_scalar(profile, bounds=(np.log(1e-3), np.log(20.0)), method="bounded",
                                     options={"xatol": 1e-4})
    t0 = float(first.x)
    coef0, u0, ok0 = joint_mode(prob, state["coef"], state["u"], np.exp(2 * t0), pen)
    return JointModeProfile(log_sd=t0, coef=coef0, u=u0, converged=bool(ok0), message=str(first.message),
                            n_evals=evals)


def fit_prompt_intercept(y: np.ndarray, X: np.ndarray, group: np.ndarray, n_groups: int,
                         indicators: Sequence[Indicators] = ()) -> LaplaceFit:
    """Laplace fit of ``y ~ X + M_1 + ... + (1 | group)`` (``indicators`` the blocks M_j,
    their coefficients after X's in ``coef``): first the joint-mode profile over the prompt SD
    (lme4's nAGQ=0, ``joint_mode_profile``), then the full Laplace likelihood over (beta, log SD)
    with an exact gradient, as glmer's default nAGQ=1."""
    prob = Problem(y, X, group, n_groups, indicators)
    p = prob.P
    pen = np.zeros(p)
    first = joint_mode_profile(prob)
    t0, coef0, u0, ok0 = first.log_sd, first.coef, first.u, first.converged
    state = {"u": u0}
    evals = first.n_evals
    *_, A, Bt, _, D = prob.blocks(coef0, u0, np.exp(2 * t0), pen)
    # Whiten beta with the joint-mode curvature so L-BFGS sees a near-identity Hessian.
    chol = np.linalg.cholesky(prob.schur(A, Bt, D))
    whiten = np.linalg.inv(chol.T)

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
    u, ok_u = _u_mode(prob, prob.xmul(beta), state["u"], s2)
    *_, A, Bt, _, D = prob.blocks(beta, u, s2, pen)
    cov = np.linalg.inv(prob.schur(A, Bt, D))
    log_sd_se = _log_sd_se(prob, beta, t, u, cov)
    grad_norm = float(np.max(np.abs(second.jac))) if second.jac is not None else np.inf
    converged = bool(ok0 and ok_u and (second.success or grad_norm < 1e-3))
    return LaplaceFit(coef=beta, u=u, prompt_sd=float(np.sqrt(s2)), log_prompt_sd_se=log_sd_se, model_sd=None, cov=cov,
                      loglik=-float(second.fun), converged=converged,
                      message=f"profile: {first.message}; Laplace: {second.message} (max |grad| {grad_norm:.2g})",
                      n_evals=evals)


def fit_crossed(y: np.ndarray, X: np.ndarray, models: Indicators, group: np.ndarray, n_groups: int,
                indicators: Sequence[Indicators] = ()) -> LaplaceFit:
    """``y ~ X + M_1 + ... + (1 | group) + (1 | model)``: the model intercepts (the block
    ``models``, one column per model, last in ``coef``) join the coefficients with a ridge
    1/s_m^2; both SDs maximise the Laplace likelihood evaluated at the joint mode (lme4's nAGQ=0
    criterion)."""
    prob = Problem(y, X, group, n_groups, (*indicators, models))
    k = models.n_levels
    p = prob.P - k
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


def laplace_beta_hessian(prob: Problem, beta: np.ndarray, t: float, u: np.ndarray) -> np.ndarray:
    """The exact Hessian in beta (P x P, at fixed log SD t) of the Laplace log-likelihood, with
    u at its conditional mode, in closed form.

    With c_i = B_i / D_i (B_i the prompt's w-weighted sums of the design, D_i = sum w + 1/s^2),
    each row's derivative of eta is x~ = x - c_i, and the likelihood is F - 1/2 sum log(s^2 D_i):
    F's Hessian is minus the Schur complement X'WX - sum B_i B_i' / D_i, and the log-determinant
    adds -1/2 sum_i [sum_r (w''_r - V_i w'_r / D_i) x~ x~' / D_i - E_i E_i' / D_i^2] with
    w' = w (1 - 2 mu), w'' = w (1 - 6 w), V_i = sum w', E_i = sum w' x~. Each sum over rows is a
    weighted X'X plus prompt-level corrections, so the cost is that of two IRLS steps rather
    than the 2 (P + 1) gradient evaluations of central differences."""
    s2 = np.exp(2.0 * t)
    u, _ = _u_mode(prob, prob.xmul(beta), u, s2)
    eta = prob.xmul(beta) + u[prob.group]
    mu, w, _ = logistic_parts(eta)
    v = w * (1.0 - 2.0 * mu)
    z = w * (1.0 - 6.0 * w)
    D = prob.gsum(w) + 1.0 / s2
    V = prob.gsum(v)
    A_w, Bt_w = prob.weighted_blocks(w)
    c = Bt_w / D[:, None]
    schur = A_w - Bt_w.T @ c
    E = prob.ztwx(v) - V[:, None] * c
    a = (z - (V / D)[prob.group] * v) / D[prob.group]
    A_a, Bt_a = prob.weighted_blocks(a)
    cross = Bt_a.T @ c
    tilde = A_a - cross - cross.T + c.T @ (prob.gsum(a)[:, None] * c)
    return -schur - 0.5 * (tilde - E.T @ (E / (D**2)[:, None]))


def full_hessian(prob: Problem, beta: np.ndarray, t: float, u: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """The (P + 1) x (P + 1) Hessian of the negative Laplace log-likelihood in (beta, log SD t):
    the beta block in closed form (``laplace_beta_hessian``), the t column by central differences
    of the exact gradient (one pair of evaluations). ``u`` only starts the inner mode."""
    p = prob.P
    plus = _laplace_and_grad(prob, beta, t + h, u)[1]
    minus = _laplace_and_grad(prob, beta, t - h, u)[1]
    column = -(plus - minus) / (2 * h)
    hessian = np.empty((p + 1, p + 1))
    hessian[:p, :p] = -laplace_beta_hessian(prob, beta, t, u)
    hessian[:p, p] = hessian[p, :p] = column[:p]
    hessian[p, p] = column[p]
    return hessian


def full_hessian_cov(y: np.ndarray, X: np.ndarray, group: np.ndarray, n_groups: int, fit: LaplaceFit,
                     h: float = 1e-4, indicators: Sequence[Indicators] = ()) -> np.ndarray:
    """Covariance of the fixed effects from the Hessian of the Laplace log-likelihood in
    (beta, log SD) jointly (``full_hessian``; lme4's default ``vcov(use.hessian=TRUE)``). Unlike
    ``fit.cov`` it carries the uncertainty of the prompt SD into the fixed effects, which matters
    on small designs. The beta block of the inverse does not depend on how the SD is parametrised
    (the gradient is zero at the optimum), so log SD here matches lme4's theta."""
    prob = Problem(y, X, group, n_groups, indicators)
    hessian = full_hessian(prob, fit.coef[:prob.P], float(np.log(fit.prompt_sd)), fit.u, h)
    return np.linalg.inv(hessian)[:prob.P, :prob.P]


def profile_prompt_sd_interval(y: np.ndarray, X: np.ndarray, group: np.ndarray, n_groups: int, fit: LaplaceFit,
                               chi2: float = 3.841458820694124, indicators: Sequence[Indicators] = ()
                               ) -> tuple[float, float]:
    """Profile-likelihood interval for the prompt SD (95% by default: chi-square(1) 0.95
    quantile): the SDs whose Laplace log-likelihood, maximised over the fixed effects, is
    within chi2 / 2 of the maximum (lme4's ``confint(method="profile")`` for ``.sig01``). The
    lower end is 0 when even SD -> 0 stays within the bound. Each profile point is an L-BFGS
    fit of beta at fixed SD, started from the optimum and whitened with ``fit.cov``."""
    prob = Problem(y, X, group, n_groups, indicators)
    p = prob.P
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
