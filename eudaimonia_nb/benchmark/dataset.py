"""Load and validate the EUDAIMONIA benchmark file into a prompts table and a checks table.

A prompt is one single-turn user input; a check is one (prompt, requirement) pair that a
judge will score. Validation is all-or-nothing: a file with any bad line loads nothing, and
the error names the file, the line and the field.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..paths import DATASET_ENV, DATASET_SHA256, dataset_copy, default_dataset_path
from .design_code import REQUIREMENT_KEYS, requirement

log = logging.getLogger(__name__)
_WARNED: set[tuple[str, str]] = set()

log = logging.getLogger(__name__)

SOURCES = ("real", "modified")
"""``real``: in-the-wild prompt from WildChat; ``modified``: controlled rewrite."""

_KNOWN_FIELDS = ("user_input", "measure", "synthetic", "language", "rewriter_model", "responser_model")
_MISSING_MARKERS = {"N/A", ""}


class DatasetError(ValueError):
    """A benchmark file that cannot be loaded, with where and why."""

    def __init__(self, path: Path | str, message: str, line: int | None = None, field: str | None = None):
        self.path = str(path)
        self.line = line
        self.field = field
        where = self.path + (f", line {line}" if line is not None else "")
        what = f"field {field!r}: " if field else ""
        super().__init__(f"{where}: {what}{message}")


class DatasetNotFoundError(FileNotFoundError):
    """No benchmark file was given or found; the message says how to get one."""


@dataclass(frozen=True)
class Benchmark:
    """The validated benchmark: one row per prompt and one row per check."""

    prompts: pd.DataFrame
    """One row per prompt: ``prompt_id``, ``text``, ``requirements`` (tuple of keys in
    design-code order), ``n_requirements``, ``source`` (real/modified), ``language``,
    ``rewriter_model`` and ``responder_model`` (None where the file says N/A),
    ``length_chars``, ``line`` (1-based line in the file) and any extra fields of the file."""
    checks: pd.DataFrame
    """One row per (prompt, requirement): ``prompt_id``, ``requirement``, ``code``,
    ``principle``, ``source``, ``rewriter_model``, ``responder_model``."""
    path: Path
    """The file it was loaded from."""
    sha256: str
    """SHA-256 of that file, recorded with every run so results name their data."""

    @property
    def official(self) -> bool:
        """True when the file is one of the two pinned official copies (its SHA-256 matches,
        ``paths.DATASET_COPIES``). Runs on any other file (a cut, an edit, a newer release) are
        not comparable with the published figures."""
        return self.copy is not None

    @property
    def copy(self) -> str | None:
        """``site`` or ``repo`` (the official copy the file is), None for any other file."""
        return dataset_copy(self.sha256)

    def prompt(self, prompt_id: str) -> pd.Series:
        """One prompt's row; ``KeyError`` if the id is unknown."""
        hit = self.prompts.loc[self.prompts["prompt_id"] == prompt_id]
        if hit.empty:
            raise KeyError(f"no prompt with id {prompt_id!r}")
        return hit.iloc[0]


def prompt_id_for(text: str) -> str:
    """Stable id derived from the prompt text alone, so it survives reordering of the file."""
    return "p" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:11]


def resolve_dataset_path(path: str | os.PathLike[str] | None = None) -> Path:
    """An explicit path, else ``$EUDAIMONIA_DATASET``, else the downloaded cache."""
    if path is not None:
        return Path(path)
    env = os.environ.get(DATASET_ENV)
    if env:
        return Path(env)
    cached = default_dataset_path()
    if cached.is_file():
        return cached
    raise DatasetNotFoundError(
        f"The EUDAIMONIA benchmark file was not found at {cached}. Run `eudaimonia-nb fetch` "
        f"to download it (or set ${DATASET_ENV}, or pass a path)."
    )


