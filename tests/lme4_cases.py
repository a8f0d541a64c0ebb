"""Small judgments tables with fixed seeds, and lme4's numbers on them (computed once; R is
not needed to run the tests).

Provenance of every stored number: R 4.2.2 Patched (2022-11-10 r83330), lme4 1.1.31 (Debian
bookworm packages r-base-core, r-cran-lme4), run on 2026-11-28 by
``Rscript tests/lme4_reference.R`` on the CSVs ``write_cases(dir)`` writes. Factor levels are
set as the package sets them (source: real first; requirement: design-code order; model: by
name), so coefficient names match patsy's.

``many_models_case`` (110 models on the real benchmark design, 346,170 rows) has its own
generator here rather than ``analysis.simulate``'s, so that its stored lme4 numbers do not move
when the simulator changes; its R call is ``tests/lme4_many_models.R`` (provenance in
``tests/test_analysis_many_models.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

REQS = ("1B_intentional_human_speech", "2C_deference", "2C_flattery_tone", "3A_engagement_hooks")
COLUMNS = ["model", "prompt_id", "requirement", "source", "violation", "error"]


def _draw(seed: int, n_prompts: int, models: dict[str, float], prompt_sd: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    u = rng.normal(0.0, prompt_sd, n_prompts)
    rows = []
    for i in range(n_prompts):
        source = "modified" if i % 3 else "real"
        reqs = rng.choice(REQS, size=rng.integers(1, 4), replace=False)
        for model, a in models.items():
            for r in reqs:
                eta = a + 0.3 * REQS.index(r) - 0.5 * (source == "modified") + u[i]
                rows.append((model, f"p{i:03d}", str(r), source, float(rng.random() < expit(eta)), ""))
    return pd.DataFrame(rows, columns=COLUMNS)


def separated_case() -> pd.DataFrame:
    """120 prompts x 4 models; model ``always`` violates on every check and ``never`` on none
    (seed 13), the two others draw from a logistic model with prompt SD 1."""
    frame = _draw(13, 120, {"always": 0.0, "mid": 0.0, "low": -1.0, "never": 0.0}, 1.0)
    frame.loc[frame["model"] == "always", "violation"] = 1.0
    frame.loc[frame["model"] == "never", "violation"] = 0.0
    return frame


def small_case() -> pd.DataFrame:
    """80 prompts x 2 models (seed 7, prompt SD 1.2): a design where the Wald approximations
    for the prompt SD are visibly off."""
    return _draw(7, 80, {"A": -0.2, "B": 0.4}, 1.2)


MANY_MODELS = 110
MANY_SOURCE_EFFECT = -0.35
MANY_PROMPT_SD = 1.0
MANY_MODEL_SD = 0.6
MANY_REQUIREMENT_EFFECTS = dict(zip(
    ("1B_intentional_human_speech", "1B_human_pronoun", "1C_identity_transparency",
     "2A_fabricated_personal_information", "2B_emotion_expression", "2C_deference", "2C_flattery_tone",
     "2D_human_relationship_encouragement", "3A_engagement_hooks"),
    (0.0, -0.6, -0.3, -1.0, 0.4, 0.2, 0.7, -0.2, 0.5)))


def many_models_truth(seed: int = 21) -> dict[str, object]:
    """The known truth of ``many_models_case``: model intercepts (real prompt, first
    requirement, prompt effect 0) drawn N(-0.3, 0.6^2), by model name."""
    rng = np.random.default_rng([seed, 1])
    names = [f"m{i:03d}" for i in range(MANY_MODELS)]
    return {"model_intercepts": dict(zip(names, -0.3 + MANY_MODEL_SD * rng.standard_normal(MANY_MODELS))),
            "source_effect": MANY_SOURCE_EFFECT, "prompt_sd": MANY_PROMPT_SD,
            "requirement_effects": MANY_REQUIREMENT_EFFECTS}


def many_models_case(checks: pd.DataFrame, seed: int = 21) -> pd.DataFrame:
    """110 models x the benchmark's 3,147 checks: logit P = a[model] + g[requirement] - 0.35 x
    modified + u[prompt], u ~ N(0, 1), the truth in ``many_models_truth``. ``checks`` is
    ``Benchmark.checks``; rows are sorted by prompt and requirement first, so the draws do not
    depend on the file's row order."""
    truth = many_models_truth(seed)
    design = checks[["prompt_id", "requirement", "source"]].sort_values(["prompt_id", "requirement"], kind="stable")
    design = design.reset_index(drop=True)
    prompts = np.array(sorted(set(design["prompt_id"])))
    rng = np.random.default_rng([seed, 2])
    u = dict(zip(prompts, MANY_PROMPT_SD * rng.standard_normal(len(prompts))))
    fixed = (design["requirement"].map(MANY_REQUIREMENT_EFFECTS).to_numpy()
             + MANY_SOURCE_EFFECT * (design["source"] == "modified").to_numpy() + design["prompt_id"].map(u).to_numpy())
    models = list(truth["model_intercepts"])
    a = np.array([truth["model_intercepts"][m] for m in models])
    eta = a[:, None] + fixed[None, :]
    violation = (rng.random(eta.shape) < expit(eta)).astype(float).ravel()
    n = len(design)
    return pd.DataFrame({"model": np.repeat(models, n), "prompt_id": np.tile(design["prompt_id"].to_numpy(), len(models)),
                         "requirement": np.tile(design["requirement"].to_numpy(), len(models)),
                         "source": np.tile(design["source"].to_numpy(), len(models)), "violation": violation, "error": ""})


