"""Conditional logistic mixed model of violations: ``fit_mixed``.

Default specification: ``violation ~ source + requirement + model`` with a random intercept
per prompt (``real`` is the reference of ``source``, so the modified-versus-real effect is the
row ``source[T.modified]``). Estimation is the Laplace approximation, as lme4's ``glmer``
(see ``laplace.py``); standard errors come from the curvature at the mode. statsmodels'
variational Bayes is deliberately not used for inference: its mean-field SDs understate
fixed-effect uncertainty about fourfold on this design. The model terms enter as indicator
blocks (``blocked_design``), so a fit's time and memory grow with the rows, not with rows x
models: 110 models x 969 prompts (346,170 rows) fit in a few seconds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from .cache import FitCache
from .frames import (check_analysis_frame, frame_key, is_simulated, judged, model_data, reference_levels,
                     set_aside_separated, unjudged_models)
from .laplace import (Indicators, LaplaceFit, fit_crossed, fit_prompt_intercept, full_hessian_cov,
                      profile_prompt_sd_interval)
from .rates import Z95, log_scale_interval, two_sided_p

log = logging.getLogger(__name__)

SOURCE_TERM = "source[T.modified]"
"""The row holding the modified-versus-real effect in every result's ``params``."""
_cache: FitCache["MixedResult"] = FitCache(32, disk="mixed")
SMALL_DESIGN = 500
"""Below this many prompts ``fit_mixed`` adds the full-Hessian SEs and the profile interval
for the prompt SD by default: there the Wald approximations are visibly off."""

ASSUMPTIONS_FIXED = (
    "Logistic mixed model: logit P(violation) = fixed effects (source, requirement, model{inter}) "
    "+ a normal random intercept per prompt, so checks on one prompt share a difficulty and "
    "everything else is conditionally independent. Estimated by the Laplace approximation to "
    "the marginal likelihood (as lme4 glmer, nAGQ=1): penalised IRLS for the conditional modes, "
    "then the Laplace likelihood maximised over the fixed effects and log prompt SD with an "
    "exact gradient. Standard errors: the fixed-effect block of the inverse joint Hessian "
    "[X'WX - X'WZ (Z'WZ + I/sd^2)^-1 Z'WX]^-1 at the mode; Wald 95% intervals. The source "
    "effect is conditional (for prompts of equal difficulty); a population-averaged effect "
    "(GEE) is smaller in size by design. Source is a prompt-level variable: its information "
    "comes from the prompts, not the rows."
)
ASSUMPTIONS_RANDOM = (
    "Logistic mixed model with crossed normal random intercepts for prompt and model; fixed "
    "effects for source and requirement. Both SDs maximise the Laplace likelihood evaluated at "
    "the joint mode of fixed and random effects (lme4's nAGQ=0 criterion; the fixed-model "
    "variant uses the full nAGQ=1 optimisation). Standard errors from the fixed-effect block "
    "of the inverse joint Hessian. With few models the model SD is poorly determined; the "
    "source effect is conditional on prompt and model."
)


@dataclass(frozen=True)
class MixedResult:
    """A fitted logistic mixed model."""

    params: pd.DataFrame
    """Fixed effects indexed by patsy term: ``estimate`` (log-odds), ``std_error``,
    ``ci_low``, ``ci_high`` (Wald 95%, log-odds), ``odds_ratio``, ``or_ci_low``,
    ``or_ci_high``, ``z``, ``p_value``."""
    variance_components: pd.DataFrame
    """One row per random effect: ``name``, ``sd``, ``variance``, ``sd_ci_low``,
    ``sd_ci_high`` (NaN where not computed)."""
    converged: bool
    """Whether the optimisation converged (gradient small, inner iterations settled)."""
    n_obs: int
    """Judged rows used (errors excluded)."""
    n_groups: int
    """Prompts (random-intercept groups)."""
    method: str
    """Estimation method, in words."""
    assumptions: str
    """What the model assumes and how uncertainty is computed."""
    formula: str
    """The fitted formula, lme4 style."""
    loglik: float
    """Laplace-approximate log-likelihood."""
    simulated: bool
    """True when fitted to simulated judgments (never a real finding)."""
    message: str
    """Optimiser diagnostics, including warnings (boundary fit, possible separation)."""
    references: dict[str, str]
    """Reference level of each factor in the formula (``source``: ``real``, ``requirement``:
    the first in design-code order, ``model``: the first by name): every coefficient is a
    contrast against these."""
    separated: tuple[str, ...] = ()
    """Levels set aside because they violate on every judged check or on none (separation),
    each described in words; empty when there are none. Also a WARNING in ``message``."""
    params_hessian: pd.DataFrame | None = None
    """``params`` with standard errors from the full Hessian in (fixed effects, log prompt SD),
    which carries the SD's uncertainty into the fixed effects (lme4's default
    ``vcov(use.hessian=TRUE)``); computed on small designs (``SMALL_DESIGN``), else None.
    ``params`` uses the fixed-effect block at the mode (lme4's ``use.hessian=FALSE``)."""
    left_out: tuple[str, ...] = ()
    """One line per model with no judged check (all rows judge errors), absent from the fit;
    also a NOTE in ``message``."""

    @property
    def source_effect(self) -> pd.Series:
        """The ``source[T.modified]`` row."""
        return self.params.loc[SOURCE_TERM]

    def reading(self) -> str:
        """A plain-language sentence about the modified-versus-real effect."""
        return read_source_effect(self.source_effect, "for prompts of the same difficulty, requirement and model",
                                  self.simulated, formula=self.formula, references=self.references,
                                  converged=self.converged)


