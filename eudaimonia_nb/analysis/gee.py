"""Population-averaged cross-check: GEE logistic regression clustered by prompt.

Binomial family, exchangeable working correlation within prompt, robust (sandwich) standard
errors, the same fixed-effect terms as ``fit_mixed``. Its source effect is a marginal
log-odds ratio, averaged over prompts; the mixed model's is conditional on the prompt, and
is larger in size by about sqrt(1 + 0.346 sd^2). Different sizes are therefore expected;
``compare`` reports disagreement only in sign or significance.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .cache import FitCache
from .frames import (check_analysis_frame, frame_key, is_simulated, judged, model_data, reference_levels,
                     set_aside_separated, unjudged_models)
from .mixed import SOURCE_TERM, MixedResult, coefficient_table, read_source_effect

log = logging.getLogger(__name__)

_cache: FitCache["GEEResult"] = FitCache(32, disk="gee")

ASSUMPTIONS = (
    "GEE: logit of the population-averaged violation probability is linear in source, "
    "requirement and model{inter}; checks on the same prompt are correlated (exchangeable "
    "working correlation), prompts are independent. Robust sandwich standard errors are valid "
    "even if the working correlation is wrong, given enough prompts (hundreds here); Wald 95% "
    "intervals. The source effect is marginal (averaged over prompt difficulty)."
)


@dataclass(frozen=True)
class GEEResult:
    """A fitted GEE logistic regression."""

    params: pd.DataFrame
    """Same layout as ``MixedResult.params`` (robust standard errors)."""
    working_correlation: float
    """Estimated exchangeable within-prompt correlation."""
    converged: bool
    """Whether the GEE iterations converged."""
    n_obs: int
    """Judged rows used."""
    n_groups: int
    """Prompts (clusters)."""
    method: str
    """Estimation method, in words."""
    assumptions: str
    """What the model assumes."""
    formula: str
    """The fitted formula."""
    simulated: bool
    """True when fitted to simulated judgments."""
    references: dict[str, str]
    """Reference level of each factor (as ``MixedResult.references``)."""
    message: str
    """Model warnings raised during the fit (iteration limit, singular updates, overflow), or
    a note that there were none."""
    failure: str = ""
    """Why the fit failed ("" when it did not): no estimate, or non-finite coefficients. A
    failed GEE is no evidence either way; ``reading`` and ``compare`` say it failed."""

    @property
    def source_effect(self) -> pd.Series:
        """The ``source[T.modified]`` row."""
        return self.params.loc[SOURCE_TERM]

    def reading(self) -> str:
        """A plain-language sentence about the population-averaged source effect."""
        if self.failure:
            prefix = "[SIMULATED DATA] " if self.simulated else ""
            return f"{prefix}GEE failed: {self.failure}. It says nothing about the source effect for this selection."
        return read_source_effect(self.source_effect, "on average over prompts, for the same requirement "
                                  "and model", self.simulated, formula=self.formula, references=self.references,
                                  converged=self.converged)


def fit_gee(frame: pd.DataFrame, *, interaction: bool = False, maxiter: int = 100,
            use_cache: bool = True) -> GEEResult:
    """GEE of ``violation ~ source + requirement + model`` clustered by prompt (cached).

    ``maxiter`` caps the GEE iterations; a fit that stops at the cap is returned with
    ``converged=False`` and a logged warning, never silently. A fit statsmodels cannot complete,
    or whose coefficients are not finite, is returned with ``failure`` saying why (and NaN
    params), so callers report a failure instead of reading NaN as an estimate.
    """
    check_analysis_frame(frame)
    key = frame_key(frame, "gee", interaction, maxiter)
    return _cache.get_or_fit(key, lambda: _fit(frame, interaction, maxiter), use_cache=use_cache)


def _fit(frame: pd.DataFrame, interaction: bool, maxiter: int) -> GEEResult:
    import statsmodels.api as sm
    from patsy import dmatrix
    from statsmodels.tools.sm_exceptions import ModelWarning

    kept, separated = set_aside_separated(judged(frame))
    data, rhs = model_data(kept, interaction=interaction)
    design = dmatrix(rhs, data)
    # GEE wants rows of a cluster together; sorting keeps the fit independent of input order.
    order = np.argsort(data["prompt_id"].to_numpy(), kind="stable")
    groups = pd.factorize(data["prompt_id"].to_numpy()[order])[0]
    model = sm.GEE(data["violation"].to_numpy(float)[order], np.asarray(design)[order], groups=groups,
                   family=sm.families.Binomial(), cov_struct=sm.cov_struct.Exchangeable())
    # statsmodels reports an iteration cap with IterationLimitWarning (not a
    # ConvergenceWarning) and a singular fit by returning None; catch both, and keep every
    # warning's text for the record instead of letting it vanish.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = model.fit(maxiter=maxiter)
    relevant = [w for w in caught if issubclass(w.category, (ModelWarning, RuntimeWarning))]
    for w in caught:
        if w not in relevant:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    notes = sorted({f"{w.category.__name__}: {w.message}" for w in relevant})
    names = list(design.design_info.column_names)
    failure = _failure(fit, notes, names.index(SOURCE_TERM))
    if fit is None:
        estimate = std_error = np.full(len(names), np.nan)
    else:
        estimate, std_error = np.asarray(fit.params, float), np.asarray(fit.bse, float)
    converged = bool(not failure and getattr(fit, "converged", True))
    if not np.all(np.isfinite(std_error)) and not failure:
        notes.append("non-finite robust standard errors")
    if failure or not converged or notes:
        log.warning("GEE %s: %s", "failed" if failure else "did not converge" if not converged else "warnings",
                    failure or "; ".join(notes))
    params = coefficient_table(names, estimate, std_error)
    correlation = float(np.squeeze(model.cov_struct.dep_params)) if fit is not None else float("nan")
    if separated:
        notes.append("separation, set aside as in the mixed model: " + "; ".join(separated))
    notes += unjudged_models(frame)
    return GEEResult(
        params=params, working_correlation=correlation, converged=converged,
        n_obs=len(order), n_groups=int(groups.max()) + 1,
        method="GEE, binomial/logit, exchangeable within prompt, robust (sandwich) standard errors",
        assumptions=ASSUMPTIONS.format(inter=" and source x model" if "source:model" in rhs else ""),
        formula=f"violation ~ {rhs}, clusters = prompt_id", simulated=is_simulated(frame),
        references=reference_levels(data, rhs),
        message="; ".join(notes) or f"converged within {maxiter} iterations, no warnings", failure=failure)


def _failure(fit: object, notes: list[str], source_column: int) -> str:
    """Why the GEE gave no usable source effect ("" when it did): statsmodels signals a
    singular update by returning None, and a diverged fit by NaN coefficients."""
    detail = "; ".join(notes)
    if fit is None:
        return "statsmodels could not complete the fit" + (f" ({detail})" if detail else "")
    params = np.asarray(fit.params, float)  # type: ignore[attr-defined]
    bse = np.asarray(fit.bse, float)  # type: ignore[attr-defined]
    if not (np.all(np.isfinite(params)) and np.isfinite(bse[source_column])):
        return "the estimates are not finite (the iterations diverged" + (f": {detail}" if detail else "") + ")"
    return ""


def compare(mixed_result: MixedResult, gee_result: GEEResult) -> str:
    """Whether the conditional (mixed) and marginal (GEE) source effects agree in sign and in
    significance at 5%. Their sizes differ by design and are not compared."""
    if gee_result.failure:
        return (f"GEE failed: {gee_result.failure}. There is no cross-check for this selection; the mixed "
                "model stands alone (this is not a disagreement).")
    m, g = mixed_result.source_effect, gee_result.source_effect
    if not (np.isfinite(m["estimate"]) and np.isfinite(m["std_error"])):
        return ("The mixed model gave no finite source effect for this selection, so there is nothing to "
                "cross-check (see its message).")
    sig_m = m["ci_low"] > 0 or m["ci_high"] < 0
    sig_g = g["ci_low"] > 0 or g["ci_high"] < 0
    same_sign = np.sign(m["estimate"]) == np.sign(g["estimate"])
    detail = (f"mixed (conditional) log-OR {m['estimate']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]; "
              f"GEE (marginal) log-OR {g['estimate']:.3f} [{g['ci_low']:.3f}, {g['ci_high']:.3f}]")
    unconverged = [name for name, fit in (("mixed model", mixed_result), ("GEE", gee_result)) if not fit.converged]
    caveat = (f" Caution: the {' and the '.join(unconverged)} did not converge, so this comparison is not "
              "reliable." if unconverged else "")
    if same_sign and sig_m == sig_g:
        state = "significant" if sig_m else "not significant"
        return (f"The two models agree: same sign, both {state} at 5% ({detail}). The marginal effect is "
                f"expected to be smaller in size; that is not disagreement.{caveat}")
    problems = []
    if not same_sign:
        problems.append("opposite signs")
    if sig_m != sig_g:
        problems.append(f"only the {'mixed model' if sig_m else 'GEE'} finds a significant effect")
    return (f"The two models DISAGREE ({'; '.join(problems)}): {detail}. Treat the source effect as "
            f"uncertain.{caveat}")
