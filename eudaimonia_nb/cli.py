"""The ``eudaimonia-nb`` console script.

Each subcommand is registered by a small ``_add_*`` function here and imports its module only
when it runs, so ``eudaimonia-nb --help`` is instant.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

Handler = Callable[[argparse.Namespace], int]


def _add_fetch(sub: argparse._SubParsersAction) -> None:
    from .paths import DATASET_SHA256, DATASET_URL

    p = sub.add_parser("fetch", help="download the benchmark file and verify its SHA-256")
    p.add_argument("--url", default=DATASET_URL, help="where to download from (default: the pinned official URL)")
    p.add_argument("--sha256", default=DATASET_SHA256, help="expected SHA-256 of the file")
    p.add_argument("--dest", default=None, help="file or directory to save to (default: the data cache)")
    p.add_argument("--force", action="store_true", help="download even if a verified copy exists")
    p.set_defaults(handler=_run_fetch)


def _run_fetch(args: argparse.Namespace) -> int:
    from .fetch import FetchError, fetch_benchmark

    try:
        path = fetch_benchmark(url=args.url, sha256=args.sha256, dest=args.dest, force=args.force)
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


# Subcommand registrars, in the order `--help` lists them.
REGISTRARS: list[Callable[[argparse._SubParsersAction], None]] = [_add_fetch]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eudaimonia-nb", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    for register in REGISTRARS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
