"""``eudaimonia-nb rates RUN_ID``: one run's violation rates, overall, per source and per
requirement, each with its prompt-clustered interval, under the run's errors convention."""

from __future__ import annotations

import argparse
import json
import sys

from .common import at_least, message, numeric_warnings_to_log


def add_rates(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rates", help="one run's violation rates with intervals, comparability and notes")
    p.add_argument("run_id", help="run id (see `eudaimonia-nb runs`)")
    p.add_argument("--store", default=None, help="results store (default data/results.sqlite)")
    p.add_argument("--errors", choices=("apart", "no_violation", "authors"), default=None,
                   help="what a check without a verdict counts as (default: the run's own convention, "
                        "authors for the authors' protocol)")
    p.add_argument("--exclude-flagged", action="store_true",
                   help="set apart the verdicts the authors' parser read doubtfully (verdict_flags)")
    p.add_argument("--n-boot", type=at_least(1), default=1000, help="bootstrap replicates for intervals (default 1000)")
    p.add_argument("--json", action="store_true", help="print JSON (keys: overall, by_source, by_requirement, each "
                   "with rate, ci_low, ci_high, checks, violations; flagged, comparability, same_family, ...)")
    p.set_defaults(handler=_run_rates)


def _run_rates(args: argparse.Namespace) -> int:
    import sqlite3

    from ..analysis.run_rates import rates_text, run_rates
    from ..store.results import default_store_path

    try:
        with numeric_warnings_to_log():
            report = run_rates(args.store or default_store_path(), args.run_id, errors=args.errors,
                               exclude_flagged=args.exclude_flagged, n_boot=args.n_boot)
    except (OSError, KeyError, ValueError, sqlite3.Error) as exc:
        print(f"error: {message(exc)}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2) if args.json else rates_text(report))
    return 0
