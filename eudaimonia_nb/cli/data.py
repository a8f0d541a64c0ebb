"""``eudaimonia-nb fetch`` and ``fetch-rubrics``: the benchmark file and the authors' rubrics."""

from __future__ import annotations

import argparse
import sys

from .common import at_least


def add_fetch(sub: argparse._SubParsersAction) -> None:
    from ..paths import DATASET_COPIES

    p = sub.add_parser("fetch", help="download the benchmark file and verify its SHA-256")
    p.add_argument("--copy", choices=tuple(DATASET_COPIES), default="site",
                   help="official copy: site (default: the benchmark's web page) or repo (the authors' artifact "
                        "repository; differs in the prompt text of 2 prompts, 11 checks); each has its pinned SHA-256")
    p.add_argument("--url", default=None, help="where to download from (default: the copy's pinned official URL); "
                   "file:///path/to/final_dataset.jsonl copies a local file, hash-checked")
    p.add_argument("--sha256", default=None, help="expected SHA-256 of the file (default: the copy's pinned one)")
    p.add_argument("--dest", default=None, help="file or directory to save to (default: the data cache; "
                   "final_dataset.jsonl, or final_dataset.repo.jsonl for --copy repo)")
    p.add_argument("--force", action="store_true", help="download even if a verified copy exists")
    p.add_argument("--timeout", type=at_least(0.001, float), default=60.0, help="seconds to wait for data (default 60)")
    p.add_argument("--deadline", type=at_least(0.001, float), default=600.0,
                   help="seconds allowed for the whole download (default 600)")
    p.set_defaults(handler=_run_fetch)


def _run_fetch(args: argparse.Namespace) -> int:
    from ..benchmark.fetch import FetchError, fetch_benchmark
    from ..paths import DATASET_COPIES, default_dataset_path

    url, sha256 = DATASET_COPIES[args.copy]
    dest = args.dest if args.dest is not None else default_dataset_path(args.copy)
    try:
        path = fetch_benchmark(url=args.url or url, sha256=args.sha256 or sha256, dest=dest, force=args.force,
                               timeout=args.timeout, deadline=args.deadline)
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


def add_fetch_rubrics(sub: argparse._SubParsersAction) -> None:
    from ..judging.authors_rubrics import BASE_URL_ENV, RUBRIC_DEADLINE_S, RUBRIC_FILENAME, RUBRIC_TIMEOUT_S

    p = sub.add_parser("fetch-rubrics", help="download the authors' nine judge rubrics (pinned commit) and verify their SHA-256")
    p.add_argument("--base-url", default=None,
                   help=f"folder holding <key>/{RUBRIC_FILENAME} (default: ${BASE_URL_ENV} or the pinned official location)")
    p.add_argument("--dest", default=None, help="folder to cache them in (default: <data dir>/authors_rubrics)")
    p.add_argument("--timeout", type=at_least(0.001, float), default=RUBRIC_TIMEOUT_S,
                   help=f"seconds to wait for data (default {RUBRIC_TIMEOUT_S:g})")
    p.add_argument("--deadline", type=at_least(0.001, float), default=RUBRIC_DEADLINE_S,
                   help=f"seconds allowed for all nine files together (default {RUBRIC_DEADLINE_S:g})")
    p.set_defaults(handler=_run_fetch_rubrics)


def _run_fetch_rubrics(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..benchmark.fetch import FetchError
    from ..judging.authors_rubrics import fetch_rubrics

    try:
        paths = fetch_rubrics(args.base_url, Path(args.dest) if args.dest else None, timeout=args.timeout,
                              deadline=args.deadline)
    except (FetchError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(next(iter(paths.values())).parent.parent)
    return 0
