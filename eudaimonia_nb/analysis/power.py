"""Power planning for condition studies, by simulation on the suite's simulator.

A planned study: ``n_models`` models answer the same prompts under two conditions (more
conditions only enlarge the Holm family); the analysis is ``conditions.paired_effects``.
Data are drawn from the hierarchical model of ``simulate.py``

    logit P(violation) = a[model] + b[model] * modified + g[req] + h[req] * modified
                         + u[prompt] + delta * [condition b],     u ~ N(0, prompt_sd^2)

with a, b, g, h from the calibration to the published figures (``simulate_with_truth``, preset
``published``) and ``prompt_sd`` from the published calibration's default or a fitted model's
variance components (``prompt_sd_from_fit``). The prompt effect is shared by both conditions
(the pairing). An expected effect given as a rate difference is turned into the ``delta`` that
produces it on average over the planned checks (integrating over u); an odds ratio is
``exp(delta)`` directly (a conditional, within-prompt odds ratio).

For each replicate the planner computes the paired difference and the variance the prompt
bootstrap estimates (its delta-method limit: prompts resampled within source, the sum of
per-source n_s x variance of the per-prompt residuals D_p - diff x C_p, over N^2), a two-sided
Wald p, and Holm across the family. So one replicate costs microseconds and a curve thousands
of replicates; ``tests/test_analysis_power.py`` checks that this matches the rejection rate of
the actual bootstrap analysis on simulated studies within Monte Carlo error.

Epochs and judge repeats (``epochs``, ``judge_repeats``, ``response_sd``): each model answers
each prompt ``epochs`` times per condition, every answer with its own effect
v ~ N(0, response_sd^2), and each answer is judged ``judge_repeats`` times; a check's verdict is
the mean of its calls (the ``mean`` reducer), so more epochs shrink the response and judge noise
and more judge calls the judge's. ``plan_with_noise`` takes ``prompt_sd`` and ``response_sd``
from a noise decomposition (``analysis.noise``) of a run with repeats.

Optional human labels (corrected rates): the simulated verdicts are then the people's (true)
violations, the effect is given on that scale, and a judge with the plan's sensitivity and
specificity gives its verdict on every check. Each run (model x condition) gets a labelling
sample of ``n_labels`` checks stratified by requirement x judge verdict with equal allocation
(``store.sampling.sample_rows``, what the labelling notebook draws), and the test is the one a
user can make from the suite's output: each run's corrected rate and SE from the suite's
estimator (``analysis.stratified.stratified_rate``, what ``validity`` reports), the difference
b - a over sqrt(se_a^2 + se_b^2) (the two samples are independent; the shared prompts make this
slightly conservative), a Wald p and Holm. The planner calls that estimator on every replicate,
so it is slower (about 20 ms per run and replicate). An earlier version planned the
Rogan-Gladen correction d / J of the paired difference with the delta method, which the suite
does not compute: it promised 0.94 where the corrected rates achieve far less
(``tests/test_analysis_power.py``). Seeds: replicate r of a plan with seed s uses
``numpy.random.default_rng([s, r // CHUNK])``, the same for every effect size (common random
numbers, so a curve is smooth and monotone up to Monte Carlo error).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import expit

from .mixed import MixedResult
from .rates import Z95, holm, two_sided_p
from .simulate import DEFAULT_PROMPT_SD, default_design, linear_predictor, marginal_probability, simulate_with_truth

CHUNK = 100
"""Replicates drawn per random stream (and per vectorised block)."""
DEFAULT_REPLICATES = 1000
"""Replicates per power value: Monte Carlo SE at most 0.016."""
DEFAULT_SEED = 2026
"""The planner's default seed (documented so results can be reproduced)."""
ASSUMPTIONS = (
    "Simulated from the suite's calibrated logistic model with a normal prompt intercept shared "
    "by both conditions; every model shifted by the same conditional log-odds delta under "
    "condition b; no judge errors; checks independent given the prompt. The test is the paired "
    "prompt-bootstrap analysis (its delta-method limit), two-sided, Holm across models x "
    "condition pairs (pairs not simulated count as not rejected: a conservative bound)."
)
ASSUMPTIONS_LABELLED = (
    "Simulated from the suite's calibrated logistic model with a normal prompt intercept shared "
    "by both conditions, as the people's verdicts; every model shifted by the same conditional "
    "log-odds delta under condition b; a judge with the plan's sensitivity and specificity on every "
    "check, the same under both conditions; in each run a labelling sample stratified by "
    "requirement x judge verdict (equal allocation). The test is the difference of the two runs' "
    "corrected rates (the suite's stratified estimator) over the root sum of their squared SEs, "
    "two-sided, Holm across models x condition pairs."
)


