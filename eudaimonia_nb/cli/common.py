"""What every command group shares: argument types, URL checks, error messages, warnings."""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import warnings
from collections.abc import Callable, Iterator

Handler = Callable[[argparse.Namespace], int]
"""A subcommand's handler: parsed arguments in, exit status out."""
Registrar = Callable[[argparse._SubParsersAction], None]
"""Adds one command group's subcommands to the console script."""


@contextlib.contextmanager
def numeric_warnings_to_log() -> Iterator[None]:
    """numpy's RuntimeWarnings (empty slices, zero variance in a small subset) are expected in
    estimation and mean nothing to a terminal user: they go to the debug log; others pass."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for item in caught:
        if issubclass(item.category, RuntimeWarning):
            logging.getLogger(__name__).debug("%s:%d: %s", item.filename, item.lineno, item.message)
        else:
            warnings.showwarning(item.message, item.category, item.filename, item.lineno)


def at_least(low: float, kind: type = int) -> Callable[[str], float]:
    """An argparse type: a number of ``kind`` >= ``low`` (argparse names the flag on error)."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            value = None
        # "not >=" also rejects nan; inf is no setting either (a wait or a count without end).
        if value is None or not value >= low or not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a finite number'} >= {low}, "
                                             f"got {text!r}")
        return value

    return parse


def add_force(parser: argparse.ArgumentParser) -> None:
    """``--force``: the one flag every writer takes (see ``outputs.check_output``)."""
    parser.add_argument("--force", action="store_true",
                        help="replace an existing output file of another format (never a results store or "
                             "any SQLite file)")


def add_raw_csv(parser: argparse.ArgumentParser) -> None:
    """``--raw-csv``: CSV text cells exactly as stored (see ``store.outputs.csv_safe``)."""
    parser.add_argument("--raw-csv", action="store_true",
                        help="CSV: write text cells as they are, without the ' the suite puts before a leading "
                             "= + - @ tab or CR (for programs; unsafe to open in a spreadsheet)")


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 1 to 65535."""
    value = at_least(1)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 1 to 65535, got {text!r}")
    return int(value)


def check_url(flag: str, url: str) -> str:
    """``url`` if it is an http(s) URL with a host; the error names the flag, never the URL
    (it may carry credentials)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (parsing the port is the check)
    except ValueError as exc:
        raise ValueError(f"{flag}: expected an http(s) URL like http://127.0.0.1:8080/v1 ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{flag}: expected an http(s) URL like http://127.0.0.1:8080/v1")
    return url


def message(exc: BaseException) -> str:
    # str(KeyError) wraps the message in quotes.
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)


def add_repeat_arguments(p: argparse.ArgumentParser, *, epochs: bool = True) -> None:
    """``--epochs K`` (when the command calls the model) and ``--judge-repeats J``, for every command
    that judges (``run``, ``rejudge``; a ``reproduce`` or batch command adds them the same way and
    reads them with ``repeat_settings``)."""
    from ..judging.repeats import MAX_REPEATS

    if epochs:
        p.add_argument("--epochs", type=at_least(1), default=1,
                       help=f"responses per prompt, each a new sample judged on its own (default 1, at most {MAX_REPEATS}); "
                            "a larger K later resumes the run's epoch 1 from the cache and adds the others")
    p.add_argument("--judge-repeats", type=at_least(1), default=1,
                   help=f"judge calls per response and requirement, each a fresh call past the cache (default 1, at "
                        f"most {MAX_REPEATS}); with epochs, `eudaimonia-nb noise` tells response noise from judge noise")


def repeat_settings(args: argparse.Namespace) -> dict[str, int]:
    """The ``RunConfig`` fields ``epochs`` and ``judge_repeats`` from ``add_repeat_arguments``' flags,
    checked (``ValueError`` names the flag); a command without ``--epochs`` leaves it out."""
    from ..judging.repeats import check_repeats

    settings = {"judge_repeats": args.judge_repeats}
    if hasattr(args, "epochs"):
        settings["epochs"] = args.epochs
    try:
        check_repeats(settings.get("epochs", 1), settings["judge_repeats"], where="flags")
    except ValueError as exc:
        raise ValueError(str(exc).replace("flags.epochs", "--epochs").replace("flags.judge_repeats", "--judge-repeats")) from None
    return settings
