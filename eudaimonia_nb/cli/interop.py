"""``eudaimonia-nb import-inspect``: Inspect logs into the results store as runs.

``export --format inspect`` (the other direction) lives with ``export`` in ``results``. Both
import ``interop`` (and so ``inspect_ai``, an optional extra) only when they run.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_import_inspect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import-inspect", help="read Inspect logs (.eval/.json) into the results store as runs",
                       description="Read Inspect logs of the eudaimonia task (or of any task whose samples carry "
                                   "metadata.prompt_id and one score per requirement key) into the store, one run per "
                                   "log. A log already imported, or one that lacks prompt ids or scores, is refused "
                                   "and nothing is imported. The new run ids are printed last, one per line.")
    p.add_argument("logs", nargs="+", metavar="LOG", help="Inspect log file (.eval or .json)")
    p.add_argument("--store", default=None, help="results store (default data/results.sqlite)")
    p.add_argument("--dataset", default=None, help="benchmark file (default: the fetched copy)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per run: log, run_id, status, n_prompts, n_checks, epochs, "
                        "n_verdicts, n_errors, n_not_judged")
    p.set_defaults(handler=_run_import_inspect)


def _run_import_inspect(args: argparse.Namespace) -> int:
    import sqlite3

    from ..benchmark.dataset import DatasetError, DatasetNotFoundError
    from .common import message

    try:
        from ..interop.importer import import_logs
    except ModuleNotFoundError as exc:
        return _missing_inspect(exc)
    try:
        runs = import_logs(args.logs, args.store, dataset_path=args.dataset)
    except (DatasetError, DatasetNotFoundError, ValueError, KeyError, OSError, sqlite3.Error) as exc:
        print(f"error: {message(exc)}", file=sys.stderr)
        return 1
    for run in runs:
        summary = run.summary()
        if args.json:
            print(json.dumps(summary))
        else:
            pending = f", {summary['n_not_judged']} not judged yet" if summary["n_not_judged"] else ""
            epochs = f" x {summary['epochs']} epochs" if summary["epochs"] > 1 else ""
            print(f"{summary['log']}: {summary['n_prompts']} prompts, {summary['n_checks']} checks{epochs}: "
                  f"{summary['n_verdicts']} verdicts, {summary['n_errors']} errors{pending} (Inspect status "
                  f"{summary['status']})")
    if not args.json:
        for run in runs:
            print(run.run_id)
    return 0


def _missing_inspect(exc: ModuleNotFoundError) -> int:
    """A clear line for an environment without the optional extra; any other missing module is a bug."""
    from ..interop import INSTALL_HINT

    if not (exc.name or "").startswith("inspect_ai"):
        raise exc
    print(f"error: {INSTALL_HINT}", file=sys.stderr)
    return 1


def export_inspect_log(args: argparse.Namespace) -> int:
    """``export RUN_ID --format inspect --out FILE.eval``: the run as an Inspect log."""
    import sqlite3

    from ..benchmark.dataset import DatasetError, DatasetNotFoundError
    from .common import message

    try:
        from ..interop.export import export_inspect
    except ModuleNotFoundError as exc:
        return _missing_inspect(exc)
    try:
        print(export_inspect(args.store, args.run_id, args.out, dataset_path=args.dataset, force=args.force))
    except (DatasetError, DatasetNotFoundError, ValueError, KeyError, OSError, sqlite3.Error) as exc:
        print(f"error: {message(exc)}", file=sys.stderr)
        return 1
    return 0
