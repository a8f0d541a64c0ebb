"""Files the suite writes for people to share: one guard before any file is replaced, and one
neutralisation of spreadsheet formulas in every CSV.

``check_output`` is called by every writer (``export``, ``labels export``, ``report`` and any
later ``--out``) before it writes. It refuses, naming the path and what it is:

* the file being read (the results store), its ``-wal``/``-shm``/``-journal`` files, or a file that
  shares its inode (a hard or symbolic link);
* any SQLite database, and the ``-wal``, ``-shm`` or ``-journal`` file beside one (replacing a
  store with a 600-byte CSV loses every run, response, verdict and label in it);
* a directory;
* an existing file of another format than the one being written, unless ``force`` (a report
  written over ``results.parquet``, a CSV over a notebook). A file of the same format (an
  earlier export) or an empty file is replaced without asking, as before.

``csv_safe`` (used by ``write_csv``) prefixes ``'`` to every text cell that begins with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return, so a spreadsheet shows the text instead of evaluating it (OWASP's
"CSV injection" advice): model responses and other people's label notes are text nobody here
controls. ``restore_cells`` undoes exactly that when the suite reads such a file back.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

SQLITE_MAGIC = b"SQLite format 3\x00"
_WAL_MAGIC = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
"""Files SQLite keeps beside a database (write-ahead log, its index, the rollback journal)."""
_SNIFF_BYTES = 1 << 16

FORMAT_NAMES = {
    "sqlite": "an SQLite database (a results store?)",
    "sqlite-side": "the write-ahead log or journal of an SQLite database",
    "parquet": "a Parquet file",
    "zip": "a ZIP archive (an Excel workbook or notebook bundle?)",
    "html": "an HTML page",
    "jsonl": "a JSON Lines file",
    "json": "a JSON document",
    "csv": "a CSV file",
    "text": "a text file of no format the suite writes",
    "binary": "a binary file",
    "empty": "an empty file",
}
"""What each ``sniff`` answer is, in the words of an error message."""

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""Leading characters that make a spreadsheet read a cell as a formula (OWASP)."""
NEUTRALISER = "'"
"""Put before such a cell: spreadsheets show the rest as text and hide the quote."""


class OutputRefusedError(ValueError):
    """A path a writer will not write to; the message names the path, what it is and what to do."""


# ---------------------------------------------------------------------------- the writers' guard

def sniff(path: Path) -> str:
    """What an existing file is, from its first bytes: a key of ``FORMAT_NAMES``."""
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
        truncated = bool(handle.read(1))
    if not head:
        return "empty"
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head[:4] in _WAL_MAGIC:
        return "sqlite-side"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if b"\x00" in head:
        return "binary"
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=not truncated)
    except UnicodeDecodeError:
        return "binary"
    start = text.lstrip()[:15].lower()
    if start.startswith(("<!doctype html", "<html")):
        return "html"
    if start.startswith(("{", "[")):
        first = text.split("\n", 1)[0]
        try:
            return "jsonl" if isinstance(json.loads(first), dict) else "json"
        except ValueError:
            return "json"
    return "csv" if _looks_like_csv(text, truncated) else "text"


def _looks_like_csv(text: str, truncated: bool) -> bool:
    """Every complete record has the same number (>= 2) of fields, as in a table the suite wrote."""
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        return False
    if truncated and len(records) > 1:
        records = records[:-1]  # the last one may be cut at the sniffing limit
    widths = {len(r) for r in records if r}
    return len(widths) == 1 and widths.pop() >= 2


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _side_file_of(path: Path) -> Path | None:
    """The database a ``-wal``/``-shm``/``-journal`` name belongs to, if that database exists."""
    for suffix in SQLITE_SIDE_FILES:
        if path.name.endswith(suffix):
            base = path.with_name(path.name[: -len(suffix)])
            if base.is_file() and sniff(base) == "sqlite":
                return base
    return None


def check_output(out: str | os.PathLike[str], *, fmt: str, reading: Iterable[str | os.PathLike[str] | None] = (),
                 force: bool = False) -> Path:
    """``out`` as a ``Path`` when writing a ``fmt`` file there is safe; else ``OutputRefusedError``.

    ``fmt`` is a key of ``FORMAT_NAMES`` (``csv``, ``jsonl``, ``parquet``, ``html``); ``reading``
    the results store(s) the writer reads from; ``force`` allows replacing a file of another
    format (never a store or any SQLite file).
    """
    target = Path(out)
    shown = str(target)
    for store in (Path(s) for s in reading if s is not None):
        for suffix in ("", *SQLITE_SIDE_FILES):
            near = store.with_name(store.name + suffix)
            if _same_file(target, near) or target.resolve() == near.resolve():
                what = "the file this command reads" if not suffix else f"the {suffix[1:]} file of the file this command reads"
                raise OutputRefusedError(f"{shown} is {what} ({store}); writing there would destroy it. "
                                         f"Choose another output file (e.g. --out results.{fmt})")
    base = _side_file_of(target)
    if base is not None:
        raise OutputRefusedError(f"{shown} belongs to the SQLite database {base} (its {target.name[len(base.name) + 1:]} "
                                 f"file); writing there would damage it. Choose another output file")
    if target.is_dir():
        raise OutputRefusedError(f"{shown} is a directory; expected a file name for the {fmt} output")
    if not target.exists():
        return target
    kind = sniff(target)
    if kind in ("sqlite", "sqlite-side"):
        raise OutputRefusedError(f"{shown} exists and is {FORMAT_NAMES[kind]}; the suite never writes over one "
                                 f"(--force does not apply). Choose another output file, or delete it yourself first")
    if kind not in ("empty", fmt) and not force:
        raise OutputRefusedError(f"{shown} exists and is {FORMAT_NAMES[kind]}, not {FORMAT_NAMES.get(fmt, fmt)}; "
                                 f"choose another output file, or pass --force to replace it")
    return target


# ---------------------------------------------------------------------------- CSV cells

def neutralise_cell(value: object) -> object:
    """``value`` with ``'`` put before it when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return NEUTRALISER + value
    return value


def restore_cell(value: object) -> object:
    """The inverse of ``neutralise_cell``: a ``'`` before a formula character is dropped."""
    if isinstance(value, str) and value.startswith(NEUTRALISER) and value[1:2] and value[1] in FORMULA_PREFIXES:
        return value[1:]
    return value


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells are neutralised (numbers stay numbers: ``-0.5`` is a
    number in a float column and is left alone)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column].dtype):
            out[column] = out[column].map(neutralise_cell)
    out.columns = [neutralise_cell(c) for c in out.columns]
    return out


def restore_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a frame read from a neutralised CSV with its text cells as they were."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column].dtype):
            out[column] = out[column].map(restore_cell)
    return out


def write_csv(frame: pd.DataFrame, path: str | os.PathLike[str], *, raw: bool = False) -> None:
    """The suite's CSV: ``csv_safe`` cells (unless ``raw``) and RFC 4180 CRLF line ends, which
    also make the writer quote any field holding a lone carriage return (with ``\n`` line ends it
    would be written bare and split the record when read back)."""
    (frame if raw else csv_safe(frame)).to_csv(path, index=False, lineterminator="\r\n")
