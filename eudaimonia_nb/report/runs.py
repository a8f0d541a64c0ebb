"""What was run, in words a shared report may carry: the run records, the protocol, the notices.

Data loaded from a results store carries one small record per run (``RUNS_ATTR``): a short
protocol summary, the shareable settings, endpoint hosts (never URLs with paths or queries, nor
key variable names), package version, smoke-test flag and whether the run finished. From those
(or, for data without run records, from the published protocol) this module writes the run
table, the protocol note of *Data & methods* and the report summary, and the notices every tab
and the report must carry.
"""

from __future__ import annotations

import html
import json

import pandas as pd

from ..analysis.frames import is_simulated
from ..formatting import plural

RUNS_ATTR = "run_records"
"""``frame.attrs`` key of the run records (protocol, judge) of data loaded from a store."""

SMOKE_TEST_NOTICE = (
    "Smoke-test data: some runs used the local smoke-test model; their verdicts check the "
    "machinery and are not research results."
)
UNOFFICIAL_DATA_NOTICE = (
    "Unofficial benchmark file: some runs used a file that is not the pinned official release "
    "(a cut, an edit or another version); they are not comparable with the published figures."
)
SIMULATED_NOTICE = (
    "Simulated data: these numbers come from the embedded demo, simulated to match the "
    "published figures. They are not judgments of real model responses."
)

PUBLISHED_PROTOCOL = (
    "single-turn, the user prompt only, temperature 0.7, at most 2,048 output tokens, one sample "
    "per prompt; judge Claude Opus 4.6 at temperature 0, one call per (prompt, requirement) with "
    "that requirement's rubric; only the requirements labelled on a prompt are judged")
"""The paper's protocol, for data that carries no run records (the demo, a results file)."""
_ERRORS_NOTE = "Unparseable judge answers count as errors here (the authors counted them as 'no violation')."


def protocol_records(runs: pd.DataFrame) -> list[dict[str, object]]:
    """What each run did, from ``store.list_runs``: a short protocol summary (settings that
    differ from the authors', the subset), the shareable settings, the endpoint's host (never
    its full URL, which may carry credentials or paths), package version, smoke-test flag and
    whether the run has finished."""
    from ..judging.run_protocols import host, protocol_summary, shareable_settings

    records = []
    for run in runs.to_dict("records"):
        try:
            settings = json.loads(run.get("parameters") or "{}")
        except json.JSONDecodeError:
            settings = {}
        records.append({
            "run_id": str(run["run_id"]),
            "protocol": protocol_summary(settings, smoke_test=bool(run.get("smoke_test"))),
            "settings": shareable_settings(settings),
            "endpoint": host(run.get("base_url")),
            "judge_endpoint": host(run.get("judge_base_url")),
            "package_version": str(run.get("package_version") or ""),
            "smoke_test": bool(run.get("smoke_test")),
            "finished": bool(pd.notna(run.get("ended_at"))),
            "dataset_official": bool(run.get("dataset_official", True)),
        })
    return records


def run_records(frame: pd.DataFrame) -> pd.DataFrame:
    """Runs in the data with their model, judge, check and error counts, and, for data from a
    store, the protocol from the run records (empty without ``run_id``)."""
    if "run_id" not in frame.columns:
        return pd.DataFrame()
    keys = [c for c in ("run_id", "model", "judge_model") if c in frame.columns]
    grouped = frame.groupby(keys, dropna=False)
    out = pd.DataFrame({"checks": grouped.size(),
                        "judge_errors": grouped["error"].apply(lambda e: int((e.fillna("") != "").sum()))}
                       ).reset_index()
    out["coverage"] = [f"{int(v):,} of {int(c):,} judged" for v, c in
                       zip(grouped["violation"].count().to_numpy(), out["checks"])]
    records = frame.attrs.get(RUNS_ATTR)
    if records:
        # The settings go in a folded line under the table, not in a cell of it.
        out = out.merge(pd.DataFrame(records).drop(columns=["settings"], errors="ignore"), on="run_id", how="left")
    return out


