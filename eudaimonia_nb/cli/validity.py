"""``eudaimonia-nb labels export|import`` and ``eudaimonia-nb validity``: registered by
``add_parsers`` from ``cli.py``; modules are imported only when a command runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from .common import add_force, add_raw_csv, at_least

    labels = sub.add_parser("labels", help="export or import human labels of judged checks (CSV)")
    actions = labels.add_subparsers(dest="labels_command", required=True)
    columns = ("CSV: run_id, prompt_id, requirement, labeller, label (1, 0 or empty for unsure), optional note, "
               "inclusion_probability, sample_id, design")
    p = actions.add_parser("export", help="write every label in the store to a CSV file (--out FILE)")
    p.add_argument("file", metavar="FILE", nargs="?", default=None,
                   help="the same as --out (kept for old scripts; refused when it names a results store)")
    p.add_argument("--out", default=None, help=f"file to write; {columns}")
    p.add_argument("--store", default=None, help="results store to read (default data/results.sqlite)")
    add_force(p)
    add_raw_csv(p)
    p.add_argument("--json", action="store_true", help="print {\"file\", \"labels\"} as JSON")
    p.set_defaults(handler=_run_labels)
    p = actions.add_parser("import", help="add the labels in FILE to the store (all or nothing)")
    p.add_argument("file", metavar="FILE", help=columns)
    p.add_argument("--store", default=None, help="results store (default data/results.sqlite)")
    p.add_argument("--design", choices=("stratified", "srs", "queue"), default=None,
                   help="design of rows whose file names none: stratified (each row's inclusion_probability), srs "
                        "(a simple random sample of each run's judged checks: equal weights; required for a file "
                        "without inclusion_probability), queue (chosen from a disagreement list: no estimate uses them)")
    p.add_argument("--json", action="store_true", help="print the import summary as JSON (file, rows, distinct, "
                                                       "designs, samples)")
    p.set_defaults(handler=_run_labels)

    p = sub.add_parser("validity", help="judge-human and judge-judge agreement and label-corrected violation rates")
    p.add_argument("--store", default=None, help="results store (default data/results.sqlite)")
    p.add_argument("--run", action="append", default=[], help="run id to include (repeatable; default: all runs)")
    p.add_argument("--format", choices=("json", "text"), default="text", help="output format (default text)")
    p.add_argument("--n-boot", type=at_least(1), default=1000, help="bootstrap replicates for agreement intervals")
    p.set_defaults(handler=_run_validity)


def _starts_with(path: Path, magic: bytes) -> bool:
    if not path.is_file():
        return False
    with path.open("rb") as handle:
        return handle.read(len(magic)) == magic


def _export_target(args: argparse.Namespace) -> str:
    """``--out``, or the positional FILE of old scripts when it cannot be the store mistaken for the output."""
    from ..outputs import SQLITE_MAGIC
    from ..store.labels import LabelsError

    if args.file and args.out:
        raise LabelsError(f"give the output file once: FILE {args.file!r} and --out {args.out!r} both given")
    if args.out:
        return args.out
    if not args.file:
        raise LabelsError("labels export needs --out FILE (the CSV to write); the store is --store PATH")
    path = Path(args.file)
    if path.suffix.lower() in (".sqlite", ".sqlite3", ".db") or _starts_with(path, SQLITE_MAGIC):
        raise LabelsError(f"{path} looks like a results store, and FILE is the CSV to write: to export its labels, "
                          f"run `eudaimonia-nb labels export --store {path} --out labels.csv`")
    return args.file


def _run_labels(args: argparse.Namespace) -> int:
    import dataclasses
    import json
    import sqlite3

    from ..store.label_files import export_labels, import_labels

    try:
        if args.labels_command == "export":
            path, n = export_labels(args.store, _export_target(args), force=args.force, raw_csv=args.raw_csv)
            print(json.dumps({"file": str(path), "labels": n}) if args.json else f"{n} labels written to {path}")
        else:
            summary = import_labels(args.store, args.file, design=args.design)
            print(json.dumps(dataclasses.asdict(summary)) if args.json else summary.describe())
    except (ValueError, OSError, sqlite3.Error) as exc:  # LabelsError and the writers' guard are ValueErrors
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _run_validity(args: argparse.Namespace) -> int:
    import sqlite3

    from ..validity.measures import compute_validity, to_json, to_text

    try:
        result = compute_validity(args.store, args.run or None, n_boot=args.n_boot)
    except (OSError, KeyError, ValueError, sqlite3.Error) as exc:
        message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"error: {message}", file=sys.stderr)
        return 1
    print(to_json(result) if args.format == "json" else to_text(result))
    return 0