@dataclass(frozen=True)
class HumanLabels:
    """Human labels of a sample of each run's checks, used to correct its rate for judge error."""

    n_labels: int
    """Checks labelled by people in each run (model x condition), stratified by requirement x
    judge verdict with equal allocation."""
    sensitivity: float
    """Expected P(judge says violation | human says violation): no default, it must be chosen."""
    specificity: float
    """Expected P(judge says pass | human says pass): no default, it must be chosen."""

    def __post_init__(self) -> None:
        if self.n_labels < 2:
            raise ValueError(f"HumanLabels.n_labels: expected >= 2, got {self.n_labels}")
        if not (0 < self.sensitivity <= 1 and 0 < self.specificity <= 1 and self.sensitivity + self.specificity > 1):
            raise ValueError("HumanLabels: expected sensitivity and specificity in (0, 1] with a sum > 1 "
                             "(a judge better than chance)")

    def youden(self) -> float:
        """J = Se + Sp - 1: the judge sees a difference J times the true one."""
        return self.sensitivity + self.specificity - 1


@dataclass(frozen=True)
class StudyPlan:
    """A planned condition study."""

    n_models: int = 1
    """Models in the study (the best ``n_models`` of the leaderboard unless ``models`` is given)."""
    models: tuple[str, ...] | None = None
    """Leaderboard model names whose calibrated rates to use (others get the median)."""
    prompts: int | tuple[str, ...] | None = None
    """All prompts (None), a number drawn at random within source in proportion, or prompt ids."""
    n_conditions: int = 2
    """Conditions; all pairs are compared, so the Holm family is models x pairs."""
    effect: float = -0.05
    """Expected effect of condition b versus a: a rate difference (fraction) or an odds ratio."""
    effect_scale: Literal["rate", "odds_ratio"] = "rate"
    """How ``effect`` is given."""
    alpha: float = 0.05
    """Family-wise significance level (Holm)."""
    prompt_sd: float = DEFAULT_PROMPT_SD
    """Prompt random-intercept SD (log-odds): the published calibration's default, or a fit's."""
    effect_prompt_sd: float = 0.0
    """SD across prompts of the condition's log-odds shift (0: the same shift on every prompt). A
    condition effect that varies by prompt is what the study's mixed model does not describe; the
    paired bootstrap, and so the planner, allow for it."""
    human_labels: HumanLabels | None = None
    """Human labels for corrected rates (needs ``effect_scale="rate"``), or None."""
    replicates: int = DEFAULT_REPLICATES
    """Simulated studies per power value."""
    seed: int = DEFAULT_SEED
    """Seed of the simulation (see the module docstring)."""
    design: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    """Checks to plan on (``prompt_id``, ``requirement``, ``source``); None: the benchmark's."""
    epochs: int = 1
    """Responses per model, prompt and condition, each judged (the run's ``--epochs``)."""
    judge_repeats: int = 1
    """Judge calls per response (``--judge-repeats``); a check's verdict is the mean of its calls."""
    response_sd: float = 0.0
    """SD (log-odds) of a response's own effect, drawn afresh per epoch and condition: the
    ``sd_response`` of a noise decomposition (``plan_with_noise``). 0: responses do not vary
    beyond the judge's Bernoulli draw, as in the published calibration."""

    def __post_init__(self) -> None:
        if self.n_models < 1 or self.n_conditions < 2 or self.replicates < 10:
            raise ValueError("StudyPlan: expected n_models >= 1, n_conditions >= 2 and replicates >= 10")
        if not 0 < self.alpha < 1:
            raise ValueError(f"StudyPlan.alpha: expected a level between 0 and 1, got {self.alpha}")
        if self.effect_scale not in ("rate", "odds_ratio"):
            raise ValueError(f"StudyPlan.effect_scale: expected 'rate' or 'odds_ratio', got {self.effect_scale!r}")
        if self.effect_scale == "odds_ratio" and not self.effect > 0:
            raise ValueError(f"StudyPlan.effect: an odds ratio must be > 0, got {self.effect}")
        if self.effect_scale == "rate" and not -1 < self.effect < 1:
            raise ValueError(f"StudyPlan.effect: a rate difference must lie between -1 and 1, got {self.effect}")
        if self.human_labels is not None and self.effect_scale != "rate":
            raise ValueError("StudyPlan: human labels correct rates, so give the effect as a rate difference")
        if self.prompt_sd <= 0:
            raise ValueError(f"StudyPlan.prompt_sd: expected > 0, got {self.prompt_sd}")
        if self.effect_prompt_sd < 0:
            raise ValueError(f"StudyPlan.effect_prompt_sd: expected >= 0, got {self.effect_prompt_sd}")
        for name in ("epochs", "judge_repeats"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"StudyPlan.{name}: expected a whole number >= 1, got {value!r}")
        if not self.response_sd >= 0:
            raise ValueError(f"StudyPlan.response_sd: expected >= 0, got {self.response_sd}")
        if self.human_labels is not None and (self.epochs > 1 or self.judge_repeats > 1 or self.response_sd > 0):
            # The labelling sample labels one verdict per check; repeated verdicts are means, not 0/1.
            raise ValueError("StudyPlan: human labels are planned on one response and one judge call per check: "
                             "use epochs = judge_repeats = 1 and response_sd = 0 with them")

    @property
    def call_sd(self) -> float:
        """SD of a judge call's log-odds around the fixed part: prompt and response effects together."""
        return float(np.hypot(self.prompt_sd, self.response_sd))