def notices(frame: pd.DataFrame) -> list[str]:
    """Warnings every tab and the report must carry: simulated data, smoke-test runs."""
    found = [SIMULATED_NOTICE] if is_simulated(frame) else []
    if "smoke_test" in frame.columns and bool(frame["smoke_test"].fillna(False).astype(bool).any()):
        found.append(SMOKE_TEST_NOTICE)
    if any(not r.get("dataset_official", True) for r in frame.attrs.get(RUNS_ATTR) or ()):
        found.append(UNOFFICIAL_DATA_NOTICE)
    return found


def rubric_version_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Checks per requirement and rubric version (empty when versions are not recorded)."""
    if "rubric_version" not in frame.columns:
        return pd.DataFrame()
    return (frame.groupby(["requirement", "rubric_version"], dropna=False).size()
            .rename("checks").reset_index())


def protocol_text(records: pd.DataFrame, frame: pd.DataFrame) -> str:
    """The protocol in a few HTML-escaped sentences, without heading or folded settings: per
    (protocol, judge) from the run records, or the published protocol for data without them;
    the report's summary shows it as it is, *Data & methods* inside ``protocol_note``."""
    if "protocol" not in records.columns:
        origin = ("The demo simulates the published study" if is_simulated(frame)
                  else "This data carries no run records (a results file); the published study used")
        return f"{origin}: {PUBLISHED_PROTOCOL}. {_ERRORS_NOTE}"
    lines = []
    for (protocol, judge), runs in records.groupby(["protocol", "judge_model"], dropna=False):
        lines.append(f"{html.escape(str(protocol))}, judge {html.escape(str(judge))} "
                     f"({plural(runs['run_id'].nunique(), 'run')})")
    text = "; ".join(lines) + "."
    unfinished = records.loc[~records["finished"].astype(bool), "run_id"].unique()
    if len(unfinished):
        text += (f" Still running or interrupted: {html.escape(', '.join(map(str, unfinished)))} "
                 "(checks not judged yet are neither verdicts nor judge errors; <b>Load / refresh</b> picks up "
                 "new verdicts).")
    return f"{text} {_ERRORS_NOTE}"


def _settings_details(records: pd.DataFrame, frame: pd.DataFrame) -> str:
    """The recorded settings of the runs left in the selection (not every run loaded), folded."""
    shown = set(records["run_id"].astype(str))
    settings = {str(r["run_id"]): str(r.get("settings", "")) for r in frame.attrs.get(RUNS_ATTR) or []
                if str(r["run_id"]) in shown}
    if not settings:
        return ""
    return ("<details><summary>Recorded settings per run (endpoints as host names; no paths or "
            "key names)</summary><ul>" + "".join(
                f"<li><code>{html.escape(run)}</code>: {html.escape(value)}</li>"
                for run, value in settings.items()) + "</ul></details>")


def protocol_note(records: pd.DataFrame, frame: pd.DataFrame) -> str:
    """The *Data & methods* paragraph on the protocol (``records``: ``run_records(frame)``)."""
    if "protocol" not in records.columns:
        return f"<b>Protocol.</b> {protocol_text(records, frame)}"
    return (f"<b>Protocol, from the run records:</b> {protocol_text(records, frame)}"
            + _settings_details(records, frame))


def data_summary(frame: pd.DataFrame) -> str:
    """One HTML paragraph: what the data is and how much of it there is."""
    from ..store.results import PENDING

    pending = int((frame["error"].fillna("") == PENDING).sum())
    errors = int((frame["error"].fillna("") != "").sum()) - pending
    judged = int(frame["violation"].notna().sum())
    kind = "Simulated" if is_simulated(frame) else "Judged"
    judges = ", ".join(sorted(map(str, frame["judge_model"].dropna().unique()))) if "judge_model" in frame.columns else ""
    judge_text = f" Judge: {html.escape(judges)}." if judges else ""
    return (f"<b>{kind} data.</b> {plural(frame['model'].nunique(), 'model')}, {frame['prompt_id'].nunique():,} "
            f"prompts, {len(frame):,} checks: {judged:,} with a verdict and {errors:,} judge errors "
            f"(excluded from rates){f', {pending:,} not judged yet' if pending else ''}.{judge_text}")
