"""Conditions of a study: a named treatment (usually a system prompt) under which a model is run.

Runs of one model under different conditions over the same prompts form a study; the paired
analysis is ``eudaimonia_nb.analysis.conditions``. Here live the run-side pieces: the rule for
condition names, reading a system prompt from a file, and the SHA-256 that identifies it in a
run's identity (so two runs that differ only in their system prompt never share an id or a
cached answer, and the store says which prompt a run used without repeating it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pandas as pd

CONDITION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
"""A condition name: a letter or digit, then up to 63 letters, digits, ``_``, ``.`` or ``-``
(it is shown in tables, file names and command lines)."""
NO_CONDITION = "none"
"""The condition of a run that names none (the authors' protocol: no system prompt)."""
MAX_SYSTEM_PROMPT_CHARS = 100_000
"""A system prompt file larger than this is almost certainly the wrong file."""


def check_condition(name: str | None) -> str | None:
    """``name`` if it is a valid condition name (or None); else a ValueError saying why."""
    if name is None:
        return None
    if not isinstance(name, str) or not CONDITION_PATTERN.fullmatch(name):
        raise ValueError(f"condition {name!r}: expected 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit")
    return name


def read_system_prompt(path: str | os.PathLike[str]) -> str:
    """The system prompt held by a UTF-8 text file (surrounding whitespace removed).

    Errors name the file and what was expected: a missing file, a directory, bytes that are not
    UTF-8 (with the line), an empty file or one too large to be a prompt."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ValueError(f"{file}: no such file (expected a UTF-8 text file holding the system prompt)")
    data = file.read_bytes()
    if len(data) > 4 * MAX_SYSTEM_PROMPT_CHARS:
        raise ValueError(f"{file}: {len(data):,} bytes; expected a system prompt of at most {MAX_SYSTEM_PROMPT_CHARS:,} characters")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValueError(f"{file}, line {line}: byte {data[exc.start]:#04x} is not UTF-8; expected UTF-8 text") from None
    text = text.strip()
    if not text:
        raise ValueError(f"{file}: the file is empty; expected the text of a system prompt")
    if len(text) > MAX_SYSTEM_PROMPT_CHARS:
        raise ValueError(f"{file}: {len(text):,} characters; expected a system prompt of at most {MAX_SYSTEM_PROMPT_CHARS:,}")
    return text


def system_prompt_sha256(text: str | None) -> str | None:
    """SHA-256 (hex) of a system prompt's UTF-8 text; None without one."""
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def study_judgments(store_path: str | os.PathLike[str] | None = None, run_ids: list[str] | None = None) -> pd.DataFrame:
    """The store's judgments with each run's ``condition`` (``NO_CONDITION`` for runs that name
    none) and ``model`` set back to the endpoint's name, so that the runs of one model under
    different conditions pair up (``analysis.conditions``).

    Two runs of one model under the same condition would count its checks twice: that raises a
    ValueError naming both runs (pick one with ``run_ids``)."""
    from ..store.results import list_runs, load_judgments

    frame = load_judgments(store_path, run_ids)
    runs = list_runs(store_path).set_index("run_id")
    condition = {run_id: (json.loads(runs.at[run_id, "parameters"]).get("condition") or NO_CONDITION)
                 for run_id in frame["run_id"].unique()}
    frame = frame.assign(model=frame["model_name"], condition=frame["run_id"].map(condition))
    per_cell = frame.drop_duplicates("run_id").groupby(["model", "condition"])["run_id"].agg(list)
    for (model, cond), ids in per_cell.items():
        if len(ids) > 1:
            raise ValueError(f"model {model!r} has {len(ids)} runs under condition {cond!r} ({', '.join(ids)}); "
                             "expected one run per model and condition: select runs with --run")
    return frame
