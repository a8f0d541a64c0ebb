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

Leaderboard scaling (``--sizes 22x1,110x1,22x10``: models x copies of the prompt set, data from
``simulate.simulate_many_models``): each fit runs in a fresh process, which reports its fit time,
its peak RSS (``VmHWM``, data included) and its RSS before the fit, and the machine's load. The
same-run baseline is the package as it was when issue 21 was filed (``--baseline-commit``,
default ``f2b7db4``: the dense patsy design), on the same rows in the same way; R's
``glmer(nAGQ=0)`` fits of both variants are timed beside them when R with lme4 is present
(``fit_mixed``'s fixed-model fit is the full Laplace criterion, nAGQ=1, which glmer needs far
longer for: see docs/analysis.md). ``--scaling-only`` skips the 22-model section above,
``--skip-baseline`` the old package.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
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


REPO = Path(__file__).resolve().parent.parent
BASELINE_COMMIT = "f2b7db4"
"""The commit issue 21 started from: the mixed model with patsy's dense design."""

_GLMER = """
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
d$source <- factor(d$source, levels = c("real", "modified"))
d$requirement <- factor(d$requirement, levels = unique(d$requirement[order(d$req_order)]))
d$model <- factor(d$model, levels = sort(unique(d$model)))
f <- if (length(args) > 1 && args[2] == "fixed") violation ~ source + requirement + model + (1 | prompt_id) else
  violation ~ source + requirement + (1 | prompt_id) + (1 | model)
elapsed <- system.time(fit <- glmer(f, data = d, family = binomial, nAGQ = 0))[["elapsed"]]
cat(elapsed, fixef(fit)[["sourcemodified"]], sqrt(diag(as.matrix(vcov(fit))))[["sourcemodified"]],
    as.character(packageVersion("lme4")), "\n")
"""


def _glmer_nagq0(frame, variant: str = "crossed") -> tuple[float, float, float, str] | str:
    """R's glmer(nAGQ=0) fit time (inside R, data loading excluded), source estimate and SE, lme4
    version; or why it was skipped. ``variant``: ``crossed`` (model random) or ``fixed``."""
    from eudaimonia_nb.benchmark.design_code import REQUIREMENT_KEYS

    rscript = shutil.which("Rscript")
    if rscript is None:
        return "skipped: Rscript not found (Debian: apt-get install r-base-core r-cran-lme4)"
    with tempfile.TemporaryDirectory() as tmp:
        csv, script = Path(tmp) / "rows.csv", Path(tmp) / "glmer.R"
        data = frame.loc[frame["violation"].notna(), ["model", "prompt_id", "requirement", "source", "violation"]]
        data.assign(req_order=data["requirement"].map(REQUIREMENT_KEYS.index)).to_csv(csv, index=False)
        script.write_text(_GLMER)
        done = subprocess.run([rscript, str(script), str(csv), variant], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"skipped: Rscript failed ({done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode})"
    elapsed, estimate, se, version = done.stdout.split()[-4:]
    return float(elapsed), float(estimate), float(se), version


def _memory_mb() -> dict[str, float]:
    """Current and peak resident set size of this process, MB (Linux /proc)."""
    fields = {}
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                fields[line.split(":")[0]] = int(line.split()[1]) / 1024
    return {"rss_mb": fields["VmRSS"], "peak_rss_mb": fields["VmHWM"]}


def _measure_child(spec: str, rows: str) -> None:
    """One fit in this fresh process, printed as a JSON line (the parent's ``_measure``)."""
    import pandas as pd

    from eudaimonia_nb.analysis import mixed

    frame = pd.read_pickle(rows)
    before = _memory_mb()["rss_mb"]
    load = os.getloadavg()[0]
    result, seconds = _timed(lambda: mixed.fit_mixed(frame, model_effect=spec, use_cache=False))
    print(json.dumps({"seconds": seconds, "rss_before_mb": before, "peak_rss_mb": _memory_mb()["peak_rss_mb"],
                      "load_before": load, "load_after": os.getloadavg()[0],
                      "estimate": float(result.source_effect["estimate"]),
                      "std_error": float(result.source_effect["std_error"]), "converged": bool(result.converged),
                      "package": str(Path(mixed.__file__).resolve().parent.parent)}))


def _measure(spec: str, rows: Path, pythonpath: Path | None = None) -> dict:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--measure", spec, str(rows)], capture_output=True, text=True,
                          env=env, check=False, cwd=pythonpath or REPO)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or [str(done.returncode)])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _old_package(commit: str, folder: Path) -> Path | None:
    """The package at ``commit`` unpacked in ``folder`` (None when the history lacks it)."""
    if subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", f"{commit}^{{commit}}"],
                      capture_output=True, check=False).returncode:
        return None
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "eudaimonia_nb"], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def _copies(design, copies: int):
    """The design's prompt set repeated ``copies`` times under new prompt ids (rows grow, models fixed)."""
    import pandas as pd

    if copies == 1:
        return design
    return pd.concat([design.assign(prompt_id=design["prompt_id"].astype(str) + f"#{c}") for c in range(copies)],
                     ignore_index=True)


