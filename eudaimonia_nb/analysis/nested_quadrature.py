"""A logistic model with two nested random intercepts, fitted by Gauss-Hermite quadrature.

    logit P(y = 1) = x' beta + s_outer * a[outer] + s_inner * b[inner],   a, b ~ N(0, 1)

with every inner group inside one outer group (a response inside its check), observations
given as binomial cells (k successes of n calls sharing x and an inner group: the judge calls on
one response). The marginal likelihood of an outer group is a nested integral, computed on a
fixed product grid of Gauss-Hermite nodes (inner integral per node of the outer one), with an
exact gradient; accurate when each outer group holds a few dozen calls or fewer (the noise
decomposition's checks hold epochs x judge repeats), where the integrand stays close to the
prior and a non-adaptive grid suffices (``tests/test_analysis_noise.py`` checks it against
simulated truth). Standard errors are cluster-robust (a sandwich with clusters of outer groups,
e.g. prompts), so outer groups that share a cluster may be correlated: each outer group's
likelihood is then a composite (marginal) one, whose estimates stay consistent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, sparse
from scipy.special import expit, logsumexp

LOG_SD_BOUNDS = (-7.0, 2.5)
"""Bounds of log(SD) in the optimiser (SD between 0.001 and 12: beyond, the grid cannot follow)."""
DEFAULT_NODES = 12
"""Gauss-Hermite nodes per level."""


@dataclass
class NestedFit:
    """The fitted fixed effects and the two SDs, with cluster-robust uncertainty."""

    coef: np.ndarray
    """Fixed effects, in the column order of ``X``."""
    sd_outer: float
    """SD of the outer intercepts (log-odds)."""
    sd_inner: float
    """SD of the inner intercepts (log-odds)."""
    cov: np.ndarray
    """Cluster-robust covariance of (coef, log sd_outer, log sd_inner)."""
    loglik: float
    """Marginal log-likelihood at the optimum (without the binomial coefficients)."""
    converged: bool
    """Whether the optimiser reported success with a small gradient."""
    message: str
    """Optimiser notes."""
    n_evals: int
    """Likelihood evaluations used."""

    @property
    def log_sd_se(self) -> tuple[float, float]:
        """Robust standard errors of log(sd_outer) and log(sd_inner)."""
        diag = np.diag(self.cov)
        return tuple(float(math.sqrt(v)) if v >= 0 else float("nan") for v in diag[-2:])  # type: ignore[return-value]


class _Problem:
    def __init__(self, X: np.ndarray, k: np.ndarray, n: np.ndarray, inner: np.ndarray, outer_of_inner: np.ndarray,
                 cluster_of_outer: np.ndarray, n_nodes: int):
        k, n = k.astype(float), n.astype(float)
        self.n_outer = int(cluster_of_outer.shape[0])
        self.cluster_of_outer = cluster_of_outer
        self.mult = np.ones(len(k))
        if len(inner) == len(outer_of_inner) and bool(np.all(inner == np.arange(len(inner)))):
            # One cell per inner group (the noise decomposition: a response's calls on one check):
            # identical cells of one outer group (epochs with the same count) contribute the same
            # factor, so each distinct one is computed once and counted with its multiplicity.
            keyed = np.column_stack([outer_of_inner.astype(float), X, k, n])
            _, first, self.mult = np.unique(keyed, axis=0, return_index=True, return_counts=True)
            self.mult = self.mult.astype(float)
            X, k, n, outer_of_inner = X[first], k[first], n[first], outer_of_inner[first]
            inner = np.arange(len(first))
        self.X, self.k, self.n = X, k, n
        self.inner = inner
        self.n_inner = int(outer_of_inner.shape[0])
        self.outer_of_inner = outer_of_inner
        self.outer = outer_of_inner[inner]
        nodes, weights = np.polynomial.hermite_e.hermegauss(n_nodes)
        self.nodes = nodes
        self.log_w = np.log(weights / weights.sum())
        # Cells of one outer group with the same covariates share their log-odds at every node:
        # the costly functions are computed once per such pattern (once per check in the noise
        # decomposition), only cheap products per cell.
        keyed = np.column_stack([self.outer.astype(float), X])
        _, first, self.pattern = np.unique(keyed, axis=0, return_index=True, return_inverse=True)
        self.pattern = self.pattern.ravel()
        self.pattern_X = X[first]
        # The inner groups are the cells when each response has one cell (the noise decomposition).
        self.cells_are_inner = len(inner) == self.n_inner and bool(np.all(inner == np.arange(len(inner))))
        self.to_inner = None if self.cells_are_inner else sparse.csr_matrix(
            (np.ones(len(inner)), (inner, np.arange(len(inner)))), shape=(self.n_inner, len(inner)))
        # Compressed cells are their own inner groups, each standing for ``mult`` identical ones.
        inner_mult = self.mult if self.cells_are_inner else np.ones(self.n_inner)
        self.to_outer = sparse.csr_matrix((inner_mult, (outer_of_inner, np.arange(self.n_inner))),
                                          shape=(self.n_outer, self.n_inner))
        self.cells_to_outer = sparse.csr_matrix((self.mult, (self.outer, np.arange(len(self.outer)))),
                                                shape=(self.n_outer, len(self.outer)))
        self.evals = 0

    def _sum_inner(self, values: np.ndarray) -> np.ndarray:
        if self.cells_are_inner:
            return values
        shape = values.shape
        return np.asarray(self.to_inner @ values.reshape(shape[0], -1)).reshape(self.n_inner, *shape[1:])

    def evaluate(self, theta: np.ndarray, *, per_outer: bool = False) -> tuple[float, np.ndarray]:
        """Log-likelihood and its gradient in theta = (beta, log s_outer, log s_inner); with
        ``per_outer`` the gradient is the outer groups' scores (n_outer x params)."""
        self.evals += 1
        p = self.X.shape[1]
        beta, s_o, s_i = theta[:p], math.exp(theta[p]), math.exp(theta[p + 1])
        a = b = self.nodes
        # Per pattern x outer node x inner node: log p, log (1 - p) and p.
        t = (self.pattern_X @ beta)[:, None, None] + s_o * a[None, :, None] + s_i * b[None, None, :]
        log_p, log_q, prob = -np.logaddexp(0.0, -t), -np.logaddexp(0.0, t), expit(t)
        k, n, pat = self.k[:, None, None], self.n[:, None, None], self.pattern
        f = k * log_p[pat] + (n - k) * log_q[pat]  # cells x outer nodes x inner nodes
        F = self._sum_inner(f)
        top = F.max(axis=2, keepdims=True)
        e = np.exp(F - top) * np.exp(self.log_w)[None, None, :]
        total = e.sum(axis=2, keepdims=True)
        g = (top + np.log(total))[..., 0]  # inner groups x outer nodes: log of the inner integral
        rho = e / total  # inner posterior over its nodes, given the outer node
        H = np.asarray(self.to_outer @ g)  # outer groups x outer nodes
        ell = logsumexp(self.log_w[None, :] + H, axis=1)
        pi = np.exp(self.log_w[None, :] + H - ell[:, None])  # outer posterior over its nodes
        weight = pi[self.outer][:, :, None] * (rho if self.cells_are_inner else rho[self.inner])
        resid = (k - n * prob[pat]) * weight
        d_eta = resid.sum((1, 2))
        d_o = s_o * (resid.sum(2) @ a)
        d_i = s_i * (resid.sum(1) @ b)
        cell_scores = np.column_stack([self.X * d_eta[:, None], d_o, d_i])
        if per_outer:
            return float(ell.sum()), np.asarray(self.cells_to_outer @ cell_scores)
        return float(ell.sum()), self.mult @ cell_scores


