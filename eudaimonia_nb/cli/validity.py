"""``eudaimonia-nb labels export|import`` and ``eudaimonia-nb validity``: registered by
``add_parsers`` from ``cli.py``; modules are imported only when a command runs."""

from __future__ import annotations

import argparse
import sys


def add_parsers(sub: argparse._SubParsersAction) -> None:
    labels = sub.add_parser("labels", help="export or import human labels of judged checks (CSV)")
    actions = labels.add_subparsers(dest="labels_command", required=True)
    for name, text in (("export", "write every label in the store to FILE"),
                       ("import", "add the labels in FILE to the store (all or nothing)")):
        p = actions.add_parser(name, help=text)
        p.add_argument("file", metavar="FILE", help="CSV: run_id, prompt_id, requirement, labeller, label "
                                                    "(1, 0 or empty for unsure), optional note, inclusion_probability")
        p.add_argument("--store", default=None, help="results store (default data/results.sqlite)")
        p.set_defaults(handler=_run_labels)

    p = sub.add_parser("validity", help="judge-human and judge-judge agreement and label-corrected violation rates")
    p.add_argument("--store", default=None, help="results store (default data/results.sqlite)")
    p.add_argument("--run", action="append", default=[], help="run id to include (repeatable; default: all runs)")
    p.add_argument("--format", choices=("json", "text"), default="text", help="output format (default text)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates for agreement intervals")
    p.set_defaults(handler=_run_validity)


def _run_labels(args: argparse.Namespace) -> int:
    import sqlite3

    from ..store.labels import LabelsError, export_labels, import_labels

    try:
        if args.labels_command == "export":
            path, n = export_labels(args.store, args.file)
            print(f"{n} labels written to {path}")
        else:
            n = import_labels(args.store, args.file)
            print(f"{n} labels imported from {args.file}")
    except (LabelsError, OSError, sqlite3.Error) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _run_validity(args: argparse.Namespace) -> int:
    import sqlite3

    from ..validity.measures import compute_validity, to_json, to_text

    from ..store.results import load_judgments

    try:
        result = compute_validity(args.store, args.run or None, n_boot=args.n_boot)
        # Runs named as every page names them (model · judge · protocol), not by run id.
        runs = load_judgments(args.store, args.run or None).drop_duplicates("run_id") if args.format == "text" else None
    except (OSError, KeyError, ValueError, sqlite3.Error) as exc:
        message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"error: {message}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(to_json(result))
    else:
        print(to_text(result, dict(zip(runs["run_id"].astype(str), runs["model"].astype(str)))))
    return 0
