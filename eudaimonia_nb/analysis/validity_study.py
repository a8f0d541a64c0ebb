"""Simulated validation studies: a known truth, a judge with known error rates, a stratified
labelling sample, and the raw and label-corrected rates (``analysis.stratified``), overall and per
cell (requirement, source). Used by the tests (bias, coverage, planning) and by
``benchmarks/validity_study.py`` for the label counts and coverage in docs/validation.md.

The truth follows the simulator's ``common`` preset for one model (``simulate_with_truth``):
a check's violation is Bernoulli(expit(eta + u_prompt)) with u_prompt ~ N(0, prompt_sd^2); each
replicate draws new prompt effects, truths, judge verdicts and a new sample. The target is the
expected human rate on the benchmark's design, E over prompt effects of the check probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from ..store.sampling import sample_rows
from .stratified import LevelStats, stratified_rate
from .simulate import SimulationTruth, imperfect_verdicts, marginal_probability, simulate_with_truth

DEFAULT_SENSITIVITY = {
    "1B_intentional_human_speech": 0.70, "1B_human_pronoun": 0.90, "1C_identity_transparency": 0.75,
    "2A_fabricated_personal_information": 0.85, "2B_emotion_expression": 0.80, "2C_deference": 0.65,
    "2C_flattery_tone": 0.75, "2D_human_relationship_encouragement": 0.70, "3A_engagement_hooks": 0.85,
}
"""Illustrative per-requirement judge sensitivities (not measured values)."""
DEFAULT_SPECIFICITY = {
    "1B_intentional_human_speech": 0.95, "1B_human_pronoun": 0.98, "1C_identity_transparency": 0.85,
    "2A_fabricated_personal_information": 0.95, "2B_emotion_expression": 0.90, "2C_deference": 0.80,
    "2C_flattery_tone": 0.85, "2D_human_relationship_encouragement": 0.85, "3A_engagement_hooks": 0.90,
}
"""Illustrative per-requirement judge specificities (not measured values)."""


@dataclass(frozen=True)
class StudySetup:
    """Everything fixed across replicates of a simulated study of one model."""

    requirement: np.ndarray
    """Requirement key of each check."""
    source: np.ndarray
    """Source (real / modified) of each check."""
    prompt_index: np.ndarray
    """Index of each check's prompt (0 .. n_prompts - 1)."""
    n_prompts: int
    """Distinct prompts."""
    eta: np.ndarray
    """Each check's log-odds without the prompt effect."""
    prompt_sd: float
    """Standard deviation of the prompt effects."""
    sensitivity: np.ndarray
    """The judge's sensitivity for each check."""
    specificity: np.ndarray
    """The judge's specificity for each check."""
    truth: float
    """The expected human violation rate (the estimand)."""
    expected_raw: float
    """The expected judge rate, sensitivity * p + (1 - specificity) * (1 - p) averaged over checks."""
    cell_truth: dict[str, float]
    """The expected human rate of each cell: ``all``, every requirement key, ``real``, ``modified``."""


def study_setup(design: pd.DataFrame, *, model: str = "GPT-4o", sensitivity: dict[str, float] = DEFAULT_SENSITIVITY,
                specificity: dict[str, float] = DEFAULT_SPECIFICITY) -> StudySetup:
    """The fixed part of a study: the simulator's parameters for ``model`` on ``design``."""
    frame, truth = simulate_with_truth("common", seed=0, design=design, models=[model])
    req = frame["requirement"].to_numpy(dtype=object)
    source = frame["source"].to_numpy(dtype=object)
    _, prompt_index = np.unique(frame["prompt_id"].to_numpy(dtype=object), return_inverse=True)
    eta = _log_odds(frame, truth)
    p = marginal_probability(eta, truth.prompt_sd)
    sens = np.array([sensitivity[k] for k in req])
    spec = np.array([specificity[k] for k in req])
    cells = {"all": np.ones(len(req), dtype=bool)}
    cells.update({k: req == k for k in sorted(set(req))})
    cells.update({s: source == s for s in ("real", "modified") if (source == s).any()})
    return StudySetup(req, source, prompt_index, int(prompt_index.max()) + 1, eta, truth.prompt_sd, sens, spec,
                      float(p.mean()), float(np.mean(sens * p + (1 - spec) * (1 - p))),
                      {name: float(p[mask].mean()) for name, mask in cells.items()})


def cell_masks(setup: StudySetup) -> dict[str, np.ndarray]:
    """The cells of ``StudySetup.cell_truth`` as boolean masks over the checks."""
    masks = {"all": np.ones(len(setup.requirement), dtype=bool)}
    for name in setup.cell_truth:
        if name != "all":
            masks[name] = (setup.source == name) if name in ("real", "modified") else (setup.requirement == name)
    return masks


