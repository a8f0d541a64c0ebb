"""Is a run comparable with the published leaderboard, and if not, why not?

A run is *comparable* only when it used the ``authors`` protocol, the authors' judge and the
authors' generation and judge settings, covered the whole benchmark (969 prompts, 3,147 checks)
of the official file, and left at most 1% of its checks without a verdict. Every other run is
still shown, marked, with the reasons as short labels ("real prompts only: 95 of 969 prompts",
"in progress: 294 of 3,147 checks", "suite protocol", "judge gpt-4o"), and compared with the
published figure that matches its scope (a real-only run with the published real rate).

Comparability is a property of a whole run, so it is computed when the data is loaded (before
any filter) and carried in ``frame.attrs[COMPARABILITY_ATTR]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..benchmark.dataset import SOURCES
from ..benchmark.design_code import REQUIREMENT_KEYS
from ..paths import DATASET_SHA256
from ..store.results import PENDING
from .published import MODIFIED_CHECKS, REAL_CHECKS

COMPARABILITY_ATTR = "comparability"
"""``frame.attrs`` key of the per-run comparability records (a list of dicts)."""
BENCHMARK_PROMPTS: dict[str, int] = {"real": 322, "modified": 647}
"""Prompts per source in the official benchmark file."""
BENCHMARK_CHECKS = REAL_CHECKS + MODIFIED_CHECKS
MAX_UNJUDGED_SHARE = 0.01
"""At most this share of a run's checks may lack a verdict for it to stay comparable."""
AUTHORS_JUDGES = frozenset({"claude-opus-4.6", "claude-opus-4-6"})
"""The authors' judge (``anthropic/claude-opus-4.6`` on OpenRouter), by name without vendor prefix."""
AUTHORS_SETTINGS: Mapping[str, object] = {
    "temperature": 0.7, "max_tokens": 2048, "system_prompt": None, "judge_temperature": 0.0, "judge_max_tokens": 1024,
}
"""The authors' generation and judge settings for the models of the leaderboard."""
_SETTING_LABELS = {"temperature": "temperature {}", "max_tokens": "max tokens {}", "system_prompt": "system prompt",
                   "judge_temperature": "judge temperature {}", "judge_max_tokens": "judge max tokens {}"}


def is_authors_judge(judge_model: object) -> bool:
    return str(judge_model).strip().lower().rsplit("/", 1)[-1] in AUTHORS_JUDGES


def _scope(sources: set[str]) -> str:
    if sources == {"real"}:
        return "real"
    if sources == {"modified"}:
        return "modified"
    return "overall"


