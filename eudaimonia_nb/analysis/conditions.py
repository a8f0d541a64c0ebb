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
  [x requirements]).
- ``pooled_effects``: the same with all models' checks pooled (one row per pair).
- ``fit_condition_model``: ``violation ~ source + requirement [+ model] + condition
  [+ condition:source] + (1 | prompt_id)`` by the Laplace approximation of ``laplace.py``
  (lme4 glmer), reported as odds ratios.
"""

from __future__ import annotations

import itertools
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
ASSUMPTIONS_PAIRED = (
    "Paired comparison on the checks judged under both conditions. Interval: 95% percentile "
    "interval of a bootstrap over prompts (resampled within source; the same resampled prompts "
    "for both conditions, so the pairing is kept, and for every model). p: two-sided Wald test "
    "of diff / bootstrap SE; p_holm: Holm's step-down adjustment across the rows of the table. "
    "Assumes prompts are exchangeable within source and the judge treats conditions alike."
)
ASSUMPTIONS_MIXED = (
    "Logistic mixed model: logit P(violation) = fixed effects (source, requirement{model}, "
    "condition{inter}) + a normal random intercept per prompt shared by all conditions, so a "
    "prompt's difficulty is the same under every condition and the condition effect is a "
    "within-prompt (conditional) log-odds ratio. Laplace approximation (lme4 glmer nAGQ=1), "
    "Hessian standard errors, Wald 95% intervals. The reference condition is the first by name."
)
_cache: FitCache[MixedResult] = FitCache(16)


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
    ``se`` (bootstrap), ``p_value``, ``p_holm`` (Holm across the rows). Rates are fractions.
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
        for i, unit in enumerate(t.units):
            rows.append({**dict(zip(keys, unit)), "condition_a": a, "condition_b": b, "n_checks": int(n[i]),
                         "n_prompts": int((t.checks[i] > 0).sum()), "rate_a": rate_a[i], "rate_b": rate_b[i],
                         "diff": diff[i], "ci_low": low[i], "ci_high": high[i], "se": se[i], "p_value": float(p[i])})
    columns = keys + ["condition_a", "condition_b", "n_checks", "n_prompts", "rate_a", "rate_b", "diff", "ci_low",
                      "ci_high", "se", "p_value"]
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
    [+ condition:source] + (1 | prompt_id)``; ``model`` restricts to one model's rows.

    The condition rows of ``params`` are ``condition[T.<name>]`` (versus the first condition
    by name) and, with ``interaction``, ``condition[T.<name>]:source[T.modified]`` (how much
    the effect differs on modified prompts). Factors with one level are left out."""
    _require_condition(frame)
    data = frame if model is None else frame.loc[frame["model"] == model]
    if data.empty:
        raise KeyError(f"no rows for model {model!r}")
    key = frame_key(data, "conditions", interaction,
                    pd.util.hash_pandas_object(data[CONDITION].astype(str), index=False).sum())
    return _cache.get_or_fit(key, lambda: _fit(data, interaction), use_cache=use_cache)


def _fit(frame: pd.DataFrame, interaction: bool) -> MixedResult:
    from patsy import dmatrix

    data = judged(frame)[["model", "prompt_id", "requirement", "source", "violation", CONDITION]].copy()
    data, dropped = _drop_separated(data)
    data[CONDITION] = pd.Categorical(data[CONDITION].astype(str), categories=sorted(set(data[CONDITION].astype(str))))
    if len(data[CONDITION].cat.categories) < 2:
        raise ValueError("the mixed model of a study needs judged checks under at least two conditions")
    data["source"] = pd.Categorical(data["source"], categories=[s for s in SOURCES if s in set(data["source"])])
    data["requirement"] = pd.Categorical(data["requirement"],
                                         categories=[k for k in REQUIREMENT_KEYS if k in set(data["requirement"])])
    data["model"] = pd.Categorical(data["model"], categories=sorted(set(data["model"])))
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
    return MixedResult(
        params=params, variance_components=components, converged=fit.converged, n_obs=len(data),
        n_groups=len(prompts), method="Laplace approximation (lme4 glmer nAGQ=1 equivalent), Hessian standard errors",
        assumptions=ASSUMPTIONS_MIXED.format(model=", model" if "model" in terms else "",
                                             inter=" and condition x source" if f"{CONDITION}:source" in terms else ""),
        formula=f"violation ~ {rhs} + (1 | prompt_id)", loglik=fit.loglik, simulated=is_simulated(frame),
        message=fit.message + "".join(f"; {note}" for note in dropped), references=references)


def _drop_separated(data: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Rows of a requirement or model level whose checks are all violations or all passes.

    Such a level's coefficient has no finite estimate (separation) and the Newton steps break
    down; in the limit its rows carry no information about the other coefficients, so the fit
    without them is the limit of the fit with them. Each drop is noted in the result's message."""
    notes = []
    for name in ("requirement", "model"):
        means = data.groupby(name, observed=True)["violation"].mean()
        separated = means[(means == 0) | (means == 1)]
        for level, mean in separated.items():
            notes.append(f"{name} {level} left out: all {int((data[name] == level).sum())} checks "
                         f"{'violate' if mean == 1 else 'pass'} (separation)")
        data = data.loc[~data[name].isin(separated.index)]
    return data, notes


def condition_odds_ratios(result: MixedResult) -> pd.DataFrame:
    """The condition rows of a study fit (main effects and condition x source), as odds ratios."""
    rows = result.params.loc[[t for t in result.params.index if t.startswith(f"{CONDITION}[")]]
    return rows[["odds_ratio", "or_ci_low", "or_ci_high", "p_value"]].reset_index()


def clear_cache() -> None:
    """Forget cached study fits."""
    _cache.clear()
