"""How many human labels a judge-validation study needs: simulated studies of one model on the
benchmark's design (truth from the simulator's ``common`` preset, a judge with the illustrative
per-requirement sensitivity and specificity of ``analysis.validity_study``), labels stratified by
requirement x judge verdict. Prints, per number of labels: coverage of the PPI++ 95% interval
with its Monte Carlo error, bias, and the mean half-widths of the corrected rate, of the rate
from the labels alone (lambda = 0) and of a per-requirement corrected rate.

    PYTHONPATH=. .venv/bin/python benchmarks/validity_study.py [REPLICATES]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from eudaimonia_nb import load_benchmark
from eudaimonia_nb.analysis.rates import Z95
from eudaimonia_nb.analysis.validity_study import run_studies, study_setup

LABELS = (100, 200, 300, 500, 800, 1200)


def main(replicates: int = 300) -> None:
    setup = study_setup(load_benchmark().checks)
    print(f"truth {setup.truth:.4f}, expected raw judge rate {setup.expected_raw:.4f} "
          f"(bias {setup.expected_raw - setup.truth:+.4f}); {replicates} replicates per row")
    print("labels  coverage (MC err)  bias (MC err)     half-width: PPI++  labels only  per requirement  lambda")
    for n in LABELS:
        started = time.perf_counter()
        r = run_studies(setup, n, replicates, seed=n)
        cov = r["covered"].mean()
        err = r["rate"] - r["truth"]
        print(f"{n:6d}  {cov:.3f} ({np.sqrt(cov * (1 - cov) / len(r)):.3f})    "
              f"{err.mean():+.4f} ({err.std(ddof=1) / np.sqrt(len(r)):.4f})   "
              f"{Z95 * r['se'].mean():.4f}        {Z95 * r['labels_only_se'].mean():.4f}       "
              f"{Z95 * r['requirement_se'].mean():.4f}           {r['lam'].mean():.2f}"
              f"   [{time.perf_counter() - started:.1f} s]")
    print(f"raw judge rate half-width (prompt sampling only): {Z95 * r['raw_se'].mean():.4f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