def run_comparability(frame: pd.DataFrame, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per run of ``frame`` (or per model, without ``run_id``): ``comparable``,
    ``reasons`` ("; "-joined labels, "" when comparable), ``compare_with`` (``overall``,
    ``real`` or ``modified``: the published figure of the same scope), ``status``
    (``complete``/``in progress``) and the counts behind the labels.

    ``runs`` is ``store.list_runs`` for data from a store (protocol, settings, dataset, end
    time); without it the protocol and judge come from the frame's columns when present and
    the settings are reported as not recorded.
    """
    unit = "run_id" if "run_id" in frame.columns else "model"
    records = {str(r["run_id"]): r for r in runs.to_dict("records")} if runs is not None and not runs.empty else {}
    rows = []
    for key, part in frame.groupby(unit, sort=False):
        record = records.get(str(key))
        rows.append(_one(str(key), part, record))
    return pd.DataFrame(rows, columns=["unit", "model", "comparable", "reasons", "compare_with", "status", "n_prompts",
                                       "n_checks", "n_results", "n_pending", "n_unjudged", "protocol", "judge_model",
                                       "rejudged_from"])


def _one(key: str, part: pd.DataFrame, record: Mapping | None) -> dict:
    labels: list[str] = []
    errors = part["error"].fillna("").astype(str) if "error" in part.columns else pd.Series("", index=part.index)
    pending = int((errors == PENDING).sum())
    n_checks = len(part)
    unjudged = int(part["violation"].isna().sum()) - pending
    finished = bool(record is not None and pd.notna(record.get("ended_at")))
    status = "in progress" if pending and not finished else "complete"
    if pending:
        labels.append(f"in progress: {n_checks - pending:,} of {n_checks:,} checks")
    protocol = (record or {}).get("protocol") or (part["protocol"].iloc[0] if "protocol" in part.columns else None)
    if protocol is None or (isinstance(protocol, float) and np.isnan(protocol)):
        labels.append("protocol not recorded")
    elif protocol != "authors":
        labels.append(f"{protocol} protocol")
    judge = (record or {}).get("judge_model") or (part["judge_model"].iloc[0] if "judge_model" in part.columns else None)
    if judge is None or (isinstance(judge, float) and np.isnan(judge)):
        labels.append("judge not recorded")
    elif not is_authors_judge(judge):
        labels.append(f"judge {judge}")
    labels += _settings_labels(record)
    sources = set(part["source"].astype(str))
    prompts = part.groupby("source")["prompt_id"].nunique().to_dict()
    n_prompts = int(sum(prompts.values()))
    full = sum(BENCHMARK_PROMPTS.values())
    scope = _scope(sources)
    if n_prompts < full:
        labels.append(f"{scope} prompts only: {n_prompts:,} of {full:,} prompts" if scope != "overall"
                      else f"subset: {n_prompts:,} of {full:,} prompts")
    elif n_checks < BENCHMARK_CHECKS:
        labels.append(f"subset: {n_checks:,} of {BENCHMARK_CHECKS:,} checks")
    if n_checks and unjudged / n_checks > MAX_UNJUDGED_SHARE:
        labels.append(f"no verdict for {unjudged / n_checks:.1%} of checks")
    if record is not None and str(record.get("dataset_sha256") or "") != DATASET_SHA256:
        labels.append("unofficial dataset file")
    if bool(part["smoke_test"].any()) if "smoke_test" in part.columns else False:
        labels.append("smoke test")
    return {"unit": key, "model": str(part["model"].iloc[0]), "comparable": not labels, "reasons": "; ".join(labels),
            "compare_with": scope, "status": status, "n_prompts": n_prompts, "n_checks": n_checks,
            "n_results": n_checks - pending, "n_pending": pending, "n_unjudged": unjudged,
            "protocol": None if "protocol not recorded" in labels else str(protocol),
            "judge_model": None if "judge not recorded" in labels else str(judge),
            "rejudged_from": (record or {}).get("rejudged_from")}


def _settings_labels(record: Mapping | None) -> list[str]:
    if record is None:
        return ["settings not recorded"]
    try:
        params = json.loads(record.get("parameters") or "{}")
    except json.JSONDecodeError:
        return ["settings not recorded"]
    labels = []
    for name, expected in AUTHORS_SETTINGS.items():
        value = params.get(name, expected)
        if value != expected and not (value == "" and expected is None):
            labels.append(_SETTING_LABELS[name].format(value))
    requirements = params.get("requirements")
    if requirements and set(requirements) != set(REQUIREMENT_KEYS):
        labels.append(f"requirements: {len(requirements)} of {len(REQUIREMENT_KEYS)}")
    return labels


def by_model(frame: pd.DataFrame) -> pd.DataFrame:
    """The comparability records carried by ``frame`` (see ``COMPARABILITY_ATTR``), indexed by
    the frame's ``model`` labels; computed from the frame itself when none are carried."""
    records = frame.attrs.get(COMPARABILITY_ATTR)
    table = pd.DataFrame(records) if records else run_comparability(frame)
    return table.drop_duplicates("model").set_index("model")


def annotate_rates(rates: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """Per-model rates with ``comparable``, ``not_comparable_because``, ``compare_with`` and
    ``n_pending`` (checks not judged yet, which are not judge errors: ``n_errors`` excludes them)."""
    table = by_model(frame)
    out = rates.copy()
    model = out["model"].astype(str)
    out["comparable"] = model.map(table["comparable"]).fillna(False).astype(bool)
    out["not_comparable_because"] = model.map(table["reasons"]).fillna("")
    out["compare_with"] = model.map(table["compare_with"]).fillna("overall")
    out["status"] = model.map(table["status"]).fillna("complete")
    pending = frame.assign(_p=frame["error"].fillna("").eq(PENDING)).groupby("model")["_p"].sum() \
        if "error" in frame.columns else pd.Series(dtype=float)
    out["n_pending"] = model.map(pending).fillna(0).astype(int)
    if "n_errors" in out.columns:
        out["n_errors"] = out["n_errors"] - out["n_pending"]
    out.attrs = dict(rates.attrs)
    return out


def scoped_published(board: pd.DataFrame, annotated: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """The published leaderboard rows (``report.published_rows``) with each loaded model's row
    holding the published figure of its scope: the real (or modified) rate for a run on real
    (or modified) prompts only, where the paper published one; none where it did not."""
    from .selection import normalise_model_name

    board = board.copy()
    board["scope"] = "overall"
    pair_by_key = pairs.assign(key=pairs["model"].map(normalise_model_name)).set_index("key")
    for row in annotated.itertuples(index=False):
        if row.compare_with == "overall":
            continue
        mask = board["row"].astype(str) == str(row.model)
        if not mask.any():
            continue
        key = normalise_model_name(str(board.loc[mask, "model"].iloc[0]))
        if key in pair_by_key.index:
            board.loc[mask, "overall"] = float(pair_by_key.loc[key, row.compare_with])
            board.loc[mask, "scope"] = row.compare_with
        else:
            board = board[~mask]
    return board.reset_index(drop=True)


def comparability_note(annotated: pd.DataFrame) -> str:
    """One HTML-free sentence per marked model, for section notes."""
    marked = annotated[~annotated["comparable"]]
    if marked.empty:
        return ("Every run shown is comparable with the published leaderboard (authors' protocol, judge and "
                "settings, the whole benchmark, at most 1% of checks without a verdict).")
    parts = [f"{m}: {r}" for m, r in zip(marked["model"], marked["not_comparable_because"])]
    text = "Not comparable with the published leaderboard (open markers): " + "; ".join(f"[{p}]" for p in parts) + "."
    scoped = marked["compare_with"].isin(SOURCES) if "compare_with" in marked.columns else pd.Series(False, index=marked.index)
    if scoped.any():
        text += (" A run on one source only sits beside the published rate of that source, where the paper "
                 "gives one (none otherwise).")
    if marked["not_comparable_because"].str.contains("subset:").any():
        # The paper published no figure for a subset: the diamond beside it is the whole benchmark's.
        text += (" A subset of prompts has no published figure of its own: the diamond beside it is the "
                 "published rate over all 969 prompts, a different scope.")
    return text


SOURCE_SCOPES = ("overall", *SOURCES)
"""The scopes a published comparison can have."""
