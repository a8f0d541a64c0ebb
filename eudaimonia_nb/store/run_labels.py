"""One label per run, the same everywhere: ``model · judge J · P protocol (· condition C)``.

A model judged in several runs (a rejudge by another judge, another protocol, a study
condition) must stay apart in every analysis, so each of its runs becomes a ``model`` of its
own. Its label names what differs in words a reader can use (the judge, the protocol, the
condition) rather than a run id; only when two runs would still read the same is the run id
appended. The run id stays in the ``run_id`` column (tables and hovers show it as a detail).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

SEPARATOR = " · "


def run_label(model: str, judge: str | None, protocol: str | None, condition: str | None = None) -> str:
    """``m · judge j2 · authors protocol`` (``· condition c`` when the run names one)."""
    parts = [str(model)]
    if judge:
        parts.append(f"judge {judge}")
    if protocol:
        parts.append(f"{protocol} protocol")
    if condition:
        parts.append(f"condition {condition}")
    return SEPARATOR.join(parts)


def label_runs(runs: pd.DataFrame) -> dict[str, str]:
    """Run id -> label for runs of one frame (columns ``run_id``, ``model``, ``judge_model``,
    ``protocol`` and optionally ``condition``): the bare model name for a model with one run,
    else ``run_label``, with ``· run ID`` appended where two runs of a model would read alike."""
    runs = runs.drop_duplicates("run_id")
    labels: dict[str, str] = {}
    for _model, part in runs.groupby("model", sort=False):
        if len(part) == 1:
            row = part.iloc[0]
            labels[str(row["run_id"])] = str(row["model"])
            continue
        named = {str(r["run_id"]): run_label(str(r["model"]), _text(r.get("judge_model")), _text(r.get("protocol")),
                                             _text(r.get("condition"))) for r in part.to_dict("records")}
        counts = pd.Series(list(named.values())).value_counts()
        for run_id, label in named.items():
            labels[run_id] = f"{label}{SEPARATOR}run {run_id}" if counts[label] > 1 else label
    return labels


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return str(value) or None


def relabel(frame: pd.DataFrame, conditions: Mapping[str, str | None] | None = None) -> pd.DataFrame:
    """``frame`` with ``model`` set to each run's label and ``model_name`` keeping the name the
    endpoint used (``conditions``: run id -> the run's study condition, where it has one)."""
    frame = frame.assign(model_name=frame["model"])
    if frame.empty or "run_id" not in frame.columns:
        return frame
    runs = frame[[c for c in ("run_id", "model", "judge_model", "protocol") if c in frame.columns]].drop_duplicates("run_id")
    runs = runs.assign(condition=runs["run_id"].map(dict(conditions or {})))
    labels = label_runs(runs)
    frame["model"] = frame["run_id"].map(labels).fillna(frame["model"])
    return frame
