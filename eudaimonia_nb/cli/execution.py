"""How ``run``, ``rejudge`` (and ``reproduce``) execute their calls: ``--batch``, ``--judge-batch``,
``--poll-interval``, ``--no-wait`` and ``--max-cost``, registered by ``add_execution_flags`` and
handled by ``execute_run`` (build the ``RunConfig``, then ``--dry-run``'s estimate or ``execute``),
the one function each of those commands calls."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from .common import at_least, message

if TYPE_CHECKING:
    from ..judging.batch.executor import Modes
    from ..judging.config import RunConfig
    from ..judging.recording import RunSummary

Report = Callable[["RunConfig", "RunSummary"], None]
"""Prints more about a finished invocation before the run id (``reproduce``: the rate beside the
published one)."""

DIALECT_NAMES = ("openai", "anthropic", "openrouter")
"""``judging.batch.protocol.DIALECTS``, repeated so that registering imports nothing heavy (a test
checks they agree)."""


def add_execution_flags(p: argparse.ArgumentParser, *, rejudge: bool = False) -> None:
    """The execution flags of a command that runs calls (docs/batch.md)."""
    what = "the judge calls" if rejudge else "the model's responses and, unless --judge-batch says otherwise, the judge calls"
    p.add_argument("--batch", choices=DIALECT_NAMES, default=None,
                   help=f"send {what} through this provider's batch API (about half price, results within 24 h; "
                        f"resumable: the same command again collects what was submitted)")
    if not rejudge:
        p.add_argument("--judge-batch", choices=("live", *DIALECT_NAMES), default=None,
                       help="mode of the judge calls when it differs from --batch (live, or another dialect)")
    p.add_argument("--poll-interval", type=at_least(0.01, float), default=30.0,
                   help="seconds between polls of submitted batches (default 30)")
    p.add_argument("--no-wait", action="store_true", help="submit the batches and exit; run the same command again to collect")
    p.add_argument("--max-cost", type=at_least(0, float), default=None, metavar="USD",
                   help="hard cap on what the run spends in all (live and batch): a call or batch that could pass it "
                        "is not sent; needs a price for every model called")


def modes_from(args: argparse.Namespace) -> Modes:
    """The phases' modes the flags ask for."""
    from ..judging.batch.executor import Modes

    batch = getattr(args, "batch", None) or "live"
    judge = getattr(args, "judge_batch", None) or batch
    return Modes(respond=batch, judge=judge)


def _progress_line(progress: object) -> None:
    print(progress.describe(), file=sys.stderr, flush=True)  # type: ignore[attr-defined]


def execute_run(make_config: Callable[[], RunConfig], args: argparse.Namespace, *, rejudge: bool = False,
                report: Report | None = None) -> int:
    """Build the configuration, then print ``--dry-run``'s estimate (live and batch cost for the
    modes the flags name, every dialect when none is) or ``execute`` it; an error building it is
    one line on stderr (exit status 1)."""
    import sqlite3

    from ..benchmark.dataset import DatasetError, DatasetNotFoundError
    from ..judging.authors_rubrics import RubricsUnavailableError
    from ..judging.client import CredentialError
    from ..judging.dry_run import dry_run

    try:
        config = make_config()
        if getattr(args, "dry_run", False):
            modes = modes_from(args)
            estimate = dry_run(config, modes=(modes.respond, modes.judge) if modes.batched else None)
            print(estimate.describe())
            print(estimate.run_id)
            return 0
    # ValueError covers subsets, settings and the price table; all name what was wrong.
    except (RubricsUnavailableError, CredentialError, DatasetError, DatasetNotFoundError, ValueError, KeyError, OSError,
            sqlite3.Error) as exc:
        print(f"error: {message(exc)}", file=sys.stderr)
        return 1
    return execute(config, args, rejudge=rejudge, report=report)


def execute(config: RunConfig, args: argparse.Namespace, *, rejudge: bool = False, report: Report | None = None) -> int:
    """Execute ``config`` as the flags say; print the summary, then ``report``'s lines when the
    invocation ended without an error, then the run id (the last line); return the exit status:
    0 done or submitted, 1 an error, 3 stopped at the cost cap, 130 interrupted."""
    import sqlite3

    from ..benchmark.dataset import DatasetError, DatasetNotFoundError
    from ..judging.authors_rubrics import RubricsUnavailableError
    from ..judging.batch.anthropic import AnthropicUnavailable
    from ..judging.batch.executor import BatchRunError
    from ..judging.client import CredentialError
    from ..judging.execution import execute as run_execution
    from ..judging.preflight import EndpointError, RunStopped
    from ..store.run_lock import RunLockedError

    modes = modes_from(args)
    progress = not getattr(args, "no_progress", False)
    try:
        outcome = run_execution(
            config, modes, retry_failed=getattr(args, "retry_failed", False), progress=progress, max_cost_usd=args.max_cost,
            poll_interval_s=args.poll_interval, wait=not args.no_wait, report=_progress_line if progress else None)
    except KeyboardInterrupt:
        if modes.batched:
            print("interrupted: submitted batches keep running at the provider and every collected result is stored; "
                  "run the same command again to collect them (`eudaimonia-nb batches` lists them)", file=sys.stderr)
        else:
            print("interrupted: every finished result is stored; run the same command again to resume", file=sys.stderr)
        return 130
    # ValueError covers subsets, settings, the price table and unpriced models under --max-cost.
    except (RubricsUnavailableError, CredentialError, DatasetError, DatasetNotFoundError, ValueError, KeyError, OSError,
            sqlite3.Error, RunLockedError, EndpointError, RunStopped, BatchRunError, AnthropicUnavailable) as exc:
        print(f"error: {message(exc)}", file=sys.stderr)
        return 1
    summary = outcome.summary
    if outcome.stopped:
        print(outcome.stopped, file=sys.stderr)
        if report is not None:
            report(config, summary)
        print(summary.run_id)
        return 3
    if summary.error_reasons:
        reasons = "; ".join(f"{n} x {reason}" for reason, n in summary.error_reasons)
        print(f"most common errors: {reasons}", file=sys.stderr)
    if outcome.open_batches:
        print(f"{outcome.open_batches} batch(es) still running at the provider: run the same command again to collect "
              f"them (`eudaimonia-nb batches` lists them)", file=sys.stderr)
    cost = "unknown" if summary.cost_usd is None else f"${summary.cost_usd:.4f}"
    label = " [SMOKE TEST: verdicts are not research results]" if summary.smoke_test else ""
    source = f" (responses of {config.rejudged_from}; the model was not called)" if rejudge else ""
    print(f"{summary.n_checks} checks{_repeats_note(summary)}: {summary.verdicts} verdicts, {summary.errors} errors{source}; this invocation: "
          f"{summary.checks_judged} results, {summary.input_tokens + summary.output_tokens} tokens, cost {cost}{label}")
    if report is not None:
        report(config, summary)
    print(summary.run_id)
    return 0


def _repeats_note(summary: RunSummary) -> str:
    """`` x 3 epochs x 2 judge repeats`` for a run with repeats (its verdicts count each one)."""
    from ..judging.repeats import describe_repeats

    text = describe_repeats(getattr(summary, "epochs", 1), getattr(summary, "judge_repeats", 1))
    return f" x {text}" if text else ""