def _start(X: np.ndarray, k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Fixed effects of a plain logistic model of the cell shares (a few Newton steps)."""
    beta = np.zeros(X.shape[1])
    for _ in range(25):
        mu = expit(X @ beta)
        w = n * mu * (1 - mu) + 1e-9
        step = np.linalg.solve(X.T @ (X * w[:, None]) + 1e-6 * np.eye(X.shape[1]), X.T @ (k - n * mu))
        beta += step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta


def fit_nested_binomial(X: np.ndarray, k: np.ndarray, n: np.ndarray, inner: np.ndarray, outer_of_inner: np.ndarray,
                        cluster_of_outer: np.ndarray, *, n_nodes: int = DEFAULT_NODES) -> NestedFit:
    """Fit the model of the module docstring. ``X``: cells x fixed effects; ``k``, ``n``: successes
    and calls per cell; ``inner``: each cell's inner group (0..); ``outer_of_inner``: each inner
    group's outer group; ``cluster_of_outer``: each outer group's cluster for the robust SEs."""
    problem = _Problem(np.asarray(X, dtype=float), np.asarray(k), np.asarray(n), np.asarray(inner),
                       np.asarray(outer_of_inner), np.asarray(cluster_of_outer), n_nodes)
    p = problem.X.shape[1]
    theta0 = np.concatenate([_start(problem.X, problem.k, problem.n), [0.0, 0.0]])
    bounds = [(None, None)] * p + [LOG_SD_BOUNDS, LOG_SD_BOUNDS]

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = problem.evaluate(theta)
        return -value, -grad

    result = optimize.minimize(objective, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                               options={"maxiter": 500, "gtol": 1e-6})
    theta = result.x
    loglik, scores = problem.evaluate(theta, per_outer=True)
    grad = scores.sum(0)
    hessian = _hessian(problem, theta)
    # Cluster the outer groups' scores (prompts) for the meat of the sandwich.
    clusters = int(problem.cluster_of_outer.max()) + 1
    meat_scores = np.zeros((clusters, scores.shape[1]))
    np.add.at(meat_scores, problem.cluster_of_outer, scores)
    factor = clusters / max(clusters - 1, 1)
    meat = factor * meat_scores.T @ meat_scores
    try:
        bread = np.linalg.inv(-hessian)
        cov = bread @ meat @ bread
    except np.linalg.LinAlgError:
        cov = np.full((len(theta), len(theta)), np.nan)
    at_bound = [i for i in (p, p + 1) if theta[i] <= LOG_SD_BOUNDS[0] + 1e-6 or theta[i] >= LOG_SD_BOUNDS[1] - 1e-6]
    converged = bool(result.success) and float(np.max(np.abs(grad[:p]))) < 1e-2
    message = str(result.message) + ("; a standard deviation at its bound" if at_bound else "")
    return NestedFit(coef=theta[:p], sd_outer=math.exp(theta[p]), sd_inner=math.exp(theta[p + 1]), cov=cov,
                     loglik=loglik, converged=converged, message=message, n_evals=problem.evals)


def _hessian(problem: _Problem, theta: np.ndarray, step: float = 1e-5) -> np.ndarray:
    """The log-likelihood's Hessian by forward differences of the exact gradient, symmetrised."""
    size = len(theta)
    out = np.zeros((size, size))
    base = problem.evaluate(theta)[1]
    for j in range(size):
        delta = np.zeros(size)
        delta[j] = step
        out[:, j] = (problem.evaluate(theta + delta)[1] - base) / step
    return (out + out.T) / 2
