"""One run's violation rates, overall, per source and per requirement, as ``eudaimonia-nb rates``
prints them: each with its prompt-bootstrap interval, under the run's errors convention unless
told otherwise, with the flagged checks optionally set apart, the published figure the run is
compared with, its comparability field by field and a same-family note.
"""

from __future__ import annotations

import json
import math
import os

import pandas as pd

from ..benchmark.design_code import REQUIREMENT_KEYS, requirement
from ..benchmark.recipes import recipe_book
from ..store.results import list_runs, load_judgments
from .comparability import run_comparability
from .conventions import apply_convention, check_convention
from .families import same_family_note
from .flagged import flag_counts, flagged, set_flagged_apart
from .rates import bootstrap_rates
from .reducers import DEFAULT_REDUCER, has_repeats, reduce_repeats, repeat_counts

CI_METHOD = "percentile bootstrap over prompts (resampled within source), 95%"
"""How every interval of ``run_rates`` is made."""


def _number(value: object) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _count(value: float) -> int | float:
    """A count of violations: whole without repeats, a sum of per-check shares with the mean reducer."""
    return int(value) if float(value).is_integer() else round(float(value), 3)


def _cell(row: pd.Series) -> dict:
    return {"rate": _number(row["rate"]), "ci_low": _number(row["ci_low"]), "ci_high": _number(row["ci_high"]),
            "checks": int(row["n_checks"]), "violations": _count(row["n_violations"])}


def _grouped(frame: pd.DataFrame, unit: str, order: list[str], n_boot: int, seed: int) -> dict[str, dict]:
    table = bootstrap_rates(frame, unit, n_boot=n_boot, seed=seed).set_index(unit)
    return {key: _cell(table.loc[key]) for key in order if key in table.index}


def recorded_convention(parameters: str | None, protocol: str | None) -> str:
    """The errors convention a run recorded, else its protocol's default (``authors`` for the
    authors' protocol, ``apart`` otherwise)."""
    try:
        recorded = json.loads(parameters or "{}").get("errors_convention")
    except (json.JSONDecodeError, AttributeError):
        recorded = None
    return recorded or ("authors" if protocol == "authors" else "apart")


def run_rates(store_path: str | os.PathLike[str] | None, run_id: str, *, errors: str | None = None,
              exclude_flagged: bool = False, n_boot: int = 1000, seed: int = 0) -> dict:
    """The rates of one run as a JSON-ready dict.

    Keys: ``run_id``, ``model``, ``judge_model``, ``protocol``, ``recipe``, ``errors_convention``,
    ``exclude_flagged``, ``epochs`` / ``judge_repeats`` (the most a check had) and ``reducer`` (how
    they became one verdict per check, ``mean``; None without repeats), ``overall`` / ``by_source`` (``real``, ``modified``) / ``by_requirement``
    (requirement key) each with ``rate``, ``ci_low``, ``ci_high`` (fractions; None without judged
    checks), ``checks`` and ``violations`` (with repeats, the sum of the checks' mean verdicts);
    ``ci_method``; ``flagged`` (verdicts read doubtfully, each epoch and judge call counted:
    their number and per flag), ``excluded`` (checks without a verdict under the convention),
    ``published`` (the recipe's published rate, or None), ``comparability`` (``comparable`` and
    ``differences``) and ``same_family`` (a note, or None)."""
    runs = list_runs(store_path)
    row = runs[runs["run_id"] == run_id]
    if row.empty:
        raise KeyError(f"no run {run_id} in the store {store_path}")
    record = row.iloc[0]
    frame = load_judgments(store_path, [run_id])
    convention = check_convention(errors) if errors else recorded_convention(record["parameters"], record["protocol"])
    comparability = run_comparability(frame, row).iloc[0]
    # The convention and the flags are about each verdict; a run with epochs or judge repeats is
    # then reduced to one verdict per check (the mean of its verdicts), so every count is of checks.
    counted = apply_convention(frame, convention)
    flags = {"checks": int(flagged(counted).sum()), "by_flag": flag_counts(counted)}
    if exclude_flagged:
        counted = set_flagged_apart(counted)
    repeats = repeat_counts(counted)
    reducer = DEFAULT_REDUCER if has_repeats(counted) else None
    if reducer is not None:
        counted = reduce_repeats(counted, reducer)
    judged = counted.dropna(subset=["violation"])
    overall = _cell(bootstrap_rates(counted.assign(_all="all"), "_all", n_boot=n_boot, seed=seed).iloc[0])
    recipe = recipe_book().find(comparability["recipe"]) if comparability["recipe"] else None
    return {
        "run_id": run_id, "model": str(record["model"]), "judge_model": str(record["judge_model"]),
        "protocol": str(record["protocol"]), "recipe": comparability["recipe"], "errors_convention": convention,
        "exclude_flagged": exclude_flagged, "epochs": repeats["epochs"], "judge_repeats": repeats["judge_repeats"],
        "reducer": reducer, "overall": overall,
        "by_source": _grouped(counted, "source", ["real", "modified"], n_boot, seed),
        "by_requirement": _grouped(counted, "requirement", list(REQUIREMENT_KEYS), n_boot, seed),
        "ci_method": CI_METHOD, "flagged": flags, "excluded": int(len(counted) - len(judged)),
        "published": None if recipe is None else recipe.published_rate,
        "comparability": {"comparable": bool(comparability["comparable"]),
                          "differences": [{k: d[k] for k in ("field", "authors", "run", "severity", "label")}
                                          for d in comparability["differences"]]},
        "same_family": same_family_note(record["model"], record["judge_model"]),
    }