def read_source_effect(row: pd.Series, condition: str, simulated: bool, *, formula: str = "",
                       references: dict[str, str] | None = None, converged: bool = True) -> str:
    """One sentence on an odds ratio and its interval (shared by the mixed model and GEE).

    With a ``source:model`` term the main effect is the reference model's alone, and the
    sentence says so; an unconverged fit gets a caution."""
    terms = [t.strip() for t in formula.split("~")[-1].replace("+", ",").split(",")]
    by = [t.split(":", 1)[1] for t in terms if t.startswith("source:") and t != "source:model"]
    if "source:model" in terms:
        model = (references or {}).get("model", "the reference model")
        condition = f"for {model} (the reference model; other models add their source:model terms), {condition}"
    elif by:
        level = (references or {}).get(by[0], "the reference level")
        condition = f"for the {level} {by[0]} (other levels add their source:{by[0]} terms), {condition}"
    ratio, low, high = row["odds_ratio"], row["or_ci_low"], row["or_ci_high"]
    if low > 1:
        verdict = "modified prompts draw more violations than real ones"
    elif high < 1:
        verdict = "modified prompts draw fewer violations than real ones"
    else:
        verdict = "the data are compatible with no difference between modified and real prompts"
    prefix = "[SIMULATED DATA] " if simulated else ""
    caution = "" if converged else " Caution: the fit did not converge cleanly."
    return (f"{prefix}The odds of a violation on a modified prompt are {ratio:.2f} times those on a real "
            f"prompt {condition} (95% CI {low:.2f} to {high:.2f}, p = {row['p_value']:.2g}): {verdict}.{caution}")


def coefficient_table(names: list[str], estimate: np.ndarray, std_error: np.ndarray) -> pd.DataFrame:
    """The shared ``params`` layout: log-odds, Wald intervals, odds ratios, z and p."""
    estimate, std_error = np.asarray(estimate, float), np.asarray(std_error, float)
    z = estimate / std_error
    table = pd.DataFrame({
        "estimate": estimate, "std_error": std_error,
        "ci_low": estimate - Z95 * std_error, "ci_high": estimate + Z95 * std_error,
    }, index=pd.Index(names, name="term"))
    with np.errstate(over="ignore"):  # a separated term's odds ratio is inf, and the message says why
        table["odds_ratio"] = np.exp(table["estimate"])
        table["or_ci_low"] = np.exp(table["ci_low"])
        table["or_ci_high"] = np.exp(table["ci_high"])
    table["z"] = z
    table["p_value"] = two_sided_p(z)
    return table


