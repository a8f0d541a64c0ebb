"""How many human labels a judge-validation study needs, and how well its intervals cover:
simulated studies of one model on the benchmark's design (truth from the simulator's ``common``
preset, a judge with the illustrative per-requirement sensitivity and specificity of
``analysis.validity_study``), labels stratified by requirement x judge verdict.

Part 1, per number of labels: coverage of the overall corrected rate's 95% interval with its
Monte Carlo error, bias, mean half-widths of the corrected rate and of a per-requirement rate,
and the labels-alone comparison: a simple random sample of as many labels, drawn without the
judge, with its own (correct) variance; "worth" is how many such labels the judge-stratified
sample is worth, the ratio of the two empirical variances.

Part 2, per cell (each requirement, real and modified prompts) at the given label counts: the
coverage and bias of the stratified estimator (``analysis.stratified``) beside PPI++ per cell
(``analysis.ppi.ppi_mean``: tuned lambda, Wald interval), on the same simulated studies.

    PYTHONPATH=. .venv/bin/python benchmarks/validity_study.py [REPLICATES] [--model NAME]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from eudaimonia_nb import load_benchmark
from eudaimonia_nb.analysis.ppi import ppi_mean
from eudaimonia_nb.analysis.rates import Z95
from eudaimonia_nb.analysis.stratified import LevelStats, stratified_rate
from eudaimonia_nb.analysis.validity_study import _draw, _levels, cell_masks, run_studies, study_setup

LABELS = (100, 200, 300, 500, 800, 1200)
CELL_LABELS = (100, 175, 450, 600)


def labels_table(setup, replicates: int) -> None:
    print("labels  coverage (MC err)  bias (MC err)   half-width: corrected  labels alone (SRS)  "
          "per requirement   worth (MC err)")
    for n in LABELS:
        started = time.perf_counter()
        r = run_studies(setup, n, replicates, seed=n)
        cov = r["covered"].mean()
        err = r["rate"] - r["truth"]
        alone = r["labels_only_rate"] - r["truth"]
        worth = alone.var() / err.var()
        # Delta-method MC error of a variance ratio of two (nearly independent) sample variances.
        worth_se = worth * np.sqrt(2 / (len(r) - 1) * 2)
        print(f"{n:6d}  {cov:.3f} ({np.sqrt(cov * (1 - cov) / len(r)):.3f})    "
              f"{100 * err.mean():+.2f} ({100 * err.std(ddof=1) / np.sqrt(len(r)):.2f}) pts   "
              f"{100 * Z95 * r['se'].mean():.1f} pts          {100 * Z95 * r['labels_only_se'].mean():.1f} pts"
              f"            {_requirement_half_width(setup, n, replicates):.1f} pts        "
              f"{worth:.2f} ({worth_se:.2f})   [{time.perf_counter() - started:.1f} s]")
    print(f"raw judge rate half-width (prompt sampling only): {100 * Z95 * r['raw_se'].mean():.1f} pts")


def _requirement_half_width(setup, n: int, replicates: int) -> float:
    from eudaimonia_nb.analysis.validity_study import run_cells

    rows = run_cells(setup, n, max(replicates // 3, 50), seed=n + 1)
    rows = rows[~rows["cell"].isin(["all", "real", "modified"])]
    return float(100 * ((rows["ci_high"] - rows["ci_low"]) / 2).mean())


def cell_table(setup, n_labels: int, replicates: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    masks = cell_masks(setup)
    rows = []
    for r in range(replicates):
        y, f, human, weight, keys = _draw(setup, n_labels, rng)
        plain, split = _levels(setup, keys, False), _levels(setup, keys, True)
        stats = {False: LevelStats(plain, human, weight), True: LevelStats(split, human, weight)}
        for name, mask in masks.items():
            by_source = name in ("real", "modified")
            new = stratified_rate(f, human, weight, setup.prompt_index, split if by_source else plain, cell=mask,
                                  stats=stats[by_source])
            old = ppi_mean(f[mask], human[mask], weight[mask], setup.prompt_index[mask])
            truth = setup.cell_truth[name]
            rows.append({"cell": name, "labels": new.n_labels, "new_cov": new.ci_low <= truth <= new.ci_high,
                         "old_cov": old.ci_low <= truth <= old.ci_high, "new_err": new.rate - truth,
                         "old_err": old.rate - truth, "new_hw": (new.ci_high - new.ci_low) / 2,
                         "old_hw": (old.ci_high - old.ci_low) / 2})
    frame = pd.DataFrame(rows)
    table = frame.groupby("cell", sort=False).agg(
        labels=("labels", "mean"), new_cov=("new_cov", "mean"), old_cov=("old_cov", "mean"),
        new_bias=("new_err", "mean"), old_bias=("old_err", "mean"), bias_mc=("new_err", "std"),
        new_hw=("new_hw", "mean"), old_hw=("old_hw", "mean"))
    table["bias_mc"] /= np.sqrt(replicates)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("replicates", nargs="?", type=int, default=300)
    parser.add_argument("--model", default="GPT-4o")
    parser.add_argument("--cells-only", action="store_true")
    args = parser.parse_args()
    setup = study_setup(load_benchmark().checks, model=args.model)
    print(f"{args.model}: truth {setup.truth:.4f}, expected raw judge rate {setup.expected_raw:.4f} "
          f"(bias {setup.expected_raw - setup.truth:+.4f}); {args.replicates} replicates per row")
    if not args.cells_only:
        labels_table(setup, args.replicates)
    mc = np.sqrt(0.95 * 0.05 / args.replicates)
    for n in CELL_LABELS:
        started = time.perf_counter()
        table = cell_table(setup, n, args.replicates, seed=1000 + n)
        print(f"\n{n} labels, per cell (coverage MC error {mc:.3f}; bias and half-width in points) "
              f"[{time.perf_counter() - started:.1f} s]")
        shown = table.copy()
        for column in ("new_bias", "old_bias", "bias_mc", "new_hw", "old_hw"):
            shown[column] = 100 * shown[column]
        print(shown.round({"labels": 1, "new_cov": 3, "old_cov": 3, "new_bias": 2, "old_bias": 2, "bias_mc": 2,
                           "new_hw": 1, "old_hw": 1}).to_string())


if __name__ == "__main__":
    main()
