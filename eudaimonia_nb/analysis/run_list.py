"""The runs of a store, one JSON object each, with comparability field by field (``runs --json``)."""

from __future__ import annotations

import os

import pandas as pd

from ..store.results import load_judgments
from .comparability import run_comparability
from .run_rates import recorded_convention

RUN_KEYS = ("run_id", "model", "judge_model", "protocol", "errors_convention", "recipe", "checks", "verdicts", "errors",
            "smoke_test", "dataset_copy", "started_at", "ended_at", "rejudged_from", "comparability")
"""Keys of each object of ``runs --json``."""


def _time(value: object) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).isoformat()


def runs_json(store_path: str | os.PathLike[str] | None, runs: pd.DataFrame) -> list[dict]:
    """One object per run of ``runs`` (``store.list_runs``): ``RUN_KEYS``, where ``comparability``
    is ``{"comparable": bool, "differences": [{"field", "authors", "run", "severity", "label"}]}``."""
    if runs.empty:
        return []
    frame = load_judgments(store_path, list(runs["run_id"]))
    table = run_comparability(frame, runs).set_index("unit")
    out = []
    for row in runs.to_dict("records"):
        record = table.loc[row["run_id"]] if row["run_id"] in table.index else None
        differences = [] if record is None else [
            {k: d[k] for k in ("field", "authors", "run", "severity", "label")} for d in record["differences"]]
        out.append({
            "run_id": row["run_id"], "model": row["model"], "judge_model": row["judge_model"], "protocol": row["protocol"],
            "errors_convention": recorded_convention(row["parameters"], row["protocol"]),
            "recipe": None if record is None else record["recipe"], "checks": int(row["n_checks"]),
            "verdicts": int(row["n_verdicts"]), "errors": int(row["n_errors"]), "smoke_test": bool(row["smoke_test"]),
            "dataset_copy": row["dataset_copy"], "started_at": _time(row["started_at"]), "ended_at": _time(row["ended_at"]),
            "rejudged_from": row["rejudged_from"],
            "comparability": {"comparable": bool(record["comparable"]) if record is not None else False,
                              "differences": differences},
        })
    return out