@dataclass(frozen=True)
class PowerResult:
    """Power of one plan."""

    power: float
    """Share of simulated studies in which a model's effect is significant after Holm
    (averaged over the models)."""
    mc_se: float
    """Monte Carlo standard error of ``power``."""
    power_any: float
    """Share of simulated studies in which at least one model's effect is significant."""
    delta: float
    """The conditional log-odds shift simulated."""
    rate_diff: float
    """The expected rate difference that ``delta`` produces (people's scale with human labels,
    else the judge's)."""
    n_checks: int
    """Paired checks per model."""
    n_prompts: int
    """Prompts in the plan."""
    replicates: int
    """Simulated studies."""
    seed: int
    """Seed used."""
    assumptions: str = ASSUMPTIONS
    """What the simulation assumes."""
    judge_rate_diff: float = float("nan")
    """With human labels: the difference the judge sees (``rate_diff`` x J), else NaN."""


def plan_with_noise(plan: StudyPlan, noise: pd.Series | dict) -> StudyPlan:
    """``plan`` with the prompt and response SDs of a noise decomposition row (``noise.decompose``),
    keeping its epochs and judge repeats (set those to the design being planned)."""
    sd_prompt, sd_response = noise.get("sd_prompt"), noise.get("sd_response")
    if sd_prompt is None or sd_response is None or not (np.isfinite(sd_prompt) and np.isfinite(sd_response)):
        raise ValueError("the noise decomposition has no log-odds SDs (it needs a run with epochs and judge repeats)")
    return replace(plan, prompt_sd=max(float(sd_prompt), 1e-3), response_sd=float(sd_response))


def prompt_sd_from_fit(result: MixedResult) -> float:
    """The prompt random-intercept SD of a fitted mixed model (``fit_mixed`` or a study fit)."""
    components = result.variance_components.set_index("name")
    return float(components.loc["prompt_id", "sd"])


@dataclass(frozen=True)
class _Setup:
    """What every replicate of a plan shares."""

    models: tuple[str, ...]
    """Simulated model names."""
    checks: pd.DataFrame
    """The planned checks."""
    eta: np.ndarray
    """models x checks log-odds without prompt effect and condition."""
    prompt_index: np.ndarray
    """Prompt position of each check."""
    prompt_source: np.ndarray
    """Source of each prompt."""
    prompt_ids: np.ndarray
    """Prompt ids, by position."""


