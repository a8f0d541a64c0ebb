"""``eudaimonia-nb runs``, ``export`` and ``report``: what is in the results store, and sharing it."""

from __future__ import annotations

import argparse
import json
import sys

from .common import add_force, add_raw_csv, at_least, message, numeric_warnings_to_log


def add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write the analysis as one static HTML file with interactive figures")
    p.add_argument("--source", choices=("demo", "store", "file"), default="demo",
                   help="embedded simulated demo (default), a results store or a results file")
    p.add_argument("--store", default=None, help="results store (SQLite) for --source store (default: data/results.sqlite)")
    p.add_argument("--run", action="append", default=[], help="run id to include (repeatable; default: all runs)")
    p.add_argument("--file", default=None, help="results file (CSV/JSONL/Parquet) for --source file")
    p.add_argument("--out", default="eudaimonia-report.html", help="HTML file to write")
    add_force(p)
    p.add_argument("--n-boot", type=at_least(1), default=1000, help="bootstrap replicates for intervals")
    p.add_argument("--errors", choices=("apart", "no_violation", "authors"), default="apart",
                   help="checks without a verdict: kept apart (default), unparseable judge answers counted as no "
                        "violation, or the authors' convention (unparseable answers and failed judge calls as no violation)")
    p.add_argument("--reducer", choices=("mean", "majority", "any", "all"), default="mean",
                   help="how a check's verdicts over epochs and judge repeats become one (default mean; runs "
                        "without repeats are unaffected)")
    p.add_argument("--sample-responses", type=int, default=0, metavar="N",
                   help="append N responses per model with their verdicts (default 0: responses may be sensitive)")
    p.set_defaults(handler=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    import sqlite3
    from pathlib import Path

    from ..benchmark.dataset import prompt_texts
    from ..store.outputs import check_output
    from ..report import DataSource, Options, build_report, load_source, write_report

    if args.source == "store" and not args.store:
        from ..store.results import default_store_path

        args.store = str(default_store_path())
    path = {"store": args.store, "file": args.file}.get(args.source)
    if args.source != "demo" and not path:
        print(f"error: --source {args.source} needs --{args.source} PATH", file=sys.stderr)
        return 2
    reading = [path] if path else []
    try:
        check_output(args.out, fmt="html", reading=reading, force=args.force)  # before minutes of work, not after
        source = DataSource(args.source, Path(path) if path else None, tuple(args.run))
        frame = load_source(source)
        with numeric_warnings_to_log():
            text = build_report(frame, source=source.describe(public=True),
                                options=Options(n_boot=args.n_boot, errors=args.errors, reducer=args.reducer),
                                sample_responses=args.sample_responses,
                                prompts=prompt_texts() if args.sample_responses else None)
        print(write_report(text, Path(args.out), reading=reading, force=args.force))
    except (OSError, ValueError, KeyError, sqlite3.Error) as exc:
        # OSError includes a full disk: one line, and write_report has removed its temporary file.
        print(f"error: {message(exc)}", file=sys.stderr)
        return 1
    return 0


def add_runs(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runs", help="list the runs in a results store")
    p.add_argument("--store", default=None, help="results store (default data/results.sqlite)")
    p.add_argument("--json", action="store_true", help="one JSON object per run (run_id, model, judge_model, protocol, "
                   "errors_convention, recipe, checks, verdicts, errors, comparability, ...)")
    p.set_defaults(handler=_run_runs)


def _run_runs(args: argparse.Namespace) -> int:
    import sqlite3

    from ..store.results import list_runs

    try:
        runs = list_runs(args.store)
        if args.json:
            from ..analysis.run_list import runs_json

            print(json.dumps(runs_json(args.store, runs), indent=2))
            return 0
    except (OSError, sqlite3.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    columns = ["run_id", "model", "protocol", "judge_model", "n_checks", "epochs", "judge_repeats", "n_verdicts",
               "n_errors", "smoke_test", "dataset_official", "started_at", "ended_at", "rejudged_from"]
    print(runs[columns].to_string(index=False) if not runs.empty else "no runs")
    return 0


def add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write one run as a long table (one row per check) or as an Inspect log")
    p.add_argument("run_id", help="run id (see `eudaimonia-nb runs`)")
    p.add_argument("--store", default=None, help="results store (default data/results.sqlite)")
    p.add_argument("--format", choices=("csv", "jsonl", "parquet", "inspect"), required=True,
                   help="output format; inspect: an Inspect log (FILE.eval or FILE.json) that inspect view opens")
    p.add_argument("--out", required=True, help="file to write (never the store or another SQLite file)")
    p.add_argument("--dataset", default=None, help="benchmark file, for the prompt texts of --format inspect "
                   "(default: the fetched copy)")
    add_force(p)
    add_raw_csv(p)
    p.set_defaults(handler=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    import sqlite3

    from ..store.results import export_run

    if args.format == "inspect":
        from .interop import export_inspect_log

        return export_inspect_log(args)
    try:
        print(export_run(args.store, args.run_id, args.format, args.out, force=args.force, raw_csv=args.raw_csv))
    except (OSError, KeyError, ValueError, sqlite3.Error) as exc:
        print(f"error: {message(exc)}", file=sys.stderr)
        return 1
    return 0
