"""Paired condition effects: does a system prompt (a persona, the design code...) move the rates?

A study is a judgments table with a ``condition`` column: one model answered the same prompts
under two or more conditions. Every comparison is **paired**: only checks judged under both
conditions count, so a prompt the judge failed on under one condition drops out of that pair
on both sides.

- ``paired_effects``: per model (and optionally per requirement), for each pair of conditions
  (``condition_a`` sorted first), the rates on the paired checks, ``diff`` = b - a, a 95%
  percentile interval from the prompt-clustered bootstrap (``rates.prompt_bootstrap_weights``:
  prompts resampled within source, the same draws for both conditions and every model, so the
  pairing and the between-model correlation are kept), a two-sided Wald p-value with the
  bootstrap SE, and ``p_holm`` adjusted across the table's rows (models x condition pairs
  [x requirements]). A cell in which every prompt gives at most one paired check (one model's
  requirement) is tested by McNemar's exact test instead: there the Wald test with a bootstrap SE
  rests on a handful of discordant pairs and rejected too often (family-wise 0.088 over the nine
  requirements of a 100-prompt study, against 0.05).
- ``pooled_effects``: the same with all models' checks pooled (one row per pair). The paired
  effects are the study's primary estimate: they assume nothing about how the condition acts.
- ``fit_condition_model``: ``violation ~ source + requirement [+ model] + condition
  [+ condition:source] + (1 | prompt_id)`` by the Laplace approximation of ``laplace.py``
  (lme4 glmer), reported as odds ratios: a cross-check. Its one shared shift per condition does
  not describe an effect that varies by prompt (then its interval is too narrow: coverage 0.70 to
  0.90 in the audit's simulations, where the paired bootstrap held). Levels and condition x
  source cells whose verdicts never vary are set aside or the term dropped, with a WARNING
  (separation), so no unidentified coefficient is reported.
- ``check_condition_model``: the mixed model's condition terms beside the pooled paired effects,
  saying where they disagree (opposite directions, or one excludes no effect and the other not).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..benchmark.dataset import SOURCES
from ..benchmark.design_code import REQUIREMENT_KEYS
from .cache import FitCache
from .frames import frame_key, is_simulated, judged
from .laplace import fit_prompt_intercept
from .mixed import MixedResult, coefficient_table
from .rates import _percentiles, holm, log_scale_interval, prompt_bootstrap_weights, two_sided_p, violation_count

CONDITION = "condition"
"""The column naming each row's condition."""
EFFECT_COLUMNS = ("model", "condition_a", "condition_b", "n_checks", "rate_a", "rate_b", "diff", "ci_low", "ci_high",
                  "p_value", "p_holm")
"""The columns of ``eudaimonia-nb study --format json``'s effects, in order."""
POOLED = "(all models)"
"""The ``model`` label of pooled rows."""
TEST_WALD = "Wald (bootstrap SE)"
"""``test`` of a row whose p is the Wald test of diff / bootstrap SE."""
TEST_MCNEMAR = "McNemar exact"
"""``test`` of a row in which no prompt gives more than one paired check (e.g. one model's
requirement): the pairs are independent and McNemar's exact test holds its size at any count."""
ASSUMPTIONS_PAIRED = (
    "Paired comparison on the checks judged under both conditions. Interval: 95% percentile "
    "interval of a bootstrap over prompts (resampled within source; the same resampled prompts "
    "for both conditions, so the pairing is kept, and for every model). p: two-sided Wald test "
    "of diff / bootstrap SE, or McNemar's exact test where every prompt gives at most one paired "
    "check (column test); p_holm: Holm's step-down adjustment across the rows of the table. "
    "Assumes prompts are exchangeable within source and the judge treats conditions alike; "
    "nothing about how the condition acts (it may move some prompts more than others)."
)
ASSUMPTIONS_MIXED = (
    "Logistic mixed model: logit P(violation) = fixed effects (source, requirement{model}, "
    "condition{inter}) + a normal random intercept per prompt shared by all conditions, so a "
    "prompt's difficulty is the same under every condition and the condition effect is a "
    "within-prompt (conditional) log-odds ratio. Laplace approximation (lme4 glmer nAGQ=1), "
    "Hessian standard errors, Wald 95% intervals. The reference condition is the first by name. "
    "A condition effect that varies by prompt is not described: the estimate is then pulled "
    "towards 0 and its interval is too narrow; the paired effects, the study's primary "
    "estimate, do not assume it."
)
_cache: FitCache[MixedResult] = FitCache(16)
log = logging.getLogger(__name__)