def _checks(plan: StudyPlan) -> pd.DataFrame:
    design = plan.design if plan.design is not None else default_design()[0]
    design = design[["prompt_id", "requirement", "source"]].reset_index(drop=True)
    if plan.prompts is None:
        return design
    if isinstance(plan.prompts, int):
        per_prompt = design.drop_duplicates("prompt_id")
        total = len(per_prompt)
        if not 2 <= plan.prompts <= total:
            raise ValueError(f"StudyPlan.prompts: expected 2 to {total} prompts, got {plan.prompts}")
        rng = np.random.default_rng([plan.seed, 0xD0])
        chosen = []
        for _, group in per_prompt.groupby("source"):
            k = max(1, round(plan.prompts * len(group) / total))
            chosen += list(rng.choice(group["prompt_id"].to_numpy(), size=min(k, len(group)), replace=False))
        return design[design["prompt_id"].isin(chosen)].reset_index(drop=True)
    unknown = sorted(set(plan.prompts) - set(design["prompt_id"]))
    if unknown:
        raise ValueError(f"StudyPlan.prompts: unknown prompt id(s) {', '.join(unknown[:5])}")
    return design[design["prompt_id"].isin(plan.prompts)].reset_index(drop=True)


def plan_setup(plan: StudyPlan) -> _Setup:
    """What every replicate of ``plan`` shares (the checks, calibrated log-odds, prompts)."""
    checks = _checks(plan)
    models: int | Sequence[str] = plan.models if plan.models is not None else plan.n_models
    # Only the truth is used (the calibration for these checks and prompt SD), not the draws.
    _, truth = simulate_with_truth("published", seed=plan.seed, design=checks, models=models, prompt_sd=plan.prompt_sd,
                                   response_sd=plan.response_sd)
    eta = linear_predictor(truth.models, truth.model_intercepts, truth.source_effects, truth.requirement_effects,
                           truth.requirement_source_effects, checks)
    index, prompt_ids = pd.factorize(checks["prompt_id"])
    source = checks.groupby(index)["source"].first().to_numpy()
    return _Setup(tuple(truth.models), checks, eta, index, source, np.asarray(prompt_ids))


def _observed_rate_diff(setup: _Setup, delta: float, prompt_sd: float, effect_sd: float = 0.0) -> float:
    base = marginal_probability(setup.eta, prompt_sd)
    return float(np.mean(marginal_probability(setup.eta + delta, float(np.hypot(prompt_sd, effect_sd))) - base))


def delta_for(plan: StudyPlan, setup: _Setup | None = None) -> float:
    """The conditional log-odds shift that realises the plan's effect."""
    from scipy.optimize import brentq

    if plan.effect_scale == "odds_ratio":
        return float(np.log(plan.effect))
    setup = setup or plan_setup(plan)
    target = plan.effect  # with human labels, on the people's scale (the verdicts simulated are theirs)
    if target == 0:
        return 0.0
    return float(brentq(lambda d: _observed_rate_diff(setup, d, plan.call_sd, plan.effect_prompt_sd) - target,
                        -15, 15, xtol=1e-8))


def _condition_shift(setup: _Setup, delta: float, plan: StudyPlan, rng: np.random.Generator,
                     shape: tuple[int, ...]) -> float | np.ndarray:
    """Condition b's log-odds shift: ``delta``, plus a per-prompt part when the effect varies by prompt."""
    if plan.effect_prompt_sd == 0:  # drawn only then, so plans without it keep their random numbers
        return delta
    return delta + rng.normal(0.0, plan.effect_prompt_sd, size=shape)[..., setup.prompt_index]