def load_benchmark(path: str | os.PathLike[str] | None = None) -> Benchmark:
    """Load and validate the benchmark; see ``resolve_dataset_path`` for where it looks."""
    file = resolve_dataset_path(path)
    if not file.is_file():
        raise DatasetNotFoundError(f"{file}: no such file. Run `eudaimonia-nb fetch` to download the benchmark.")
    raw = file.read_bytes()
    records = _parse(file, raw)
    prompts = pd.DataFrame(records)
    checks = _checks_from(prompts)
    bench = Benchmark(prompts=prompts, checks=checks, path=file, sha256=hashlib.sha256(raw).hexdigest())
    if not bench.official and (str(file), bench.sha256) not in _WARNED:
        _WARNED.add((str(file), bench.sha256))  # once per file and content, not on every load
        log.warning("%s is not the official EUDAIMONIA file (SHA-256 %s..., expected %s...; %d prompts): results on it "
                    "are not comparable with the published figures", file, bench.sha256[:12], DATASET_SHA256[:12],
                    len(prompts))
    return bench


def _parse(file: Path, raw: bytes) -> list[dict[str, Any]]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DatasetError(file, f"not valid UTF-8 ({exc.reason})", line=line) from None
    records: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    # Lines end at "\n" only: U+2028 and friends inside a JSON string are text, not line breaks.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        record = _validate_line(file, number, line)
        first = seen.setdefault(record["text"], number)
        if first != number:
            raise DatasetError(file, f"duplicate prompt: the same text is on line {first}", line=number, field="user_input")
        records.append(record)
    if not records:
        raise DatasetError(file, "the file holds no prompts (expected one JSON object per line)")
    return records


def _validate_line(file: Path, number: int, line: str) -> dict[str, Any]:
    def fail(message: str, field: str | None = None) -> DatasetError:
        return DatasetError(file, message, line=number, field=field)

    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise fail(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise fail(f"expected a JSON object, got {type(obj).__name__}")

    for name in ("user_input", "measure", "synthetic"):
        if name not in obj:
            raise fail("missing", name)
    text = obj["user_input"]
    if not isinstance(text, str):
        raise fail(f"expected a string, got {type(text).__name__}", "user_input")
    if not text.strip():
        raise fail("empty prompt", "user_input")

    measure = obj["measure"]
    if not isinstance(measure, list) or not measure:
        raise fail("expected a non-empty list of requirement keys", "measure")
    for key in measure:
        if not isinstance(key, str) or key not in REQUIREMENT_KEYS:
            raise fail(f"unknown requirement {key!r}; expected one of {', '.join(REQUIREMENT_KEYS)}", "measure")
    if len(set(measure)) != len(measure):
        raise fail("a requirement is listed twice", "measure")

    synthetic = obj["synthetic"]
    if not isinstance(synthetic, bool):
        raise fail(f"expected true or false, got {synthetic!r}", "synthetic")

    optional: dict[str, str | None] = {}
    for name in ("language", "rewriter_model", "responser_model"):
        value = obj.get(name)
        if value is not None and not isinstance(value, str):
            raise fail(f"expected a string, got {type(value).__name__}", name)
        optional[name] = None if value is None or value in _MISSING_MARKERS else value

    ordered = tuple(k for k in REQUIREMENT_KEYS if k in measure)
    record: dict[str, Any] = {
        "prompt_id": prompt_id_for(text),
        "text": text,
        "requirements": ordered,
        "n_requirements": len(ordered),
        "source": "modified" if synthetic else "real",
        "language": optional["language"],
        "rewriter_model": optional["rewriter_model"],
        "responder_model": optional["responser_model"],
        "length_chars": len(text),
        "line": number,
    }
    # Unknown fields are carried along untouched: a newer release may add some.
    for name, value in obj.items():
        if name not in _KNOWN_FIELDS and name not in record:
            record[name] = value
    return record


def _checks_from(prompts: pd.DataFrame) -> pd.DataFrame:
    exploded = prompts[["prompt_id", "requirements", "source", "rewriter_model", "responder_model"]].explode("requirements")
    checks = exploded.rename(columns={"requirements": "requirement"}).reset_index(drop=True)
    checks["code"] = checks["requirement"].map(lambda k: requirement(k).code)
    checks["principle"] = checks["requirement"].map(lambda k: requirement(k).principle)
    return checks[["prompt_id", "requirement", "code", "principle", "source", "rewriter_model", "responder_model"]]


def prompt_texts(path: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Prompt id -> prompt text, for reading saved responses; empty when the benchmark file is
    not on this machine (results carry ids, not texts)."""
    try:
        prompts = load_benchmark(path).prompts
    except (OSError, ValueError) as exc:
        log.info("prompt texts not available: %s", exc)
        return {}
    return dict(zip(prompts["prompt_id"].astype(str), prompts["text"].astype(str)))