def conditions_of(frame: pd.DataFrame) -> list[str]:
    """The study's conditions, sorted (the first is every comparison's ``condition_a``)."""
    _require_condition(frame)
    return sorted(frame[CONDITION].astype(str).unique())


def _require_condition(frame: pd.DataFrame) -> None:
    if CONDITION not in frame.columns:
        raise KeyError(f"no {CONDITION!r} column: a study needs runs labelled with a condition "
                       "(eudaimonia-nb run ... --condition NAME)")


@dataclass(frozen=True)
class _PairTables:
    """Per unit x prompt counts of the paired checks of one pair of conditions."""

    units: list[tuple]
    """Unit keys (model, or model and requirement)."""
    checks: np.ndarray
    """Paired judged checks, units x prompts."""
    viol_a: np.ndarray
    """Violations under condition a, units x prompts."""
    viol_b: np.ndarray
    """Violations under condition b, units x prompts."""


def _paired(frame: pd.DataFrame, a: str, b: str, keys: list[str]) -> pd.DataFrame:
    """One row per model x prompt x requirement judged under both a and b: ``va``, ``vb``
    (and the ``keys`` columns)."""
    data = judged(frame)
    index = list(dict.fromkeys(["model"] + keys + ["prompt_id", "requirement"]))
    side_a = data.loc[data[CONDITION] == a].set_index(index)["violation"]
    side_b = data.loc[data[CONDITION] == b].set_index(index)["violation"]
    both = pd.concat({"va": side_a, "vb": side_b}, axis=1, join="inner")
    return both.reset_index()


def _pair_tables(frame: pd.DataFrame, a: str, b: str, keys: list[str], prompts: pd.Index, pooled: bool) -> _PairTables:
    rows = _paired(frame, a, b, [k for k in keys if k != "model"])
    if pooled:
        rows["model"] = POOLED
    unit_codes, units = pd.factorize(pd.MultiIndex.from_frame(rows[keys])) if len(rows) else (np.array([], int), [])
    prompt_idx = prompts.get_indexer(rows["prompt_id"])
    size = len(units) * len(prompts)
    flat = unit_codes * len(prompts) + prompt_idx

    def table(weights: np.ndarray | None) -> np.ndarray:
        return np.bincount(flat, weights=weights, minlength=size).reshape(len(units), len(prompts)).astype(float)

    return _PairTables([tuple(u) for u in units], table(None), table(rows["va"].to_numpy(float)),
                       table(rows["vb"].to_numpy(float)))


