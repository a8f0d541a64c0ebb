"""The noise decomposition: interval coverage against known truth, and its cost at run size.

1. Coverage (``analysis.noise_study``): R replicates (default 200) of one simulated model on P
   real benchmark prompts (default 200), 3 epochs x 2 judge calls, prompt SD 1, response SD 1;
   for each interval of the decomposition the share of replicates that held the known value,
   with its Monte Carlo SE sqrt(c (1 - c) / R).
2. Cost on the whole benchmark (969 prompts, 3,147 checks, 3 epochs x 2 judge calls: 18,882
   verdicts per model): ``noise.decompose`` for one model (with and without the log-odds fit),
   against the baseline of the same run: the prompt-bootstrap rate of the reduced verdicts
   (``rates.model_rates``, what every run's leaderboard row costs).
3. The unreduced mixed model (``analysis.nested``) on M models (default 4) of that design,
   against ``mixed.fit_mixed`` on the same verdicts reduced by the mean (the baseline).

Usage: ``python benchmarks/bench_noise.py [--replicates 200] [--prompts 200] [--models 4]
[--skip-coverage]``; needs the benchmark file (``EUDAIMONIA_DATASET`` or the fetched copy). On a
shared machine set ``OPENBLAS_NUM_THREADS=1``.
"""

from __future__ import annotations

import argparse
import time


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--models", type=int, default=4)
    parser.add_argument("--skip-coverage", action="store_true")
    args = parser.parse_args()

    from eudaimonia_nb import load_benchmark
    from eudaimonia_nb.analysis import mixed, rates
    from eudaimonia_nb.analysis.nested import fit_nested_mixed
    from eudaimonia_nb.analysis.noise import decompose
    from eudaimonia_nb.analysis.noise_study import coverage_study, format_result, sample_design
    from eudaimonia_nb.analysis.reducers import reduce_repeats
    from eudaimonia_nb.analysis.simulate import simulate_with_truth

    checks = load_benchmark().checks[["prompt_id", "requirement", "source"]]
    if not args.skip_coverage:
        result = coverage_study(sample_design(checks, args.prompts, seed=0), replicates=args.replicates, seed=0,
                                n_boot=400)
        print("coverage of the 95% intervals (truth: simulate.noise_truth)")
        print(format_result(result))

    frame, _ = simulate_with_truth("common", seed=1, design=checks, models=args.models, epochs=3, judge_repeats=2,
                                   response_sd=1.0)
    one = frame[frame["model"] == frame["model"].iloc[0]]
    reduced_one = reduce_repeats(one)
    _, baseline = _timed(lambda: rates.model_rates(reduced_one))
    _, fast = _timed(lambda: decompose(one, fit_sds=False))
    _, full = _timed(lambda: decompose(one))
    print(f"\none model, whole benchmark, 3 epochs x 2 judge calls ({len(one):,} verdicts)")
    print(f"  baseline rates.model_rates on the reduced checks: {baseline:6.2f} s")
    print(f"  noise.decompose without the log-odds fit:        {fast:6.2f} s ({fast / baseline:.1f}x)")
    print(f"  noise.decompose with it:                         {full:6.2f} s ({full / baseline:.1f}x)")

    reduced = reduce_repeats(frame)
    _, base_fit = _timed(lambda: mixed.fit_mixed(reduced, use_cache=False))
    nested, nested_time = _timed(lambda: fit_nested_mixed(frame))
    print(f"\n{args.models} models, unreduced ({len(frame):,} verdicts, {nested.n_responses:,} responses)")
    print(f"  baseline mixed.fit_mixed on the mean-reduced checks: {base_fit:6.2f} s")
    print(f"  nested.fit_nested_mixed on every verdict:            {nested_time:6.2f} s ({nested_time / base_fit:.1f}x)")
    print(nested.variance_components.to_string(index=False))


if __name__ == "__main__":
    main()
