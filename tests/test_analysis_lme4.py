"""The mixed model against lme4 on two small tables with known seeds (``tests/lme4_cases.py``):
a selection where one model always violates and one never does (separation), and an
80-prompt design where the full-Hessian SE and the profile interval of the prompt SD matter.
The lme4 numbers were computed once by ``tests/lme4_reference.R`` (provenance in
``lme4_cases``) and are stored here."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from eudaimonia_nb.analysis import gee, mixed
from eudaimonia_nb.analysis.laplace import bernoulli_weight

from lme4_cases import separated_case, small_case

# glmer(violation ~ source + requirement + model + (1 | prompt_id), family = binomial,
#       control = glmerControl(optimizer = "bobyqa")) on separated_case(): the separated
# models' coefficients run off (modelnever -41.2, SE 117), the rest is finite.
LME4_SEPARATED = {
    "source[T.modified]": (-0.4845874638, 0.2635234026),
    "requirement[T.2C_deference]": (-0.2196113657, 0.3176986244),
    "requirement[T.2C_flattery_tone]": (0.1822886500, 0.2892036340),
    "requirement[T.3A_engagement_hooks]": (0.6665355713, 0.2821021950),
}
LME4_SEPARATED_PROMPT_SD = 0.7198408674

# The same call on small_case(); SEs from vcov(fit, use.hessian = FALSE) and TRUE; the SD
# interval from confint(fit, parm = "theta_", method = "profile").
LME4_SMALL = {  # term: (estimate, se use.hessian=FALSE, se use.hessian=TRUE)
    "Intercept": (-0.53554605898, 0.3226842914, 0.3318877319),
    "source[T.modified]": (-0.05683598072, 0.2895988685, 0.2964752655),
    "requirement[T.2C_deference]": (0.21443740853, 0.3298823377, 0.3413988819),
    "requirement[T.2C_flattery_tone]": (0.11465380168, 0.3143010492, 0.3248062901),
    "requirement[T.3A_engagement_hooks]": (0.68770170053, 0.3301309121, 0.3421779992),
    "model[T.B]": (0.65290560722, 0.2223240604, 0.2325307874),
}
LME4_SMALL_PROMPT_SD = (0.7223356367, 0.3051596063, 1.14292753)  # estimate, profile 2.5%, 97.5%
LME4_SMALL_LOGLIK = -234.673116829


def test_the_irls_weight_is_symmetric_and_never_rounds_to_zero():
    eta = np.array([-40.0, -5.0, 0.0, 5.0, 40.0])
    w = bernoulli_weight(eta)
    assert np.all(w > 0) and w[0] == w[-1] and w[1] == w[3]
    # mu * (1 - mu) is exactly 0 at eta = 40: the cause of the singular Hessian.
    mu = 1 / (1 + np.exp(-40.0))
    assert mu * (1 - mu) == 0.0 and w[-1] == pytest.approx(np.exp(-40.0), rel=1e-12)


def test_a_model_at_100_percent_and_one_at_0_percent_still_give_the_source_effect(caplog):
    frame = separated_case()
    with caplog.at_level(logging.WARNING, logger="eudaimonia_nb.analysis.mixed"):
        result = mixed.fit_mixed(frame, use_cache=False)
    assert result.converged
    # The WARNING names both levels and what they did.
    assert "WARNING: separation" in result.message
    assert "model 'always' violated on every one of its 242 judged checks (100%)" in result.message
    assert "model 'never' violated on none of its 242 judged checks (0%)" in result.message
    assert len(result.separated) == 2 and "separation" in caplog.text
    assert "model[T.always]" not in result.params.index and "model[T.never]" not in result.params.index
    for term, (estimate, se) in LME4_SEPARATED.items():
        assert result.params.loc[term, "estimate"] == pytest.approx(estimate, abs=0.003), term
        # 120 prompts: the full-Hessian SE is lme4's default vcov.
        assert result.params_hessian.loc[term, "std_error"] == pytest.approx(se, rel=0.01), term
    assert result.variance_components["sd"].iloc[0] == pytest.approx(LME4_SEPARATED_PROMPT_SD, abs=0.003)
    # GEE sets the same levels aside and fits the rest.
    g = gee.fit_gee(frame, use_cache=False)
    assert not g.failure and np.isfinite(g.source_effect["estimate"]) and "'always'" in g.message


def test_small_design_standard_errors_and_profile_interval_match_lme4():
    result = mixed.fit_mixed(small_case(), use_cache=False)
    assert result.n_groups == 80 and result.params_hessian is not None
    assert result.loglik == pytest.approx(LME4_SMALL_LOGLIK, abs=1e-3)
    for term, (estimate, se_mode, se_full) in LME4_SMALL.items():
        assert result.params.loc[term, "estimate"] == pytest.approx(estimate, abs=2e-3), term
        assert result.params.loc[term, "std_error"] == pytest.approx(se_mode, rel=3e-3), term
        assert result.params_hessian.loc[term, "std_error"] == pytest.approx(se_full, rel=3e-3), term
    # The two SE types differ by 2-5% here, more than the tolerance: the test tells them apart.
    ratio = result.params_hessian["std_error"] / result.params["std_error"]
    assert (ratio > 1.02).all()
    sd = result.variance_components.set_index("name").loc["prompt_id"]
    assert sd["sd_ci_method"] == "profile likelihood"
    assert sd["sd"] == pytest.approx(LME4_SMALL_PROMPT_SD[0], abs=3e-3)
    assert sd["sd_ci_low"] == pytest.approx(LME4_SMALL_PROMPT_SD[1], abs=5e-3)
    assert sd["sd_ci_high"] == pytest.approx(LME4_SMALL_PROMPT_SD[2], abs=5e-3)
    # The log-scale Wald interval (what large designs still get) is visibly off here.
    wald = mixed.fit_mixed(small_case(), small_sample=False, use_cache=False)
    low = wald.variance_components["sd_ci_low"].iloc[0]
    assert wald.params_hessian is None and abs(low - LME4_SMALL_PROMPT_SD[1]) > 0.05
