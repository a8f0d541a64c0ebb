"""``eudaimonia-nb fetch`` and ``fetch-rubrics``: the benchmark file and the authors' rubrics."""

from __future__ import annotations

import argparse
import sys

from .common import at_least


def add_fetch(sub: argparse._SubParsersAction) -> None:
    from ..paths import DATASET_SHA256, DATASET_URL

    p = sub.add_parser("fetch", help="download the benchmark file and verify its SHA-256")
    p.add_argument("--url", default=DATASET_URL, help="where to download from (default: the pinned official URL); "
                   "file:///path/to/final_dataset.jsonl copies a local file, hash-checked")
    p.add_argument("--sha256", default=DATASET_SHA256, help="expected SHA-256 of the file")
    p.add_argument("--dest", default=None, help="file or directory to save to (default: the data cache)")
    p.add_argument("--force", action="store_true", help="download even if a verified copy exists")
    p.add_argument("--timeout", type=at_least(0.001, float), default=60.0, help="seconds to wait for data (default 60)")
    p.add_argument("--deadline", type=at_least(0.001, float), default=600.0,
                   help="seconds allowed for the whole download (default 600)")
    p.set_defaults(handler=_run_fetch)


def _run_fetch(args: argparse.Namespace) -> int:
    from ..benchmark.fetch import FetchError, fetch_benchmark

    try:
        path = fetch_benchmark(url=args.url, sha256=args.sha256, dest=args.dest, force=args.force, timeout=args.timeout,
                               deadline=args.deadline)
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


def add_fetch_rubrics(sub: argparse._SubParsersAction) -> None:
    from ..judging.authors_rubrics import BASE_URL_ENV, RUBRIC_FILENAME

    p = sub.add_parser("fetch-rubrics", help="download the authors' nine judge rubrics (pinned commit) and verify their SHA-256")
    p.add_argument("--base-url", default=None,
                   help=f"folder holding <key>/{RUBRIC_FILENAME} (default: ${BASE_URL_ENV} or the pinned official location)")
    p.add_argument("--dest", default=None, help="folder to cache them in (default: <data dir>/authors_rubrics)")
    p.set_defaults(handler=_run_fetch_rubrics)


def _run_fetch_rubrics(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..benchmark.fetch import FetchError
    from ..judging.authors_rubrics import ARTIFACT_COMMIT, ARTIFACT_REPOSITORY, fetch_rubrics

    try:
        paths = fetch_rubrics(args.base_url, Path(args.dest) if args.dest else None)
    except (FetchError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    # What was checked, then where it is (the last line, for scripts).
    print(f"{len(paths)} rubrics of the authors ({ARTIFACT_REPOSITORY} at commit {ARTIFACT_COMMIT[:7]}), each "
          "SHA-256 verified against the pinned hash")
    print(next(iter(paths.values())).parent.parent)
    return 0