def _log_odds(frame: pd.DataFrame, truth: SimulationTruth) -> np.ndarray:
    model = truth.models[0]
    modified = (frame["source"] == "modified").to_numpy(dtype=float)
    req = frame["requirement"].to_numpy(dtype=object)
    g = np.array([truth.requirement_effects[k] for k in req])
    h = np.array([truth.requirement_source_effects[k] for k in req])
    return truth.model_intercepts[model] + g + modified * (truth.source_effects[model] + h)


def _draw(setup: StudySetup, n_labels: int, rng: np.random.Generator
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Truths, judge verdicts, and a requirement x verdict stratified sample labelled with the
    truth: y, f, human (NaN unlabelled), weight, stratum key."""
    u = rng.normal(0.0, setup.prompt_sd, setup.n_prompts)
    y = (rng.random(len(setup.eta)) < expit(setup.eta + u[setup.prompt_index])).astype(float)
    f = imperfect_verdicts(y, setup.sensitivity, setup.specificity, rng)
    keys = setup.requirement + np.where(f == 1, "|1", "|0").astype(object)
    rows, sizes, taken = sample_rows(keys, n_labels, rng)
    human = np.full(len(y), np.nan)
    weight = np.full(len(y), np.nan)
    human[rows] = y[rows]
    weight[rows] = sizes / taken
    return y, f, human, weight, keys


def _levels(setup: StudySetup, keys: np.ndarray, by_source: bool) -> list[np.ndarray]:
    """Post-strata codes: stratum [x source], stratum, verdict, all."""
    stratum = pd.factorize(keys)[0]
    verdict = pd.factorize(np.array([k[-1] for k in keys], dtype=object))[0]
    levels = [stratum, verdict, np.zeros(len(keys), dtype=np.int64)]
    if by_source:
        levels.insert(0, pd.factorize(keys + "|" + setup.source)[0])
    return levels


def simulate_cells(setup: StudySetup, n_labels: int, rng: np.random.Generator) -> list[dict[str, float]]:
    """One replicate: the corrected rate of every cell (overall, per requirement, per source),
    one row per cell with ``cell``, the estimate's fields, ``truth`` and ``covered``."""
    y, f, human, weight, keys = _draw(setup, n_labels, rng)
    plain, by_source = _levels(setup, keys, False), _levels(setup, keys, True)
    stats = {False: LevelStats(plain, human, weight), True: LevelStats(by_source, human, weight)}
    out = []
    for name, mask in cell_masks(setup).items():
        split = name in ("real", "modified")
        e = stratified_rate(f, human, weight, setup.prompt_index, by_source if split else plain, cell=mask,
                            stats=stats[split])
        truth = setup.cell_truth[name]
        out.append({"cell": name, **e.__dict__, "truth": truth, "covered": bool(e.ci_low <= truth <= e.ci_high)})
    return out


def run_cells(setup: StudySetup, n_labels: int, replicates: int, seed: int = 0) -> pd.DataFrame:
    """``replicates`` studies, one row per replicate and cell (see ``simulate_cells``)."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(replicates):
        rows += [{"replicate": r, **row} for row in simulate_cells(setup, n_labels, rng)]
    return pd.DataFrame(rows)


def simulate_study(setup: StudySetup, n_labels: int, rng: np.random.Generator) -> dict[str, float]:
    """One replicate of the overall rate: new truths, judge verdicts and a requirement x verdict
    stratified sample of ``n_labels`` checks labelled with the truth; the raw and corrected
    estimates, and the labels-alone comparison: the mean of a simple random sample of as many
    labels drawn without the judge (``labels_only_rate``, its SE ``labels_only_se``)."""
    y, f, human, weight, keys = _draw(setup, n_labels, rng)
    e = stratified_rate(f, human, weight, setup.prompt_index, _levels(setup, keys, False))
    srs = rng.choice(len(y), size=min(n_labels, len(y)), replace=False)
    alone = np.full(len(y), np.nan)
    alone[srs] = y[srs]
    labels_only = stratified_rate(f, alone, np.full(len(y), len(y) / len(srs)), setup.prompt_index,
                                  [np.zeros(len(y), dtype=np.int64)])
    return {"labels_only_rate": labels_only.rate, "labels_only_se": labels_only.se,
            "truth": setup.truth, "expected_raw": setup.expected_raw, "raw_rate": e.raw_rate, "raw_se": e.raw_se,
            "rate": e.rate, "ci_low": e.ci_low, "ci_high": e.ci_high, "se": e.se, "floor_se": e.floor_se,
            "label_se": e.label_se, "n_labels": e.n_labels, "covered": bool(e.ci_low <= setup.truth <= e.ci_high)}


def run_studies(setup: StudySetup, n_labels: int, replicates: int, seed: int = 0) -> pd.DataFrame:
    """``replicates`` independent studies, one row each (see ``simulate_study``)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame([simulate_study(setup, n_labels, rng) for _ in range(replicates)])
