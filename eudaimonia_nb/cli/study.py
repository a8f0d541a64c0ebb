"""``eudaimonia-nb study``: paired condition effects of the runs in a results store.

JSON output is one object ``{"effects": [...]}`` with one row per model and pair of conditions
(``condition_a`` sorted first; ``diff`` = rate_b - rate_a; fractions; ``p_holm`` adjusted across
the rows). Text output adds the pooled effect, the effect per requirement and the mixed model's
condition odds ratios.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TYPE_CHECKING

from .common import at_least

if TYPE_CHECKING:
    import pandas as pd


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``study`` on the console script's subparsers."""
    p = sub.add_parser("study", help="paired condition effects of runs of one model under several conditions")
    p.add_argument("--store", default=None, help="results store (default data/results.sqlite)")
    p.add_argument("--run", action="append", default=[], help="run id to include (repeatable; default: all runs)")
    p.add_argument("--format", choices=("json", "text"), default="text", help="output format (default text)")
    p.add_argument("--n-boot", type=at_least(1), default=1000, help="bootstrap replicates for intervals (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.set_defaults(handler=run)


def _number(value: object) -> object:
    # JSON has no NaN: a rate or p that cannot be computed is null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def effects_json(effects: pd.DataFrame) -> dict[str, list[dict[str, object]]]:
    """The ``{"effects": [...]}`` object of ``--format json``."""
    from ..analysis.conditions import EFFECT_COLUMNS

    records = effects[list(EFFECT_COLUMNS)].to_dict(orient="records")
    return {"effects": [{k: _number(v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in records]}


def effects_text(frame: pd.DataFrame, effects: pd.DataFrame, n_boot: int, seed: int) -> str:
    """A plain-text study report: per model, pooled, per requirement, mixed model."""
    from ..analysis.conditions import (check_condition_model, condition_odds_ratios, fit_condition_model, paired_effects,
                                       pooled_effects)

    def pct(table: pd.DataFrame) -> pd.DataFrame:
        out = table.copy()
        for column in ("rate_a", "rate_b", "diff", "ci_low", "ci_high"):
            out[column] = (100 * out[column]).round(1)
        for column in ("p_value", "p_holm"):
            out[column] = out[column].map(lambda p: f"{p:.2g}")
        return out.drop(columns=[c for c in ("se", "n_prompts") if c in out.columns])

    parts = ["Paired condition effects (percentage points; diff = b - a; 95% prompt-bootstrap interval; "
             "p_holm across models)", pct(effects).to_string(index=False)]
    if effects["model"].nunique() > 1:
        parts += ["", "All models pooled", pct(pooled_effects(frame, n_boot=n_boot, seed=seed)).to_string(index=False)]
    by_req = paired_effects(frame, by="requirement", n_boot=n_boot, seed=seed)
    parts += ["", "Per requirement (p_holm across models x requirements; McNemar exact where each prompt gives one check)", pct(by_req).to_string(index=False)]
    try:
        fit = fit_condition_model(frame)
        parts += ["", f"Mixed model, a cross-check of the paired effects above: {fit.formula} (converged: "
                  f"{fit.converged})", condition_odds_ratios(fit).to_string(index=False, float_format=lambda x: f"{x:.3g}")]
        parts += [f"WARNING: {w.strip()}" for w in fit.message.split("; WARNING: ")[1:]]
        check = check_condition_model(frame, n_boot=n_boot, seed=seed)
        parts += [f"{row.condition_b} vs {row.condition_a}: {row.note}" for row in check.itertuples()]
    except ValueError as exc:
        parts += ["", f"Mixed model not fitted: {exc}"]
    if "smoke_test" in frame.columns and frame["smoke_test"].any():
        parts.insert(0, "[SMOKE TEST: some runs used the local smoke-test model; not research results]")
    return "\n".join(parts)


def run(args: argparse.Namespace) -> int:
    """The ``study`` handler: exit 0 with the effects, 1 with a one-line error."""
    import sqlite3

    from ..analysis.conditions import paired_effects
    from ..analysis.reducers import reduce_repeats
    from ..judging.conditions import study_judgments

    try:
        # Runs with epochs or judge repeats count each check once, as the mean of its verdicts.
        frame = reduce_repeats(study_judgments(args.store, args.run or None))
        effects = paired_effects(frame, n_boot=args.n_boot, seed=args.seed)
        text = (json.dumps(effects_json(effects), indent=2) if args.format == "json"
                else effects_text(frame, effects, args.n_boot, args.seed))
    except (OSError, ValueError, KeyError, sqlite3.Error) as exc:
        message = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"error: {message}", file=sys.stderr)
        return 1
    print(text)
    return 0
