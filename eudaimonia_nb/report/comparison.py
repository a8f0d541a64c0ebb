"""What is said next to a number read against the published figures, as text: the authors' reading
beside the suite's, the rate with doubtful verdicts set apart, the same-family caution, and a
run's comparability field by field (for the leaderboard section, hence the dashboard and the
report, and for notebook 02's run table). Functions here return columns and sentences; the
widgets only place them.
"""

from __future__ import annotations

import html
import os

import pandas as pd

from ..analysis.comparability import differences_text, run_comparability
from ..analysis.conventions import ERRORS_AUTHORS, apply_convention
from ..analysis.families import family_of, same_family_notes
from ..benchmark.recipes import recipe_book
from ..analysis.flagged import flagged, flagged_note, set_flagged_apart
from ..analysis.rates import violation_rates


def authors_reading_columns(table: pd.DataFrame, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The leaderboard table with, per model, the rate read the authors' way (their errors
    convention: ``rate_authors_convention`` and its interval), the verdicts read doubtfully
    (``n_flagged``) and the rate with them set apart (``rate_flagged_apart``, same convention),
    and the same-family caution (``same_family_judge``); and the sentences to show beside it."""
    out = table.copy()
    authors = apply_convention(frame, ERRORS_AUTHORS)
    authors_way = violation_rates(authors, "model").set_index("model")
    for column in ("rate", "ci_low", "ci_high"):
        out[f"{column}_authors_convention"] = out["model"].map(authors_way[column])
    notes = []
    if "verdict_flags" in frame.columns:
        counts = authors.assign(_f=flagged(authors)).groupby("model")["_f"].sum()
        apart = violation_rates(set_flagged_apart(authors), "model").set_index("model")["rate"]
        out["n_flagged"] = out["model"].map(counts).fillna(0).astype(int)
        out["rate_flagged_apart"] = out["model"].map(apart)
        notes += [flagged_note(str(m), int(n), float(a), float(f)) for m, n, a, f in
                  zip(out["model"], out["n_flagged"], out["rate_authors_convention"], out["rate_flagged_apart"]) if n]
    family = same_family_notes(frame)
    # Looked up row by row: ``family`` is empty without judge models, ``map`` then gives float
    # NaN, and filling that with text warns under pandas 3 (and will raise).
    out["same_family_judge"] = [family.get(m, "") for m in out["model"]]
    notes += [f"{m}: {n}" for m, n in zip(out["model"], out["same_family_judge"]) if n]
    return out, notes


def published_family_note(published_models: pd.Series) -> str | None:
    """The same-family note for the published rates shown: the paper's judge judged its own family."""
    judge = recipe_book().judge.model
    family = family_of(judge)
    same = [str(m) for m in pd.unique(published_models.dropna()) if family and family_of(str(m)) == family]
    if not same:
        return None
    return (f"Same family: the published rates of {', '.join(same)} were judged by {judge}, a judge of their own "
            f"family ({family}); a judge may favour its own family's responses.")


def run_comparability_lines(store_path: str | os.PathLike[str], run_id: str) -> list[str]:
    """One run's comparability, field by field: what breaks it, then the notes (empty when the
    run is not in the store yet)."""
    from ..store.results import list_runs, load_judgments

    try:
        runs = list_runs(store_path)
    except (FileNotFoundError, OSError):
        return []
    runs = runs[runs["run_id"] == run_id]
    if runs.empty:
        return []
    record = run_comparability(load_judgments(store_path, [run_id]), runs).iloc[0].to_dict()
    lines = differences_text(record)
    head = "Comparable with the published figure" if record["comparable"] else "Not comparable with the published figure"
    recipe = f" (recipe {record['recipe']})" if record["recipe"] else " (no recipe for this model: the authors' defaults)"
    family = same_family_notes(load_judgments(store_path, [run_id]))
    return [head + recipe] + lines + [n for n in family.tolist() if n]


def comparability_html(store_path: str | os.PathLike[str], run_id: str) -> str:
    """``run_comparability_lines`` as a small HTML block (escaped)."""
    lines = run_comparability_lines(store_path, run_id)
    if not lines:
        return ""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines[1:])
    return f"<div class='run-comparability'><b>{html.escape(lines[0])}</b><ul>{items}</ul></div>"
