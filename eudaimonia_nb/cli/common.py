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