def fit_mixed(
    frame: pd.DataFrame,
    *,
    interaction: bool = False,
    model_effect: Literal["fixed", "random"] = "fixed",
    small_sample: bool | None = None,
    source_by: str | None = None,
    use_cache: bool = True,
) -> MixedResult:
    """Fit ``violation ~ source + requirement + model + (1 | prompt)`` (Laplace).

    ``interaction=True`` adds ``source:model`` (a source effect per model; ``source[T.modified]``
    is then the reference model's). ``model_effect="random"`` replaces the model fixed effects
    by a random intercept per model (crossed with prompts). Rows without a verdict are dropped.
    Fits are cached by content of the frame and the specification.

    ``small_sample`` (default: when there are fewer than ``SMALL_DESIGN`` prompts, fixed model
    effect only) adds ``params_hessian`` (standard errors from the full Hessian in the fixed
    effects and the log prompt SD, lme4's default ``vcov``) and replaces the prompt SD's Wald
    interval by the profile-likelihood one (``variance_components.sd_ci_method`` says which).

    ``source_by`` names a column that is constant within each model (e.g. ``model_group``):
    adds ``source[T.modified]:<column>[T.<level>]`` terms, the difference in the source effect
    (log-odds) between each level and the reference level (the first category if the column is
    categorical, else the first by name); ``source[T.modified]`` is then the reference level's.
    """
    if model_effect not in ("fixed", "random"):
        raise ValueError(f"model_effect must be 'fixed' or 'random', not {model_effect!r}")
    if interaction and model_effect == "random":
        raise ValueError("interaction=True needs model_effect='fixed' (per-model source effects are fixed effects)")
    check_analysis_frame(frame)
    if source_by is not None and source_by not in frame.columns:
        raise KeyError(f"source_by={source_by!r}: no such column")
    by_key = (source_by, int(pd.util.hash_pandas_object(frame[source_by].astype(str), index=False).sum())) \
        if source_by else None
    key = frame_key(frame, "mixed", interaction, model_effect, small_sample, by_key)
    return _cache.get_or_fit(key, lambda: _fit(frame, interaction, model_effect, small_sample, source_by),
                             use_cache=use_cache)


def _source_by_block(kept: pd.DataFrame, data: pd.DataFrame, column: str) -> tuple[Indicators, list[str], str]:
    """modified x (level == g) for every non-reference level g of ``column`` as one indicator
    block, its column names and the reference level."""
    values = kept[column]
    levels = ([c for c in values.cat.categories if c in set(values)] if isinstance(values.dtype, pd.CategoricalDtype)
              else sorted(set(values.astype(str))))
    if len(levels) < 2:
        raise ValueError(f"source_by={column!r} needs at least two levels in the selection (has {levels})")
    position = pd.Categorical(values.astype(str), categories=[str(g) for g in levels]).codes
    modified = (data["source"] == "modified").to_numpy()
    block = Indicators(np.where(modified & (position > 0), position - 1, -1), len(levels) - 1)
    return block, [f"{SOURCE_TERM}:{column}[T.{g}]" for g in levels[1:]], str(levels[0])


def blocked_design(data: pd.DataFrame, rhs: str) -> tuple[np.ndarray, list[str], list[Indicators], list[str]]:
    """The design of ``rhs`` as dense columns (intercept, source, requirement: patsy) and the
    model and source x model contrasts as indicator blocks, with patsy's column names and order.

    A dense patsy design with 110 models was 346,000 x 119 floats (330 MB) and every X'WX on it
    cost n P^2; the blocks keep one code per row (``laplace.Indicators``)."""
    from patsy import dmatrix

    terms = rhs.split(" + ")
    dense = dmatrix(" + ".join(t for t in terms if t not in ("model", "source:model")), data)
    names = list(dense.design_info.column_names)
    models = data["model"].cat.categories
    codes = data["model"].cat.codes.to_numpy().astype(np.int64)
    blocks, block_names = [], []
    if "model" in terms:
        blocks.append(Indicators(codes - 1, len(models) - 1))
        block_names += [f"model[T.{m}]" for m in models[1:]]
    if "source:model" in terms:
        modified = (data["source"] == "modified").to_numpy()
        blocks.append(Indicators(np.where(modified, codes - 1, -1), len(models) - 1))
        block_names += [f"{SOURCE_TERM}:model[T.{m}]" for m in models[1:]]
    return np.asarray(dense, dtype=float), names, blocks, block_names