def _row(label: str, m: dict, baseline: dict | None = None) -> str:
    if "error" in m:
        return f"  {label:34s} failed: {m['error']}"
    ratio = (f"  baseline/new {baseline['seconds'] / m['seconds']:5.1f}x time, "
             f"{baseline['peak_rss_mb'] / m['peak_rss_mb']:4.1f}x peak" if baseline and "error" not in baseline else "")
    return (f"  {label:34s} {m['seconds']:7.2f} s  peak RSS {m['peak_rss_mb']:6.0f} MB (before fit "
            f"{m['rss_before_mb']:4.0f})  source {m['estimate']:.4f} SE {m['std_error']:.4f}  "
            f"converged={m['converged']}  load {m['load_before']:.1f}->{m['load_after']:.1f}{ratio}")


def scaling(sizes: list[tuple[int, int]], baseline_commit: str | None, skip_r: bool) -> None:
    """Fit time and peak memory of both variants by leaderboard size, beside the old package and lme4."""
    from eudaimonia_nb.analysis import simulate

    design, design_name = simulate.default_design()
    with tempfile.TemporaryDirectory() as tmp:
        old = _old_package(baseline_commit, Path(tmp)) if baseline_commit else None
        if baseline_commit and old is None:
            print(f"baseline unavailable: commit {baseline_commit} is not in this checkout's history")
        for models, copies in sizes:
            frame, _ = simulate.simulate_many_models(models, seed=0, design=_copies(design, copies))
            rows = Path(tmp) / f"rows-{models}x{copies}.pkl"
            frame.to_pickle(rows)
            print(f"{models} models x {frame['prompt_id'].nunique():,} prompts ({design_name} design x {copies}): "
                  f"{len(frame):,} rows")
            for spec in ("fixed", "random"):
                new = _measure(spec, rows)
                base = _measure(spec, rows, old) if old is not None else None
                print(_row(f"fit_mixed(model {spec})", new, base))
                if base is not None:
                    print(_row(f"  baseline {baseline_commit}", base))
                    if base.get("package") == str(REPO):
                        print("  WARNING: the baseline process imported this checkout's package, not the old one")
                if not skip_r:
                    glmer = _glmer_nagq0(frame, "fixed" if spec == "fixed" else "crossed")
                    print(f"  {'  R glmer(nAGQ=0), model ' + spec:34s} " + (
                        glmer if isinstance(glmer, str) else
                        f"{glmer[0]:7.2f} s  source {glmer[1]:.4f} SE {glmer[2]:.4f} (lme4 {glmer[3]}); "
                        f"glmer / fit_mixed {glmer[0] / new.get('seconds', float('nan')):.1f}x"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-vb", action="store_true", help="skip the statsmodels VB baseline")
    parser.add_argument("--skip-r", action="store_true", help="skip the R glmer(nAGQ=0) comparisons")
    parser.add_argument("--sizes", default="22x1,110x1,22x10",
                        help="leaderboard sizes for the scaling section: MODELSxCOPIES of the prompt set, comma-separated "
                             "('' to skip)")
    parser.add_argument("--baseline-commit", default=BASELINE_COMMIT, help="the old package for the scaling baseline")
    parser.add_argument("--skip-baseline", action="store_true", help="skip the old package in the scaling section")
    parser.add_argument("--scaling-only", action="store_true", help="only the scaling section")
    parser.add_argument("--measure", nargs=2, metavar=("SPEC", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        _measure_child(*args.measure)
        return
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    if not args.scaling_only:
        section_22(args)
    sizes = [tuple(int(x) for x in size.split("x")) for size in args.sizes.split(",") if size.strip()]
    if sizes:
        scaling(sizes, None if args.skip_baseline else args.baseline_commit, args.skip_r)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


def section_22(args: argparse.Namespace) -> None:
    """The original section: every analysis fit on the 22-model simulated benchmark."""
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