def paired_effects(frame: pd.DataFrame, *, by: str | None = None, pooled: bool = False, n_boot: int = 1000,
                   seed: int = 0) -> pd.DataFrame:
    """Paired condition effects per model (``pooled=True``: all models together), optionally
    per ``by`` (e.g. ``"requirement"`` or ``"source"``).

    Columns: ``model``, [``by``], ``condition_a``, ``condition_b``, ``n_checks`` (paired judged
    checks), ``n_prompts``, ``rate_a``, ``rate_b``, ``diff`` (b - a), ``ci_low``, ``ci_high``,
    ``se`` (bootstrap), ``p_value``, ``test`` (``TEST_WALD`` or, where no prompt gives more than one
    paired check, ``TEST_MCNEMAR``), ``p_holm`` (Holm across the rows: with ``by="requirement"``
    across models x condition pairs x requirements). Rates are fractions.
    """
    conditions = conditions_of(frame)
    if len(conditions) < 2:
        raise ValueError(f"a study needs at least two conditions; the selection has {len(conditions)}: "
                         f"{', '.join(conditions) or 'none'}")
    data = frame
    keys = ["model"] + ([by] if by else [])
    missing = [k for k in keys if k not in data.columns]
    if missing:
        raise KeyError(f"cannot split by {missing}: no such column")
    prompt_source = data.groupby("prompt_id", sort=True)["source"].first()
    prompts = pd.Index(prompt_source.index)
    weights = prompt_bootstrap_weights(prompt_source.to_numpy(), n_boot, seed)
    rows = []
    for a, b in itertools.combinations(conditions, 2):
        t = _pair_tables(data, a, b, keys, prompts, pooled)
        if not t.units:
            continue
        n = t.checks.sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate_a, rate_b = t.viol_a.sum(1) / n, t.viol_b.sum(1) / n
            boot_n = weights @ t.checks.T
            draws = (weights @ t.viol_b.T - weights @ t.viol_a.T) / boot_n
        low, high = _percentiles(draws)
        se = np.nanstd(draws, axis=0, ddof=1)
        diff = rate_b - rate_a
        with np.errstate(invalid="ignore", divide="ignore"):
            p = np.where(se > 0, two_sided_p(diff / se), np.where(diff == 0, 1.0, np.nan))
        single = t.checks.max(axis=1, initial=0) <= 1
        p = np.where(single, mcnemar_exact_p(np.maximum(t.viol_b - t.viol_a, 0).sum(1),
                                             np.maximum(t.viol_a - t.viol_b, 0).sum(1)), p)
        for i, unit in enumerate(t.units):
            rows.append({**dict(zip(keys, unit)), "condition_a": a, "condition_b": b, "n_checks": int(n[i]),
                         "n_prompts": int((t.checks[i] > 0).sum()), "rate_a": rate_a[i], "rate_b": rate_b[i],
                         "diff": diff[i], "ci_low": low[i], "ci_high": high[i], "se": se[i], "p_value": float(p[i]),
                         "test": TEST_MCNEMAR if single[i] else TEST_WALD})
    columns = keys + ["condition_a", "condition_b", "n_checks", "n_prompts", "rate_a", "rate_b", "diff", "ci_low",
                      "ci_high", "se", "p_value", "test"]
    out = pd.DataFrame(rows, columns=columns)
    if by == "requirement" and len(out):
        order = {k: i for i, k in enumerate(REQUIREMENT_KEYS)}
        out = out.sort_values(["model", "condition_a", "condition_b", "requirement"],
                              key=lambda s: s.map(order) if s.name == "requirement" else s, kind="stable")
    elif len(out):
        out = out.sort_values(keys + ["condition_a", "condition_b"], kind="stable")
    out = out.reset_index(drop=True)
    out["p_holm"] = holm(out["p_value"].to_numpy(float))
    out.attrs["simulated"] = is_simulated(frame)
    out.attrs["assumptions"] = ASSUMPTIONS_PAIRED
    return out


def mcnemar_exact_p(b_to_a: np.ndarray, a_to_b: np.ndarray) -> np.ndarray:
    """Two-sided exact McNemar p-values from the discordant pair counts (checks violated only under
    b, only under a): twice the smaller binomial(n, 1/2) tail, capped at 1; 1 with no discordant pair.
    Exact for independent pairs, i.e. where each prompt gives one paired check."""
    from scipy.stats import binom

    b_to_a, a_to_b = np.asarray(b_to_a, float), np.asarray(a_to_b, float)
    total = b_to_a + a_to_b
    return np.where(total > 0, np.minimum(1.0, 2.0 * binom.cdf(np.minimum(b_to_a, a_to_b), total, 0.5)), 1.0)


