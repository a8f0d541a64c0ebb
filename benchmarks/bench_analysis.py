"""Time the analysis fits on the 22-model simulated benchmark (about 69,000 rows).

Prints the fit times of ``fit_mixed`` (Laplace), ``fit_gee``, a cached refit, the prompt
bootstrap, the dashboard demo's first build (``demo_judgments``, calibration included), and
the baseline measured in the same run: statsmodels'
``BinomialBayesMixedGLM.fit_vb`` (L-BFGS-B, rng=0, sparse random-effects design), with ratios.
The crossed model (``model_effect="random"``, lme4's nAGQ=0 criterion) is also timed against
R's ``glmer(nAGQ=0)`` on the same rows in the same run when ``Rscript`` with lme4 is on the PATH
(Debian: ``apt-get install r-base-core r-cran-lme4``); without R that column is skipped with a
message. Usage: ``python benchmarks/bench_analysis.py [--skip-vb] [--skip-r]`` (the VB baseline
takes about a minute); set ``EUDAIMONIA_DATASET`` to simulate on the real design instead of the
synthetic one. On a shared machine set ``OPENBLAS_NUM_THREADS=1``: oversubscribed BLAS threads
slow the dense products many times over.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import sparse


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def _vb(frame):
    from patsy import dmatrix
    from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

    from eudaimonia_nb.analysis.frames import model_data

    data, rhs = model_data(frame)
    X = dmatrix(rhs, data, return_type="dataframe")
    codes = data["prompt_id"].astype("category").cat.codes.to_numpy()
    Z = sparse.csr_matrix((np.ones(len(codes)), (np.arange(len(codes)), codes)))
    model = BinomialBayesMixedGLM(data["violation"].to_numpy(), X, Z, np.zeros(Z.shape[1], dtype=int))
    fit = model.fit_vb(fit_method="L-BFGS-B", rng=0)
    return dict(zip(X.columns, fit.fe_mean))["source[T.modified]"], dict(zip(X.columns, fit.fe_sd))["source[T.modified]"]


_GLMER = """
suppressMessages(library(lme4))
d <- read.csv(commandArgs(trailingOnly = TRUE)[1])
d$source <- factor(d$source, levels = c("real", "modified"))
d$requirement <- factor(d$requirement, levels = unique(d$requirement[order(d$req_order)]))
elapsed <- system.time(fit <- glmer(violation ~ source + requirement + (1 | prompt_id) + (1 | model),
                                    data = d, family = binomial, nAGQ = 0))[["elapsed"]]
cat(elapsed, fixef(fit)[["sourcemodified"]], sqrt(diag(as.matrix(vcov(fit))))[["sourcemodified"]],
    as.character(packageVersion("lme4")), "\n")
"""


def _glmer_nagq0(frame) -> tuple[float, float, float, str] | str:
    """R's glmer(nAGQ=0) fit time (inside R, data loading excluded), source estimate and SE, lme4
    version; or why it was skipped."""
    from eudaimonia_nb.benchmark.design_code import REQUIREMENT_KEYS

    rscript = shutil.which("Rscript")
    if rscript is None:
        return "skipped: Rscript not found (Debian: apt-get install r-base-core r-cran-lme4)"
    with tempfile.TemporaryDirectory() as tmp:
        csv, script = Path(tmp) / "rows.csv", Path(tmp) / "glmer.R"
        data = frame.loc[frame["violation"].notna(), ["model", "prompt_id", "requirement", "source", "violation"]]
        data.assign(req_order=data["requirement"].map(REQUIREMENT_KEYS.index)).to_csv(csv, index=False)
        script.write_text(_GLMER)
        done = subprocess.run([rscript, str(script), str(csv)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"skipped: Rscript failed ({done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode})"
    elapsed, estimate, se, version = done.stdout.split()[-4:]
    return float(elapsed), float(estimate), float(se), version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-vb", action="store_true", help="skip the statsmodels VB baseline")
    parser.add_argument("--skip-r", action="store_true", help="skip the R glmer(nAGQ=0) comparison")
    args = parser.parse_args()

    from eudaimonia_nb.analysis import gee, mixed, rates, simulate

    # First, from cold caches: this is what the dashboard's first render waits for.
    demo, t_demo = _timed(simulate.demo_judgments)
    _, t_demo_again = _timed(simulate.demo_judgments)
    print(f"demo_judgments first build        {t_demo:7.2f} s  ({len(demo):,} rows); cached {t_demo_again:.3f} s")
    frame, truth = simulate.simulate_with_truth("common", seed=0)
    print(f"data: {len(frame):,} rows, {frame['prompt_id'].nunique()} prompts, {frame['model'].nunique()} models "
          f"({truth.design_name} design); truth: source effect {truth.common_source_effect}, prompt SD {truth.prompt_sd}")
    m, t_mixed = _timed(lambda: mixed.fit_mixed(frame, use_cache=False))
    s = m.source_effect
    print(f"fit_mixed (Laplace, model fixed)   {t_mixed:7.2f} s  source {s['estimate']:.4f} SE {s['std_error']:.4f} "
          f"prompt SD {m.variance_components['sd'].iloc[0]:.3f} converged={m.converged}")
    r, t_random = _timed(lambda: mixed.fit_mixed(frame, model_effect="random", use_cache=False))
    s = r.source_effect
    print(f"fit_mixed (model random, nAGQ=0)  {t_random:7.2f} s  source {s['estimate']:.4f} SE {s['std_error']:.4f}")
    glmer = "skipped: --skip-r" if args.skip_r else _glmer_nagq0(frame)
    if isinstance(glmer, str):
        print(f"R glmer(nAGQ=0), crossed          {glmer}")
    else:
        print(f"R glmer(nAGQ=0), crossed          {glmer[0]:7.2f} s  source {glmer[1]:.4f} SE {glmer[2]:.4f} "
              f"(lme4 {glmer[3]}); fit_mixed(random) / glmer: {t_random / glmer[0]:.2f}")
    g, t_gee = _timed(lambda: gee.fit_gee(frame, use_cache=False))
    s = g.source_effect
    print(f"fit_gee (exchangeable, robust)    {t_gee:7.2f} s  source {s['estimate']:.4f} SE {s['std_error']:.4f}")
    mixed.fit_mixed(frame)
    _, t_cached = _timed(lambda: mixed.fit_mixed(frame))
    print(f"fit_mixed again (cache hit)       {t_cached:7.3f} s")
    _, t_boot = _timed(lambda: rates.real_vs_modified(frame, n_boot=1000, seed=0))
    print(f"real_vs_modified, 22 x 1000 boot  {t_boot:7.2f} s")
    if not args.skip_vb:
        (vb_mean, vb_sd), t_vb = _timed(lambda: _vb(frame))
        print(f"baseline statsmodels fit_vb (L-BFGS-B) {t_vb:7.2f} s  source {vb_mean:.4f} VB SD {vb_sd:.4f}")
        print(f"ratio fit_vb / fit_mixed: {t_vb / t_mixed:.1f}x faster; fit_vb / fit_gee: {t_vb / t_gee:.1f}x; "
              f"VB SD / Laplace SE: {vb_sd / m.source_effect['std_error']:.2f}")


if __name__ == "__main__":
    main()
