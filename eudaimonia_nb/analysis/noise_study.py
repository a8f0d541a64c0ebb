"""The simulation behind the noise decomposition's claims: does it recover known noise?

Each replicate draws a fresh table from the simulator (``simulate_with_truth`` with epochs,
judge repeats and a response SD: new prompt effects, responses and judge calls) on a fixed
design, decomposes it (``noise.decompose``) and records whether each 95% interval holds the
known value (``simulate.noise_truth``): ``sd_prompt`` and ``sd_response`` (log-odds), the judge
and response flip rates and the three variance shares. Coverage is reported with its Monte
Carlo standard error sqrt(c (1 - c) / replicates). ``tests/test_analysis_noise.py`` runs it over
200 replicates; ``benchmarks/bench_noise.py`` prints it for a larger design too.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .noise import WITH_INTERVALS, decompose
from .simulate import noise_truth, simulate_with_truth


@dataclass(frozen=True)
class CoverageResult:
    """Coverage of the decomposition's intervals over simulated replicates."""

    coverage: dict[str, float]
    """Quantity -> share of replicates whose 95% interval held the truth."""
    mc_se: dict[str, float]
    """Quantity -> Monte Carlo standard error of that share."""
    truth: dict[str, float]
    """The known values."""
    mean_estimate: dict[str, float]
    """Quantity -> mean estimate over replicates (bias = mean - truth)."""
    replicates: int
    """Replicates drawn."""
    n_prompts: int
    """Prompts in the design."""
    n_checks: int
    """Checks in the design."""
    seconds: float
    """Wall time of the whole study."""


def coverage_study(design: pd.DataFrame, *, replicates: int = 200, epochs: int = 3, judge_repeats: int = 2,
                   prompt_sd: float = 1.0, response_sd: float = 1.0, seed: int = 0, n_boot: int = 500
                   ) -> CoverageResult:
    """Coverage of every interval of ``WITH_INTERVALS`` for one model (the ``common`` preset's best
    model) on ``design``, over ``replicates`` tables seeded ``seed``, ``seed + 1``, ..."""
    started = time.perf_counter()
    _, truth = simulate_with_truth("common", seed=seed, design=design, models=1, epochs=epochs,
                                   judge_repeats=judge_repeats, prompt_sd=prompt_sd, response_sd=response_sd)
    model = truth.models[0]
    known = noise_truth(truth, design, model)
    hits = {name: 0 for name in WITH_INTERVALS}
    totals = {name: 0.0 for name in WITH_INTERVALS}
    for r in range(replicates):
        frame, _ = simulate_with_truth("common", seed=seed + 1 + r, design=design, models=1, epochs=epochs,
                                       judge_repeats=judge_repeats, prompt_sd=prompt_sd, response_sd=response_sd)
        row = decompose(frame, n_boot=n_boot, seed=r).iloc[0]
        for name in WITH_INTERVALS:
            hits[name] += bool(row[f"{name}_ci_low"] <= known[name] <= row[f"{name}_ci_high"])
            totals[name] += float(row[name])
    coverage = {name: hits[name] / replicates for name in WITH_INTERVALS}
    return CoverageResult(
        coverage=coverage, mc_se={name: math.sqrt(c * (1 - c) / replicates) for name, c in coverage.items()},
        truth={name: float(known[name]) for name in WITH_INTERVALS},
        mean_estimate={name: totals[name] / replicates for name in WITH_INTERVALS}, replicates=replicates,
        n_prompts=int(design["prompt_id"].nunique()), n_checks=len(design), seconds=time.perf_counter() - started)


def sample_design(checks: pd.DataFrame, n_prompts: int, seed: int = 0) -> pd.DataFrame:
    """The checks of ``n_prompts`` prompts drawn at random (without replacement) from ``checks``."""
    rng = np.random.default_rng(seed)
    keep = rng.choice(pd.unique(checks["prompt_id"]), n_prompts, replace=False)
    return checks[checks["prompt_id"].isin(keep)].reset_index(drop=True)


def format_result(result: CoverageResult) -> str:
    """A table of coverage, its Monte Carlo SE, the truth and the mean estimate, one line each."""
    lines = [f"{result.replicates} replicates, {result.n_prompts} prompts ({result.n_checks} checks), "
             f"{result.seconds:.0f} s", f"{'quantity':<20} {'coverage':>8} {'MC SE':>6} {'truth':>8} {'mean est.':>9}"]
    for name, value in result.coverage.items():
        lines.append(f"{name:<20} {value:>8.3f} {result.mc_se[name]:>6.3f} {result.truth[name]:>8.4f} "
                     f"{result.mean_estimate[name]:>9.4f}")
    return "\n".join(lines)
