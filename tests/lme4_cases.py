"""Small judgments tables with fixed seeds, and lme4's numbers on them (computed once; R is
not needed to run the tests).

Provenance of every stored number: R 4.2.2 Patched (2022-11-10 r83330), lme4 1.1.31 (Debian
bookworm packages r-base-core, r-cran-lme4), run on 2026-11-28 by
``Rscript tests/lme4_reference.R`` on the CSVs ``write_cases(dir)`` writes. Factor levels are
set as the package sets them (source: real first; requirement: design-code order; model: by
name), so coefficient names match patsy's.
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
