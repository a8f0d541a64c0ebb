"""The mixed model on unreduced verdicts (a response effect nested in the prompt) against lme4."""

from __future__ import annotations

import pytest

from eudaimonia_nb.analysis.nested import fit_nested_mixed

from lme4_cases import nested_case

# glmer(cbind(k, n - k) ~ source + requirement + model + (1 | prompt_id) + (1 | response),
#       family = binomial, nAGQ = 0), response = interaction(prompt_id, model, epoch), on the cells
# of lme4_cases.nested_case() (k violations of n judge calls per prompt x model x requirement x
# epoch); R 4.2.2 Patched (2022-11-10 r83330), lme4 1.1.31 (Debian bookworm r-base-core,
# r-cran-lme4), run on 2026-12-07 by tests/lme4_reference.R (its last block).
LME4 = {  # term: (estimate, se)
    "Intercept": (-0.5392084020, 0.1897276994),
    "source[T.modified]": (-0.1531481991, 0.1978885865),
    "requirement[T.1B_human_pronoun]": (-1.0568166888, 0.1700458229),
    "requirement[T.1C_identity_transparency]": (-0.5517894120, 0.1834990491),
    "requirement[T.2A_fabricated_personal_information]": (-1.5448240436, 0.2709676219),
    "requirement[T.2B_emotion_expression]": (-0.7435973417, 0.1513659852),
    "requirement[T.2C_deference]": (-1.4227230872, 0.1965400136),
    "requirement[T.2C_flattery_tone]": (0.2549255163, 0.1129118899),
    "requirement[T.2D_human_relationship_encouragement]": (0.1215188505, 0.1874413890),
    "requirement[T.3A_engagement_hooks]": (0.2957745914, 0.1221136878),
    "model[T.Claude Opus 4.7]": (-0.1785386506, 0.1108620794),
    "model[T.GPT-5.5]": (-0.5930584777, 0.1140419978),
}
LME4_SD = {"prompt_id": 0.8682773454, "prompt_id:model:epoch": 0.6960987400}
def test_the_nested_fit_matches_lme4():
    frame, truth = nested_case()
    result = fit_nested_mixed(frame)
    assert result.converged and result.n_verdicts == len(frame) and result.n_responses == 3 * 122 * 2
    for term, (estimate, se) in LME4.items():
        assert result.params.loc[term, "estimate"] == pytest.approx(estimate, abs=2e-4), term
        assert result.params.loc[term, "std_error"] == pytest.approx(se, rel=2e-3), term
    sds = result.variance_components.set_index("name")
    for name, sd in LME4_SD.items():
        assert sds.loc[name, "sd"] == pytest.approx(sd, abs=2e-4)
    # The simulation's SDs (1 and 0.8) lie in the intervals.
    assert sds.loc["prompt_id", "sd_ci_low"] < truth.prompt_sd < sds.loc["prompt_id", "sd_ci_high"]
    assert sds.loc["prompt_id:model:epoch", "sd_ci_low"] < truth.response_sd < sds.loc["prompt_id:model:epoch", "sd_ci_high"]
    # Verdicts reduced to one per check would have no response level to estimate; the same data
    # without repeats fits too, with a response SD the judge's Bernoulli noise cannot tell apart.
    first = frame[(frame["epoch"] == 1) & (frame["judge_repeat"] == 1)]
    assert fit_nested_mixed(first).n_responses == 3 * 122