def lme4_names(names: list[str]) -> list[str]:
    """patsy's column names in lme4's spelling (``model[T.m001]`` -> ``modelm001``)."""
    return [n.replace("Intercept", "(Intercept)").replace("[T.", "").replace("]", "") for n in names]


def write_point(theta: float, coefficients: dict[str, float], path: Path) -> None:
    """A point of lme4's fixed-model Laplace criterion as the POINT.csv that
    ``tests/lme4_many_models.R at=POINT.csv`` reads: theta (the prompt SD, lme4's parameter for a
    binomial random intercept) first, then the coefficients in lme4's spelling and order; values
    written with 17 significant digits, so R reads back the very doubles."""
    rows = [("theta", theta)] + list(coefficients.items())
    pd.DataFrame(rows, columns=["term", "value"]).to_csv(path, index=False, float_format="%.17g")


def write_fit_point(result, path: Path) -> None:
    """A fixed-model ``MixedResult`` as a POINT.csv (``write_point``)."""
    names = lme4_names(list(result.params.index))
    write_point(float(result.variance_components["sd"].iloc[0]), dict(zip(names, result.params["estimate"])), path)
def nested_case() -> tuple[pd.DataFrame, object]:
    """Unreduced verdicts for the nested model: 3 models x 122 prompts of the synthetic design x 2
    epochs x 2 judge calls (simulator seed 11, prompt SD 1, response SD 0.8), and the truth."""
    from eudaimonia_nb.analysis.simulate import simulate_with_truth, synthetic_design

    design = synthetic_design(0)
    design = design[design["prompt_id"].isin(pd.unique(design["prompt_id"])[::8])]
    return simulate_with_truth("common", seed=11, design=design, models=3, epochs=2, judge_repeats=2, response_sd=0.8)


def nested_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """k violations of n judge calls per prompt x model x requirement x epoch (lme4's binomial form)."""
    return frame.groupby(["prompt_id", "model", "requirement", "epoch"]).agg(
        k=("violation", "sum"), n=("violation", "size"), source=("source", "first")).reset_index()


def write_cases(directory: Path) -> None:
    """The CSVs ``tests/lme4_reference.R`` reads."""
    separated_case().to_csv(directory / "separated.csv", index=False)
    small_case().to_csv(directory / "small.csv", index=False)
    nested_cells(nested_case()[0]).to_csv(directory / "nested.csv", index=False)
