"""``eudaimonia-nb noise``: prompt, response and judge noise of runs with epochs and judge repeats.

``--json`` prints ``{"runs": [...], "n_boot": B, "seed": S}`` with one object per run (keys in
docs/analysis.md, "Noise"): ``run_id``, ``model``, ``epochs``, ``judge_repeats``, ``n_prompts``,
``n_checks``, ``n_verdicts``, ``rate``, ``response_flip_rate`` and ``judge_flip_rate``
(fractions), ``share_prompt``, ``share_response``, ``share_judge``, ``sd_prompt`` and
``sd_response`` (log-odds), each with ``_ci_low`` and ``_ci_high``; ``se_rate`` for the run's
design and ``se_rate_benchmark`` for the whole benchmark; ``se_table`` (the predicted SE for 1
to 5 epochs x 1 to 5 judge repeats); ``recommendation``; ``note``; ``smoke_test``; and, with
``--by-requirement``, ``requirements`` (the same per requirement, without the SDs). A value the
run's design cannot estimate is null.
"""

from __future__ import annotations

import argparse
import json
import sys

from .common import at_least, message, numeric_warnings_to_log

RUN_KEYS = ("run_id", "model", "epochs", "judge_repeats", "n_prompts", "n_checks", "n_verdicts", "rate",
            "response_flip_rate", "response_flip_rate_ci_low", "response_flip_rate_ci_high",
            "judge_flip_rate", "judge_flip_rate_ci_low", "judge_flip_rate_ci_high",
            "share_prompt", "share_prompt_ci_low", "share_prompt_ci_high",
            "share_response", "share_response_ci_low", "share_response_ci_high",
            "share_judge", "share_judge_ci_low", "share_judge_ci_high",
            "sd_prompt", "sd_prompt_ci_low", "sd_prompt_ci_high", "sd_response", "sd_response_ci_low",
            "sd_response_ci_high", "se_rate", "se_rate_benchmark", "recommendation", "note")
"""Keys of each run's object in ``--json`` (before ``se_table``, ``smoke_test``, ``requirements``)."""


def add_noise(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("noise", help="tell prompt, response and judge noise apart in runs with --epochs / --judge-repeats")
    p.add_argument("--store", default=None, help="results store (default data/results.sqlite)")
    p.add_argument("--run-id", nargs="+", action="extend", default=None,
                   help="run id(s) (repeatable; default: every run in the store with repeats)")
    p.add_argument("--json", action="store_true", help="print JSON (keys: see docs/analysis.md)")
    p.add_argument("--by-requirement", action="store_true", help="also per requirement (flip rates and shares)")
    p.add_argument("--n-boot", type=at_least(50), default=1000, help="bootstrap replicates over prompts (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.set_defaults(handler=_run_noise)


def noise_json(frame: object, *, n_boot: int, seed: int, by_requirement: bool) -> dict:
    """The ``--json`` object for a judgments table (``store.load_judgments``) of one or more runs."""
    from ..analysis.noise import decompose, noise_records, se_table

    runs = decompose(frame, ["run_id", "model"], n_boot=n_boot, seed=seed)
    table = se_table(runs)
    per_requirement = (decompose(frame, ["run_id", "requirement"], n_boot=n_boot, seed=seed, fit_sds=False)
                       if by_requirement else None)
    smoke = frame.groupby("run_id")["smoke_test"].any().to_dict() if "smoke_test" in frame.columns else {}
    out = []
    for record in noise_records(runs):
        run_id = record["run_id"]
        item = {key: record.get(key) for key in RUN_KEYS}
        item["se_table"] = [{k: r[k] for k in ("epochs", "judge_repeats", "se_rate", "se_rate_benchmark")}
                            for r in noise_records(table[table["run_id"] == run_id])]
        item["smoke_test"] = bool(smoke.get(run_id, False))
        if per_requirement is not None:
            rows = per_requirement[per_requirement["run_id"] == run_id].drop(columns="run_id")
            item["requirements"] = [{k: v for k, v in r.items() if not k.startswith(("sd_", "rate_var", "var_"))}
                                    for r in noise_records(rows)]
        out.append(item)
    return {"runs": out, "n_boot": n_boot, "seed": seed}


def noise_text(result: dict) -> str:
    """A plain-text version of ``noise_json``'s object."""
    def pct(record: dict, key: str) -> str:
        if record.get(key) is None:
            return "not estimable"
        return f"{100 * record[key]:.1f}% [{100 * record[f'{key}_ci_low']:.1f}, {100 * record[f'{key}_ci_high']:.1f}]"

    def sd(record: dict, key: str) -> str:
        if record.get(key) is None:
            return "not estimable"
        return f"{record[key]:.2f} [{record[f'{key}_ci_low']:.2f}, {record[f'{key}_ci_high']:.2f}]"

    lines = []
    for r in result["runs"]:
        smoke = "  [SMOKE TEST: not research results]" if r["smoke_test"] else ""
        lines += [f"{r['run_id']} ({r['model']}): {r['epochs']} epochs x {r['judge_repeats']} judge calls, "
                  f"{r['n_checks']:,} checks, {r['n_verdicts']:,} verdicts{smoke}",
                  f"  response flip rate {pct(r, 'response_flip_rate')}; judge flip rate {pct(r, 'judge_flip_rate')}",
                  f"  shares of a verdict's variance: prompts {pct(r, 'share_prompt')}, responses "
                  f"{pct(r, 'share_response')}, judge {pct(r, 'share_judge')}",
                  f"  log-odds SDs: prompt {sd(r, 'sd_prompt')}, response {sd(r, 'sd_response')}",
                  f"  standard error of the rate: {100 * (r['se_rate'] or 0):.2f} points"
                  + (f" (whole benchmark: {100 * r['se_rate_benchmark']:.2f})" if r.get("se_rate_benchmark") else "")]
        if r.get("recommendation"):
            lines.append(f"  {r['recommendation']}")
        if r.get("note"):
            lines.append(f"  note: {r['note']}")
    lines.append(f"(95% intervals clustered by prompt: {result['n_boot']} bootstrap replicates, seed {result['seed']}; "
                 "a sandwich for the SDs)")
    return "\n".join(lines)


def _run_noise(args: argparse.Namespace) -> int:
    import sqlite3

    from ..analysis.reducers import has_repeats
    from ..store.results import list_runs, load_judgments

    try:
        run_ids = args.run_id
        if not run_ids:
            runs = list_runs(args.store)
            run_ids = runs.loc[(runs["epochs"] > 1) | (runs["judge_repeats"] > 1), "run_id"].tolist()
            if not run_ids:
                raise ValueError("no run in the store has epochs or judge repeats: run with --epochs K and/or "
                                 "--judge-repeats J (or name runs with --run-id)")
        frame = load_judgments(args.store, run_ids)
        if not has_repeats(frame):
            print("note: the selected runs have one response and one judge call per check; there is no noise to "
                  "tell apart (run with --epochs and --judge-repeats)", file=sys.stderr)
        with numeric_warnings_to_log():
            result = noise_json(frame, n_boot=args.n_boot, seed=args.seed, by_requirement=args.by_requirement)
    except (OSError, ValueError, KeyError, sqlite3.Error) as exc:
        print(f"error: {message(exc)}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2) if args.json else noise_text(result))
    return 0