def _draw(setup: _Setup, delta: float, plan: StudyPlan, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` replicates of both conditions' verdicts: two arrays n x models x checks (each check's
    mean over its epochs and judge calls when the plan has repeats)."""
    shape = (n, 1, len(setup.prompt_source))
    u = rng.normal(0.0, plan.prompt_sd, size=shape)[..., setup.prompt_index]
    eta = setup.eta[None] + u
    if plan.epochs == 1 and plan.judge_repeats == 1 and plan.response_sd == 0:
        y_a = rng.random(eta.shape) < expit(eta)
        y_b = rng.random(eta.shape) < expit(eta + _condition_shift(setup, delta, plan, rng, shape))
        return y_a.astype(float), y_b.astype(float)
    out = []
    for shift in (0.0, _condition_shift(setup, delta, plan, rng, shape)):
        total = np.zeros(eta.shape)
        for _ in range(plan.epochs):
            v = rng.normal(0.0, plan.response_sd, size=(n, eta.shape[1], len(setup.prompt_source)))[..., setup.prompt_index]
            total += rng.binomial(plan.judge_repeats, expit(eta + shift + v)) / plan.judge_repeats
        out.append(total / plan.epochs)
    return out[0], out[1]


def _z_statistics(setup: _Setup, y_a: np.ndarray, y_b: np.ndarray, plan: StudyPlan) -> np.ndarray:
    """Paired diff / its prompt-bootstrap SE (delta-method limit), n x models."""
    n_prompts = len(setup.prompt_source)
    Z = sparse.csr_matrix((np.ones(len(setup.prompt_index)), (np.arange(len(setup.prompt_index)), setup.prompt_index)),
                          shape=(len(setup.prompt_index), n_prompts))
    shape = y_a.shape[:2]
    D = np.asarray((y_b - y_a).reshape(-1, y_a.shape[-1]) @ Z).reshape(*shape, n_prompts)
    C = np.asarray(Z.sum(0)).ravel()
    N = C.sum()
    diff = D.sum(-1) / N
    resid = D - diff[..., None] * C
    var = np.zeros(shape)
    for value in np.unique(setup.prompt_source):
        cols = setup.prompt_source == value
        var += cols.sum() * resid[..., cols].var(axis=-1)
    var /= N**2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(var > 0, diff / np.sqrt(var), 0.0)


def _corrected_z_statistics(setup: _Setup, y_a: np.ndarray, y_b: np.ndarray, labels: HumanLabels,
                            rng: np.random.Generator) -> np.ndarray:
    """Difference of the two runs' corrected rates over its SE, n x models: the judge's verdicts
    drawn from the people's (``y_a``, ``y_b``), a stratified labelling sample per run, and the
    suite's stratified estimator on each run."""
    from ..store.sampling import sample_rows
    from .simulate import imperfect_verdicts
    from .stratified import stratified_rate

    requirement = pd.factorize(setup.checks["requirement"])[0].astype(np.int64)
    n_checks = len(requirement)
    sens, spec = np.full(n_checks, labels.sensitivity), np.full(n_checks, labels.specificity)
    everything = np.zeros(n_checks, dtype=np.int64)
    z = np.zeros(y_a.shape[:2])
    for r in range(y_a.shape[0]):
        for m in range(y_a.shape[1]):
            estimates = []
            for truth in (y_a[r, m], y_b[r, m]):
                judge = imperfect_verdicts(truth, sens, spec, rng)
                verdict = judge.astype(np.int64)
                stratum = 2 * requirement + verdict
                rows, sizes, taken = sample_rows(stratum, labels.n_labels, rng)
                human = np.full(n_checks, np.nan)
                weight = np.full(n_checks, np.nan)
                human[rows], weight[rows] = truth[rows], sizes / taken
                estimates.append(stratified_rate(judge, human, weight, setup.prompt_index,
                                                 [stratum, verdict, everything]))
            a, b = estimates
            se = float(np.hypot(a.se, b.se))
            z[r, m] = (b.rate - a.rate) / se if np.isfinite(se) and se > 0 else 0.0
    return z


def power(plan: StudyPlan, *, setup: _Setup | None = None) -> PowerResult:
    """Power of ``plan`` (see the module docstring for the model, the test and the seeds)."""
    setup = setup or plan_setup(plan)
    delta = delta_for(plan, setup)
    family = len(setup.models) * plan.n_conditions * (plan.n_conditions - 1) // 2
    rejected, any_rejected = [], []
    for block, start in enumerate(range(0, plan.replicates, CHUNK)):
        n = min(CHUNK, plan.replicates - start)
        rng = np.random.default_rng([plan.seed, block])
        y_a, y_b = _draw(setup, delta, plan, rng, n)
        z = (_z_statistics(setup, y_a, y_b, plan) if plan.human_labels is None
             else _corrected_z_statistics(setup, y_a, y_b, plan.human_labels, rng))
        p = two_sided_p(z)
        reject = holm(p, family) <= plan.alpha
        rejected.append(reject.mean(axis=1))
        any_rejected.append(reject.any(axis=1))
    per_study = np.concatenate(rejected)
    value = float(per_study.mean())
    rate_diff = _observed_rate_diff(setup, delta, plan.call_sd, plan.effect_prompt_sd)
    return PowerResult(
        power=value, mc_se=float(per_study.std(ddof=1) / np.sqrt(len(per_study))),
        power_any=float(np.concatenate(any_rejected).mean()), delta=delta,
        rate_diff=rate_diff, n_checks=len(setup.checks),
        n_prompts=len(setup.prompt_source), replicates=plan.replicates, seed=plan.seed,
        assumptions=ASSUMPTIONS if plan.human_labels is None else ASSUMPTIONS_LABELLED,
        judge_rate_diff=rate_diff * plan.human_labels.youden() if plan.human_labels is not None else float("nan"))


def power_curve(plan: StudyPlan, effects: Sequence[float]) -> pd.DataFrame:
    """Power at each effect (on the plan's scale), with the same random numbers for all.

    Columns: ``effect``, ``delta``, ``rate_diff``, ``power``, ``mc_se``, ``ci_low``, ``ci_high``
    (95% Monte Carlo interval), ``power_any``."""
    setup = plan_setup(plan)
    rows = []
    for effect in effects:
        result = power(replace(plan, effect=float(effect)), setup=setup)
        rows.append({"effect": float(effect), "delta": result.delta, "rate_diff": result.rate_diff,
                     "power": result.power, "mc_se": result.mc_se,
                     "ci_low": max(0.0, result.power - Z95 * result.mc_se),
                     "ci_high": min(1.0, result.power + Z95 * result.mc_se), "power_any": result.power_any})
    out = pd.DataFrame(rows)
    out.attrs.update(effect_scale=plan.effect_scale, alpha=plan.alpha, replicates=plan.replicates, seed=plan.seed,
                     n_models=len(setup.models), n_prompts=len(setup.prompt_source), n_checks=len(setup.checks))
    return out


def default_effects(plan: StudyPlan, n: int = 12) -> np.ndarray:
    """A grid from no effect to a large one, in the direction of the plan's effect."""
    if plan.effect_scale == "odds_ratio":
        far = 0.4 if plan.effect <= 1 else 2.5
        return np.exp(np.linspace(0.0, np.log(far), n))
    sign = -1.0 if plan.effect <= 0 else 1.0
    return sign * np.linspace(0.0, 0.2, n)


def minimum_detectable_effect(plan: StudyPlan, *, target: float = 0.8, effects: Sequence[float] | None = None) -> tuple[float | None, pd.DataFrame]:
    """The smallest effect (in the plan's direction and scale) with power >= ``target``,
    linearly interpolated on the power curve, and the curve; None when no effect on the grid
    reaches ``target``."""
    grid = np.asarray(default_effects(plan) if effects is None else effects, dtype=float)
    curve = power_curve(plan, grid)
    powers = curve["power"].to_numpy()
    above = np.flatnonzero(powers >= target)
    if not len(above):
        return None, curve
    i = int(above[0])
    if i == 0:
        return float(grid[0]), curve
    x0, x1, p0, p1 = grid[i - 1], grid[i], powers[i - 1], powers[i]
    return float(x0 + (target - p0) * (x1 - x0) / (p1 - p0)), curve


def simulate_study(plan: StudyPlan, seed: int, *, conditions: tuple[str, str] = ("a", "b"),
                   setup: _Setup | None = None) -> pd.DataFrame:
    """One simulated study as a judgments table with a ``condition`` column (for checking the
    planner against the actual analysis, and for demos); ``simulated=True``. Pass ``setup``
    (``plan_setup(plan)``) to draw many studies of one plan quickly."""
    setup = setup or plan_setup(plan)
    delta = delta_for(plan, setup)
    y_a, y_b = _draw(setup, delta, plan, np.random.default_rng([plan.seed, 0x5EED, seed]), 1)
    frames = []
    for name, y in zip(conditions, (y_a[0], y_b[0])):
        for i, model in enumerate(setup.models):
            frames.append(setup.checks.assign(model=model, condition=name, violation=y[i], error=""))
    frame = pd.concat(frames, ignore_index=True)
    if plan.epochs > 1 or plan.judge_repeats > 1:
        frame["reducer"] = "mean"  # each check's verdict is the mean of its calls (analysis.reducers)
    frame["simulated"] = True
    frame.attrs["simulated"] = True
    return frame
