"""EUDAIMONIA benchmark suite: fetch the benchmark, judge models through any OpenAI-compatible API, list, export and report runs, compare conditions and check the judge against human labels.

Each command group is a module of this package with a ``register`` function; a subcommand
imports what it needs only when it runs, so ``eudaimonia-nb --help`` is instant.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from . import batches, data, interop, judging, noise, rates, reproduce, results, study, validity
from .common import Registrar

# Subcommands, in the order `--help` lists them.
REGISTRARS: list[Registrar] = [
    data.add_fetch, results.add_report, judging.add_run, results.add_runs, results.add_export, judging.add_serve_local,
    data.add_fetch_rubrics, judging.add_rejudge, validity.add_parsers, study.add_parser, reproduce.add_recipes,
    reproduce.add_reproduce, rates.add_rates, interop.add_import_inspect, batches.add_batches, noise.add_noise,
]

EPILOG = ("The benchmark file, the results store (results.sqlite) and the request cache live in data/ of the "
          "checkout, or in $EUDAIMONIA_DATA_DIR. API keys are read from the environment variable you name "
          "(--api-key-env), never from the command line. 'eudaimonia-nb COMMAND --help' describes each "
          "command; README.md and docs/ the rest.")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eudaimonia-nb", description=__doc__.splitlines()[0], epilog=EPILOG)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    for register in REGISTRARS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Transport libraries (whatever their logger names) quote full request URLs, which may
    # carry credentials: every record is filtered at the handler, not by logger name.
    from ..credentials import RedactingFilter

    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