def pooled_effects(frame: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """``paired_effects`` with every model's checks pooled (``model`` = ``POOLED``)."""
    return paired_effects(frame, pooled=True, n_boot=n_boot, seed=seed)


def condition_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Rate per model and condition over all its judged checks (not only paired ones):
    ``model``, ``condition``, ``n_checks``, ``n_errors``, ``rate``."""
    _require_condition(frame)
    work = frame.assign(_judged=frame["violation"].notna(), _viol=frame["violation"].fillna(0.0))
    out = work.groupby(["model", CONDITION], sort=True).agg(
        n_checks=("_judged", "sum"), n_violations=("_viol", "sum"), n_rows=("_judged", "size")).reset_index()
    out["n_errors"] = out["n_rows"] - out["n_checks"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["rate"] = out["n_violations"] / out["n_checks"].where(out["n_checks"] > 0)
    out = out.drop(columns="n_rows").astype({"n_checks": int, "n_errors": int})
    out["n_violations"] = violation_count(out["n_violations"].to_numpy())
    return out


def fit_condition_model(frame: pd.DataFrame, *, interaction: bool = True, model: str | None = None,
                        use_cache: bool = True) -> MixedResult:
    """Logistic mixed model of a study: ``violation ~ source + requirement [+ model] + condition
    [+ condition:source] + (1 | prompt_id)``; ``model`` restricts to one model's rows. A
    cross-check of the paired effects (``check_condition_model``), not the primary estimate.

    The condition rows of ``params`` are ``condition[T.<name>]`` (versus the first condition
    by name) and, with ``interaction``, ``condition[T.<name>]:source[T.modified]`` (how much
    the effect differs on modified prompts). Factors with one level are left out. Separation (a
    level or a condition x source cell whose verdicts never vary) is handled as in ``fit_mixed``:
    the rows or the term are set aside, ``separated`` says which and ``message`` has a WARNING."""
    _require_condition(frame)
    data = frame if model is None else frame.loc[frame["model"] == model]
    if data.empty:
        raise KeyError(f"no rows for model {model!r}")
    key = frame_key(data, "conditions", interaction,
                    pd.util.hash_pandas_object(data[CONDITION].astype(str), index=False).sum())
    return _cache.get_or_fit(key, lambda: _fit(data, interaction), use_cache=use_cache)


def _categorical(data: pd.DataFrame) -> pd.DataFrame:
    data = data.copy()
    data[CONDITION] = pd.Categorical(data[CONDITION].astype(str), categories=sorted(set(data[CONDITION].astype(str))))
    data["source"] = pd.Categorical(data["source"], categories=[s for s in SOURCES if s in set(data["source"])])
    data["requirement"] = pd.Categorical(data["requirement"],
                                         categories=[k for k in REQUIREMENT_KEYS if k in set(data["requirement"])])
    data["model"] = pd.Categorical(data["model"], categories=sorted(set(data["model"])))
    return data


def _fit(frame: pd.DataFrame, interaction: bool) -> MixedResult:
    from patsy import dmatrix

    data = judged(frame)[["model", "prompt_id", "requirement", "source", "violation", CONDITION]].copy()
    data, separated, interaction = _set_aside_separated(data, interaction)
    data = _categorical(data)
    if len(data[CONDITION].cat.categories) < 2:
        raise ValueError("the mixed model of a study needs judged checks under at least two conditions")
    terms = [name for name in ("source", "requirement", "model") if len(data[name].cat.categories) > 1]
    terms.append(CONDITION)
    if interaction and "source" in terms:
        terms.append(f"{CONDITION}:source")
    rhs = " + ".join(terms)
    design = dmatrix(rhs, data)
    names = list(design.design_info.column_names)
    group, prompts = pd.factorize(data["prompt_id"])
    fit = fit_prompt_intercept(data["violation"].to_numpy(float), np.asarray(design, float), group, len(prompts))
    p = len(names)
    params = coefficient_table(names, fit.coef[:p], np.sqrt(np.diag(fit.cov)[:p]))
    sd_low, sd_high = log_scale_interval(fit.prompt_sd, fit.log_prompt_sd_se)
    components = pd.DataFrame([{"name": "prompt_id", "sd": fit.prompt_sd, "variance": fit.prompt_sd**2,
                                "sd_ci_low": sd_low, "sd_ci_high": sd_high}])
    references = {name: str(data[name].cat.categories[0]) for name in ("source", "requirement", "model", CONDITION)
                  if name in terms}
    warnings = ([_separation_warning(separated)] if separated else []) + _extreme_warnings(params)
    message = fit.message + "".join(f"; WARNING: {w}" for w in warnings)
    if warnings:
        log.warning("study mixed model: %s", message)
    return MixedResult(
        params=params, variance_components=components, converged=fit.converged, n_obs=len(data),
        n_groups=len(prompts), method="Laplace approximation (lme4 glmer nAGQ=1 equivalent), Hessian standard errors",
        assumptions=ASSUMPTIONS_MIXED.format(model=", model" if "model" in terms else "",
                                             inter=" and condition x source" if f"{CONDITION}:source" in terms else ""),
        formula=f"violation ~ {rhs} + (1 | prompt_id)", loglik=fit.loglik, simulated=is_simulated(frame),
        message=message, references=references, separated=tuple(separated))


def _extreme_warnings(params: pd.DataFrame) -> list[str]:
    """Coefficients with |log-odds| > 10 or no finite SE: what a separated term left in looks like."""
    extreme = params.index[(params["estimate"].abs() > 10) | ~np.isfinite(params["std_error"])].tolist()
    return (["possible separation (|log-odds| > 10 or no finite SE) for " + ", ".join(extreme)] if extreme else [])


def _separation_warning(separated: list[str]) -> str:
    return ("separation: " + "; ".join(separated) + ". Such a coefficient is not identified (the likelihood keeps "
            "rising as it goes to plus or minus infinity), so its rows or its term are set aside, which is the exact "
            "limit for the other effects")


def _constant(data: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    stats = data.groupby(columns, observed=True)["violation"].agg(["mean", "size"])
    return stats[(stats["mean"] == 0) | (stats["mean"] == 1)]


def _describe(what: str, row: pd.Series) -> str:
    share = "every one" if row["mean"] == 1 else "none"
    return f"{what} violated on {share} of its {int(row['size']):,} judged checks ({row['mean']:.0%})"


def _set_aside_separated(data: pd.DataFrame, interaction: bool) -> tuple[pd.DataFrame, list[str], bool]:
    """The judged rows without the levels whose verdicts never vary, the notes, and whether the
    condition x source term can stay.

    A requirement, model or source level that violates on every check or on none has a coefficient
    at plus or minus infinity; its rows add nothing to the likelihood of the others in that limit,
    so they are set aside (as ``frames.set_aside_separated`` does for the main model). A condition
    x source cell that never varies sends the interaction (and with it the terms it is contrasted
    against) to infinity, so the interaction is dropped, the limit being a model without it. A
    condition that never varies has no finite effect: its rows are set aside while two conditions
    remain (else the caller says the model needs two)."""
    notes: list[str] = []
    while True:
        found = False
        for factor in ("requirement", "model", "source"):
            if data[factor].nunique() < 2:
                continue
            constant = _constant(data, [factor])
            if len(constant) == data[factor].nunique():
                raise ValueError(f"every {factor} in this study violates on all of its checks or on none, so no "
                                 "effect can be estimated (separation)")
            for level, row in constant.iterrows():
                notes.append(_describe(f"{factor} {level!r}", row))
            if len(constant):
                data, found = data[~data[factor].isin(constant.index)], True
        if interaction and data["source"].nunique() > 1:
            cells = _constant(data, [CONDITION, "source"])
            if len(cells):
                for (condition, source), row in cells.iterrows():
                    notes.append(_describe(f"condition {condition!r} on {source} prompts", row)
                                 + ": the condition x source term is left out")
                interaction, found = False, True
        constant = _constant(data, [CONDITION])
        if len(constant):
            if data[CONDITION].nunique() - len(constant) >= 2:
                for level, row in constant.iterrows():
                    notes.append(_describe(f"condition {level!r}", row))
                data, found = data[~data[CONDITION].isin(constant.index)], True
            else:
                raise ValueError("a condition of this study violates on all of its checks or on none, so its effect "
                                 "has no finite estimate (separation): " + "; ".join(
                                     _describe(f"condition {lv!r}", r) for lv, r in constant.iterrows()))
        if not found:
            return data, notes, interaction


def condition_odds_ratios(result: MixedResult) -> pd.DataFrame:
    """The condition rows of a study fit (main effects and condition x source), as odds ratios."""
    rows = result.params.loc[[t for t in result.params.index if t.startswith(f"{CONDITION}[")]]
    return rows[["odds_ratio", "or_ci_low", "or_ci_high", "p_value"]].reset_index()


def check_condition_model(frame: pd.DataFrame, result: MixedResult | None = None, *, n_boot: int = 1000,
                          seed: int = 0) -> pd.DataFrame:
    """The mixed model's condition main effects beside the pooled paired effects of the same pairs
    (reference condition versus each other): one row per non-reference condition with ``diff``,
    ``ci_low``, ``ci_high`` (paired, fractions), ``odds_ratio``, ``or_ci_low``, ``or_ci_high``
    (model), ``agree`` and ``note``. They disagree when they point in opposite directions with
    either interval excluding no effect, or when one interval excludes no effect and the other
    does not; the paired effect is then the one to read (it assumes nothing about how the
    condition acts). ``result`` defaults to ``fit_condition_model(frame, interaction=False)``
    (with an interaction the main effect is that on real prompts only, not the pooled one)."""
    result = result if result is not None else fit_condition_model(frame, interaction=False)
    reference = result.references.get(CONDITION)
    pooled = pooled_effects(frame, n_boot=n_boot, seed=seed)
    rows = []
    for term, est in result.params.iterrows():
        if not (term.startswith(f"{CONDITION}[T.") and term.endswith("]") and ":" not in term):
            continue
        other = term[len(f"{CONDITION}[T."):-1]
        match = pooled[(pooled["condition_a"] == reference) & (pooled["condition_b"] == other)]
        if match.empty:
            continue
        paired = match.iloc[0]
        paired_sign = 0 if paired["ci_low"] <= 0 <= paired["ci_high"] else int(np.sign(paired["diff"]))
        model_sign = 0 if est["or_ci_low"] <= 1 <= est["or_ci_high"] else int(np.sign(est["estimate"]))
        agree = paired_sign == model_sign
        if agree:
            note = "the model agrees with the paired effect"
        elif paired_sign and model_sign:
            note = "WARNING: the model and the paired effect point in opposite directions"
        elif model_sign:
            note = ("WARNING: the model finds an effect the paired bootstrap does not (its interval is too narrow if "
                    "the effect varies by prompt); read the paired effect")
        else:
            note = "NOTE: the paired bootstrap finds an effect the model does not; read the paired effect"
        rows.append({"condition_a": reference, "condition_b": other, "diff": paired["diff"],
                     "ci_low": paired["ci_low"], "ci_high": paired["ci_high"], "odds_ratio": est["odds_ratio"],
                     "or_ci_low": est["or_ci_low"], "or_ci_high": est["or_ci_high"], "agree": agree, "note": note})
    return pd.DataFrame(rows, columns=["condition_a", "condition_b", "diff", "ci_low", "ci_high", "odds_ratio",
                                       "or_ci_low", "or_ci_high", "agree", "note"])


def clear_cache() -> None:
    """Forget cached study fits."""
    _cache.clear()
