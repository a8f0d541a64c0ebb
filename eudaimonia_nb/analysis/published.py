"""The paper's published figures, transcribed into ``data/published/*.csv``.

The files store percentages exactly as published (``*_pct`` columns) with a ``source`` column
naming where each number came from and an ``approximate`` flag (the per-requirement averages
were read off a bar chart). The loaders add the same numbers as fractions (``overall``,
``real``, ``modified``) so they line up with the suite's rates, and map the published
requirement labels to design-code keys.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..benchmark.design_code import REQUIREMENTS
from ..paths import published_dir

LEADERBOARD_FILE = "leaderboard.csv"
PAIRS_FILE = "real_modified_pairs.csv"
REQUIREMENT_AVERAGES_FILE = "requirement_averages.csv"

REAL_CHECKS = 960
"""In-the-wild checks in the benchmark: the weight of a published real rate."""
MODIFIED_CHECKS = 2187
"""Rewritten checks in the benchmark: the weight of a published modified rate."""


def _read(name: str, columns: tuple[str, ...], directory: Path | None) -> pd.DataFrame:
    path = (directory or published_dir()) / name
    frame = pd.read_csv(path)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(columns)}")
    frame["approximate"] = frame["approximate"].astype(str).str.lower().eq("true")
    for column in [c for c in columns if c.endswith("_pct")]:
        frame[column.removesuffix("_pct")] = frame[column] / 100.0
    return frame


def leaderboard(directory: Path | None = None) -> pd.DataFrame:
    """The 22-model leaderboard: ``rank``, ``model``, ``family``, ``overall_pct``, ``overall``."""
    return _read(LEADERBOARD_FILE, ("rank", "model", "family", "overall_pct", "approximate", "source"), directory)


def real_modified_pairs(directory: Path | None = None) -> pd.DataFrame:
    """The seven published real/modified pairs: ``model``, ``real_pct``, ``modified_pct``
    (and ``real``, ``modified`` as fractions)."""
    return _read(PAIRS_FILE, ("model", "real_pct", "modified_pct", "approximate", "source"), directory)


def _key_for_label(label: str, path: str) -> str:
    # Published labels read "Name (code)"; match both against the design code, never re-typed.
    for req in REQUIREMENTS:
        if label.strip() == f"{req.name} ({req.code})":
            return req.key
    raise ValueError(f"{path}: requirement label {label!r} matches no design-code requirement "
                     f"(expected 'Name (code)', e.g. {REQUIREMENTS[0].name!r} ({REQUIREMENTS[0].code}))")


def requirement_averages(directory: Path | None = None) -> pd.DataFrame:
    """Per-requirement real/modified averages over the 22 models (approximate): ``requirement``
    (key), ``published_label``, ``real_pct``, ``modified_pct``, ``real``, ``modified``."""
    frame = _read(REQUIREMENT_AVERAGES_FILE,
                  ("published_label", "real_pct", "modified_pct", "approximate", "source"), directory)
    where = str((directory or published_dir()) / REQUIREMENT_AVERAGES_FILE)
    frame.insert(0, "requirement", [_key_for_label(label, where) for label in frame["published_label"]])
    return frame


def pairs_weighted_overall(pairs: pd.DataFrame | None = None) -> pd.Series:
    """Overall rate (fraction) implied by each published pair, weighting real and modified by
    the benchmark's 960 and 2,187 checks; indexed by model."""
    pairs = real_modified_pairs() if pairs is None else pairs
    overall = (REAL_CHECKS * pairs["real"] + MODIFIED_CHECKS * pairs["modified"]) / (REAL_CHECKS + MODIFIED_CHECKS)
    return pd.Series(overall.to_numpy(), index=pairs["model"].to_numpy(), name="overall")