def _percent(cell: dict) -> str:
    if cell["rate"] is None:
        return f"no judged checks ({cell['checks']:,})"
    return (f"{100 * cell['rate']:5.1f}%  [{100 * cell['ci_low']:.1f}, {100 * cell['ci_high']:.1f}]  "
            f"{cell['violations']:,} of {cell['checks']:,} checks")


def rates_text(report: dict) -> str:
    """``run_rates`` as lines for a terminal."""
    lines = [f"run {report['run_id']}: {report['model']}, judge {report['judge_model']}, {report['protocol']} protocol, "
             f"errors convention {report['errors_convention']}"
             + (", flagged checks set apart" if report["exclude_flagged"] else ""),
             f"overall      {_percent(report['overall'])}"]
    if report["published"] is not None:
        lines.append(f"published    {100 * report['published']:5.1f}%  ({report['recipe']}, no interval published)")
    for source, cell in report["by_source"].items():
        lines.append(f"{source:<12} {_percent(cell)}")
    for key, cell in report["by_requirement"].items():
        lines.append(f"  {requirement(key).label:<40} {_percent(cell)}")
    lines.append(f"intervals: {report['ci_method']}; {report['excluded']:,} checks without a verdict left out")
    if report["reducer"]:
        lines.append(f"repeats: {report['epochs']} epochs x {report['judge_repeats']} judge calls per check, "
                     f"reduced by their {report['reducer']}")
    if report["flagged"]["checks"]:
        named = ", ".join(f"{n} {name}" for name, n in report["flagged"]["by_flag"].items() if n)
        lines.append(f"flagged: {report['flagged']['checks']:,} verdicts read doubtfully ({named})"
                     + ("" if report["exclude_flagged"] else "; --exclude-flagged sets them apart"))
    comparability = report["comparability"]
    breaks = [d["label"] for d in comparability["differences"] if d["severity"] == "breaks"]
    notes = [d["label"] for d in comparability["differences"] if d["severity"] == "note"]
    lines.append("comparable with the published figure" if comparability["comparable"]
                 else "not comparable: " + "; ".join(breaks))
    lines += [f"note: {n}" for n in notes]
    if report["same_family"]:
        lines.append(f"note: {report['same_family']}")
    return "\n".join(lines)
