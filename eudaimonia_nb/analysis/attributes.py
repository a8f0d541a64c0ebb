"""Model attributes for the paper's analyses: family and generation, thinking, budget, scale.

``data/published/model_attributes.csv`` holds, for the 22 leaderboard models (and the four
thinking-budget variants of Claude Opus 4.6 the paper studied, whose rates are not published),
each attribute next to its source (``<attribute>_source``). Only what the suite can support is
filled in: the family from the leaderboard, version and parameter count where the model's
public name states them, the thinking flag of the leaderboard rows from the authors' list of
thinking models (their artifact), the thinking budgets from the paper's protocol. Everything
else (open weights) is left empty, never guessed; a user can pass their own attribute table
(same columns) for the models they run.

``attribute_rates`` joins attributes to rates: the published overall rates (no intervals; the
paper reports none) or the user's runs (prompt-bootstrap intervals from ``rates.model_rates``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..paths import published_dir
from .published import leaderboard
from .rates import model_rates

ATTRIBUTES_FILE = "model_attributes.csv"
ATTRIBUTES = ("family", "tier", "version", "generation", "thinking", "thinking_budget", "open_weights", "parameters_b")
"""Attribute columns; each has a ``<name>_source`` column saying where its values come from."""
BUDGET_ORDER = ("0", "2k", "5k", "10k")
"""The thinking budgets the paper names, in order (as published: "2k" is not resolved to a
token count the paper does not state)."""
RATE_KINDS = ("published", "your runs")
"""Where a rate in ``attribute_rates`` comes from."""


def _flag(values: pd.Series) -> pd.Series:
    lowered = values.astype("string").str.strip().str.lower()
    return lowered.map({"true": True, "false": False}).astype("boolean")


def load_attributes(path: str | Path | None = None) -> pd.DataFrame:
    """The attribute table, typed: ``on_leaderboard``/``thinking``/``open_weights`` nullable
    booleans, ``version``/``generation``/``parameters_b`` floats (NaN where unknown),
    ``thinking_budget`` text as published. Raises ValueError naming the file, row (file line)
    and column when a value has no source or a column is missing."""
    file = Path(path) if path is not None else published_dir() / ATTRIBUTES_FILE
    frame = pd.read_csv(file, dtype=str, keep_default_na=False)
    expected = ["model", "on_leaderboard"] + [c for a in ATTRIBUTES for c in (a, f"{a}_source")]
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise ValueError(f"{file}: missing column(s) {', '.join(missing)}")
    for attribute in ATTRIBUTES:
        unsourced = frame[attribute].str.strip().ne("") & frame[f"{attribute}_source"].str.strip().eq("")
        if unsourced.any():
            row = int(np.flatnonzero(unsourced)[0])
            raise ValueError(f"{file}, line {row + 2}: column {attribute!r}: value "
                             f"{frame[attribute].iloc[row]!r} has no source; expected {attribute}_source")
    out = frame.copy()
    for column in ("on_leaderboard", "thinking", "open_weights"):
        out[column] = _flag(out[column])
    for column in ("version", "generation", "parameters_b"):
        out[column] = pd.to_numeric(out[column].replace("", np.nan), errors="raise")
    out["thinking_budget"] = out["thinking_budget"].replace("", pd.NA)
    return out


def attribute_rates(frame: pd.DataFrame | None = None, attributes: pd.DataFrame | None = None, *,
                    n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Attributes joined to rates, one row per model with a rate or an attribute row.

    ``frame`` None: the published leaderboard rates (``rate_kind`` ``published``, intervals
    NaN). A judgments frame: its models' prompt-bootstrap rates (``your runs``), matched to
    attribute rows by model name; models without attributes keep NaN attributes. Attribute rows
    without any rate (the thinking-budget variants) are kept with ``rate`` NaN, so a figure can
    say that the number is not published."""
    attrs = load_attributes() if attributes is None else attributes
    if frame is None:
        board = leaderboard()[["model", "overall"]].rename(columns={"overall": "rate"})
        rates = board.assign(ci_low=np.nan, ci_high=np.nan, rate_kind=RATE_KINDS[0])
    else:
        rates = model_rates(frame, n_boot=n_boot, seed=seed)[["model", "rate", "ci_low", "ci_high"]]
        rates = rates.assign(rate_kind=RATE_KINDS[1])
    keep = ["model"] + [c for c in attrs.columns if c != "model"]
    out = rates.merge(attrs[keep], on="model", how="outer" if frame is None else "left")
    out["rate_kind"] = out["rate_kind"].fillna(RATE_KINDS[0] if frame is None else RATE_KINDS[1])
    return out.reset_index(drop=True)


def budget_rank(budget: pd.Series) -> pd.Series:
    """Position of each published budget label in ``BUDGET_ORDER`` (NaN when not one)."""
    order = {b: i for i, b in enumerate(BUDGET_ORDER)}
    return budget.map(lambda b: order.get(str(b), np.nan) if pd.notna(b) else np.nan).astype(float)