def _fit(frame: pd.DataFrame, interaction: bool, model_effect: str, small_sample: bool | None = None,
         source_by: str | None = None) -> MixedResult:
    kept, separated = set_aside_separated(judged(frame))
    data, rhs = model_data(kept, interaction=interaction, model_term=model_effect == "fixed")
    X, names, blocks, block_names = blocked_design(data, rhs)
    names += block_names
    by_reference = ""
    if source_by:
        by_block, by_names, by_reference = _source_by_block(kept.reset_index(drop=True), data, source_by)
        blocks.append(by_block)
        names += by_names
        rhs += f" + source:{source_by}"
    group, prompts = pd.factorize(data["prompt_id"])
    n_groups = len(prompts)
    y = data["violation"].to_numpy(dtype=float)
    components = []
    if model_effect == "fixed":
        fit: LaplaceFit = fit_prompt_intercept(y, X, group, n_groups, blocks)
        method = "Laplace approximation (lme4 glmer nAGQ=1 equivalent), Hessian standard errors"
        assumptions = ASSUMPTIONS_FIXED.format(inter=" and source x model" if "source:model" in rhs else "")
        formula = f"violation ~ {rhs} + (1 | prompt_id)"
    else:
        models = data["model"].cat.categories
        if len(models) < 2:
            raise ValueError("a random model effect needs at least two models")
        model_block = Indicators(data["model"].cat.codes.to_numpy().astype(np.int64), len(models))
        fit = fit_crossed(y, X, model_block, group, n_groups, blocks)
        method = "Laplace approximation at the joint mode (lme4 glmer nAGQ=0 equivalent), Hessian standard errors"
        assumptions = ASSUMPTIONS_RANDOM
        formula = f"violation ~ {rhs} + (1 | prompt_id) + (1 | model)"
    p = len(names)
    se = np.sqrt(np.diag(fit.cov)[:p])
    params = coefficient_table(names, fit.coef[:p], se)
    small = (n_groups < SMALL_DESIGN) if small_sample is None else small_sample
    params_hessian = None
    sd_low, sd_high = log_scale_interval(fit.prompt_sd, fit.log_prompt_sd_se)
    sd_method = "Wald on the log scale"
    if small and model_effect == "fixed":
        full = full_hessian_cov(y, X, group, n_groups, fit, indicators=blocks)
        params_hessian = coefficient_table(names, fit.coef[:p], np.sqrt(np.diag(full)))
        sd_low, sd_high = profile_prompt_sd_interval(y, X, group, n_groups, fit, indicators=blocks)
        sd_method = "profile likelihood"
    components.append({"name": "prompt_id", "sd": fit.prompt_sd, "variance": fit.prompt_sd**2,
                       "sd_ci_low": sd_low, "sd_ci_high": sd_high, "sd_ci_method": sd_method})
    if fit.model_sd is not None:
        components.append({"name": "model", "sd": fit.model_sd, "variance": fit.model_sd**2,
                           "sd_ci_low": np.nan, "sd_ci_high": np.nan, "sd_ci_method": "not computed"})
    warnings = _separation_warnings(separated) + _fit_warnings(fit, params)
    left_out = unjudged_models(frame)
    message = fit.message + "".join(f"; WARNING: {w}" for w in warnings) + "".join(f"; NOTE: {n}" for n in left_out)
    if not fit.converged or "WARNING" in message:
        log.warning("mixed model (converged=%s): %s", fit.converged, message)
    references = reference_levels(data, rhs)
    if source_by:
        references[source_by] = by_reference
    return MixedResult(
        params=params, variance_components=pd.DataFrame(components), converged=fit.converged,
        n_obs=len(y), n_groups=n_groups, method=method, assumptions=assumptions, formula=formula,
        loglik=fit.loglik, simulated=is_simulated(frame), message=message, references=references,
        separated=tuple(separated), left_out=tuple(left_out), params_hessian=params_hessian)


def _separation_warnings(separated: list[str]) -> list[str]:
    if not separated:
        return []
    return [("separation: " + "; ".join(separated) + ". Such a level's coefficient is not identified (the "
             "likelihood keeps rising as it goes to plus or minus infinity), so it has no row in the table; its "
             "checks are set aside, which is the exact limit for every other effect, and the source effect is "
             "estimated from the remaining levels")]


def _fit_warnings(fit: LaplaceFit, params: pd.DataFrame) -> list[str]:
    """Conditions under which the numbers need care even when the optimiser succeeded."""
    out = []
    if fit.prompt_sd < 1e-2:
        out.append(f"prompt SD {fit.prompt_sd:.2g} is at or near 0 (boundary/singular fit, as lme4 reports)")
    if fit.model_sd is not None and fit.model_sd < 1e-2:
        out.append(f"model SD {fit.model_sd:.2g} is at or near 0 (boundary/singular fit)")
    extreme = params.index[(params["estimate"].abs() > 10) | ~np.isfinite(params["std_error"])].tolist()
    if extreme:
        out.append("possible separation (|log-odds| > 10 or no finite SE) for " + ", ".join(extreme)
                   + ": a level with no or only violations in this selection")
    return out


def clear_cache() -> None:
    """Forget cached fits."""
    _cache.clear()
