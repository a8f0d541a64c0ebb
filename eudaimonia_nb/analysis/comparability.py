"""Is a run comparable with the published leaderboard, and if not, why not? Field by field.

Every run whose model matches one of the authors' recipes (``benchmark.recipes``; a run made by
``reproduce`` records its recipe, any other is matched by model id) is compared with that
recipe; any other run with the authors' default settings. Each difference is a ``Difference``
naming both values ("model extra body: the authors sent reasoning.effort=medium, this run sent
none") with a severity:

* ``breaks`` (not comparable): what is sent to the model (model id, temperature, max_tokens,
  system prompt, extra body), the judge (model, temperature, max_tokens, extra body), the
  protocol, its rubric hashes and the authors' pipeline conventions recorded with the run
  (``benchmark.authors.AUTHORS_CONVENTIONS``, which include the errors convention), the
  benchmark file (any but the two official copies), coverage (a subset, an unfinished run),
  judge errors above 1% of checks, a smoke test;
* ``note`` (comparable, said beside the number): another route or gateway for the same request
  ("served by 127.0.0.1 instead of OpenRouter"), the same model id without its vendor prefix,
  which official copy of the benchmark was used (the published runs' copy is not stated),
  responses the model failed to give or gave empty (left out, as the authors' pipeline did),
  a few judge errors (counted as no violation the authors' way), responses judged as the
  authors' repr of a reasoning-only reply.

Every run is still shown, marked, with the breaking differences as short labels, and compared
with the published figure that matches its scope (a real-only run with the published real rate).
Comparability is a property of a whole run, so it is computed when the data is loaded (before
any filter) and carried in ``frame.attrs[COMPARABILITY_ATTR]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from ..benchmark.authors import AUTHORS_CONVENTIONS, COPY_DIFFERENCE, RUBRIC_SHA256
from ..benchmark.dataset import SOURCES
from ..benchmark.design_code import REQUIREMENT_KEYS
from ..benchmark.recipes import Recipe, flatten_body, recipe_book
from ..paths import dataset_copy
from ..store.results import JUDGE_FAILED, NO_RESPONSE, PENDING, UNPARSEABLE
from .published import MODIFIED_CHECKS, REAL_CHECKS

COMPARABILITY_ATTR = "comparability"
"""``frame.attrs`` key of the per-run comparability records (a list of dicts)."""
BENCHMARK_PROMPTS: dict[str, int] = {"real": 322, "modified": 647}
"""Prompts per source in the official benchmark file."""
BENCHMARK_CHECKS = REAL_CHECKS + MODIFIED_CHECKS
MAX_UNJUDGED_SHARE = 0.01
"""Above this share of a run's checks with judge errors (unparseable or failed calls) the run is
not comparable: the authors' way counts them as no violation, so the rate would measure failures."""
AUTHORS_JUDGES = frozenset({"claude-opus-4.6", "claude-opus-4-6"})
"""The authors' judge (``anthropic/claude-opus-4.6`` on OpenRouter), by name without vendor prefix."""
AUTHORS_SETTINGS: Mapping[str, object] = {
    "temperature": 0.7, "max_tokens": 2048, "system_prompt": None, "judge_temperature": 0.0, "judge_max_tokens": 1024,
}
"""The authors' default generation and judge settings (a recipe may set others)."""
BREAKS, NOTE = "breaks", "note"
"""Severities: a difference that makes a run not comparable, and one said beside the number."""


@dataclass(frozen=True)
class Difference:
    """One way a run differs from how the published figure was made."""

    field: str
    """What differs ("model extra body", "route", "coverage", ...)."""
    authors: str
    """What the authors did, in words."""
    run: str
    """What this run did, in words."""
    severity: str
    """``breaks`` (not comparable) or ``note`` (comparable; said beside the number)."""
    label: str
    """The sentence shown next to the number."""


def _sent(field: str, authors: object, run: object, severity: str = BREAKS) -> Difference:
    a, r = _words(authors), _words(run)
    return Difference(field, a, r, severity, f"{field}: the authors sent {a}, this run sent {r}")


def _words(value: object) -> str:
    if value is None or value == {} or value == "":
        return "none"
    if isinstance(value, dict):
        return flatten_body(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


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
    ``reasons`` ("; "-joined labels of the breaking differences, "" when comparable),
    ``notes`` (the same for the notes), ``differences`` (a list of ``Difference`` dicts),
    ``recipe`` (the recipe compared with, or None), ``compare_with`` (``overall``, ``real`` or
    ``modified``: the published figure of the same scope), ``status`` (``complete``/``in
    progress``) and the counts behind the labels.

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
    return pd.DataFrame(rows, columns=["unit", "model", "comparable", "reasons", "notes", "differences", "recipe",
                                       "compare_with", "status", "n_prompts", "n_checks", "n_results", "n_pending",
                                       "n_unjudged", "n_no_response", "n_judge_errors", "protocol", "judge_model",
                                       "rejudged_from"])


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _one(key: str, part: pd.DataFrame, record: Mapping | None) -> dict:
    errors = part["error"].fillna("").astype(str) if "error" in part.columns else pd.Series("", index=part.index)
    pending = int((errors == PENDING).sum())
    n_checks = len(part)
    unjudged = int(part["violation"].isna().sum()) - pending
    no_response = int(errors.str.startswith(NO_RESPONSE).sum())
    judge_errors = int((errors.str.startswith(UNPARSEABLE) | errors.str.startswith(JUDGE_FAILED)).sum())
    finished = bool(record is not None and pd.notna(record.get("ended_at")))
    status = "in progress" if pending and not finished else "complete"
    model = str((record or {}).get("model") or part["model"].iloc[0])
    params = _parameters(record)
    recipe = recipe_book().for_run(model, (params or {}).get("model_extra_body"), (params or {}).get("recipe"))
    diffs: list[Difference] = []
    if pending:
        diffs.append(Difference("coverage", f"{n_checks:,} checks judged", f"{n_checks - pending:,} judged so far",
                                BREAKS, f"in progress: {n_checks - pending:,} of {n_checks:,} checks"))
    protocol = (record or {}).get("protocol") or (part["protocol"].iloc[0] if "protocol" in part.columns else None)
    if _missing(protocol):
        diffs.append(Difference("protocol", "authors", "not recorded", BREAKS, "protocol not recorded"))
    elif protocol != "authors":
        diffs.append(Difference("protocol", "authors", str(protocol), BREAKS, f"{protocol} protocol"))
    judge = (record or {}).get("judge_model") or (part["judge_model"].iloc[0] if "judge_model" in part.columns else None)
    judge_recipe = recipe_book().judge
    if _missing(judge):
        diffs.append(Difference("judge model", judge_recipe.model, "not recorded", BREAKS, "judge not recorded"))
    elif not is_authors_judge(judge):
        diffs.append(Difference("judge model", judge_recipe.model, str(judge), BREAKS, f"judge {judge}"))
    if params is None:
        diffs.append(Difference("settings", "recorded with every run", "not recorded", BREAKS, "settings not recorded"))
    else:
        diffs += _request_differences(model, params, recipe)
        diffs += _route_differences(record, recipe)
        if protocol == "authors":
            diffs += _protocol_differences(params)
    diffs += _coverage_differences(part, params)
    diffs += _repeat_differences(params)
    if n_checks and judge_errors / n_checks > MAX_UNJUDGED_SHARE:
        diffs.append(Difference("judge errors", "few (counted as no violation)", f"{judge_errors / n_checks:.1%} of checks",
                                BREAKS, f"judge errors for {judge_errors / n_checks:.1%} of checks (unparseable or "
                                        f"failed, above {MAX_UNJUDGED_SHARE:.0%}: the rate would measure failures)"))
    elif judge_errors:
        diffs.append(Difference("judge errors", "counted as no violation", f"{judge_errors:,}", NOTE,
                                f"{judge_errors:,} judge errors (unparseable or failed), counted as no violation under "
                                f"the authors' errors convention"))
    if no_response:
        diffs.append(Difference("model responses", "failed or empty ones left out", f"{no_response:,} checks", NOTE,
                                f"{no_response:,} checks without a verdict because the model gave no response "
                                f"(failed or empty), left out as the authors' pipeline did"))
    repr_count = int((record or {}).get("n_reasoning_repr") or 0)
    if repr_count:
        diffs.append(Difference("reasoning-only replies", "judged as the repr of the reply", f"{repr_count:,} responses",
                                NOTE, f"{repr_count:,} responses had only reasoning text and were judged as the "
                                      f"authors' repr of the reply"))
    if record is not None:
        diffs += _dataset_differences(record)
    if bool(part["smoke_test"].any()) if "smoke_test" in part.columns else False:
        diffs.append(Difference("model", "a leaderboard model", "the smoke-test model", BREAKS, "smoke test"))
    sources = set(part["source"].astype(str))
    prompts = part.groupby("source")["prompt_id"].nunique().to_dict()
    breaking = [d.label for d in diffs if d.severity == BREAKS]
    return {"unit": key, "model": str(part["model"].iloc[0]), "comparable": not breaking, "reasons": "; ".join(breaking),
            "notes": "; ".join(d.label for d in diffs if d.severity == NOTE),
            "differences": [asdict(d) for d in diffs], "recipe": recipe.name if recipe is not None else None,
            "compare_with": _scope(sources), "status": status, "n_prompts": int(sum(prompts.values())),
            "n_checks": n_checks, "n_results": n_checks - pending, "n_pending": pending, "n_unjudged": unjudged,
            "n_no_response": no_response, "n_judge_errors": judge_errors,
            "protocol": None if _missing(protocol) else str(protocol),
            "judge_model": None if _missing(judge) else str(judge),
            "rejudged_from": (record or {}).get("rejudged_from")}


def _parameters(record: Mapping | None) -> dict | None:
    if record is None:
        return None
    try:
        params = json.loads(record.get("parameters") or "{}")
    except (json.JSONDecodeError, TypeError):
        return None
    return params if isinstance(params, dict) else None


def _request_differences(model: str, params: Mapping, recipe: Recipe | None) -> list[Difference]:
    """What was sent to the model and the judge, against the recipe (or the authors' defaults)."""
    diffs = []
    if recipe is not None and model.strip().lower() != recipe.model.lower():
        same = model.strip().lower().rsplit("/", 1)[-1] == recipe.model.lower().rsplit("/", 1)[-1]
        diffs.append(Difference("model id", recipe.model, model, NOTE if same else BREAKS,
                                f"model id: the authors called {recipe.model}, this run {model}"
                                + (" (the same model without its vendor prefix)" if same else "")))
    expected = {"temperature": recipe.temperature if recipe else AUTHORS_SETTINGS["temperature"],
                "max_tokens": recipe.max_tokens if recipe else AUTHORS_SETTINGS["max_tokens"]}
    for name, authors in expected.items():
        value = params.get(name, authors)
        if value != authors:
            diffs.append(_sent(name.replace("_", " ") if name != "max_tokens" else "max tokens", authors, value))
    if params.get("system_prompt"):
        diffs.append(Difference("system prompt", "none", "one", BREAKS, "system prompt: the authors sent none, this run sent one"))
    authors_body = recipe.extra_body if recipe else None
    if (params.get("model_extra_body") or None) != (authors_body or None):
        diffs.append(_sent("model extra body", authors_body, params.get("model_extra_body")))
    judge = recipe_book().judge
    for name, label, authors in (("judge_temperature", "judge temperature", judge.temperature),
                                 ("judge_max_tokens", "judge max tokens", judge.max_tokens)):
        value = params.get(name, authors)
        if value != authors:
            diffs.append(_sent(label, authors, value))
    if (params.get("judge_extra_body") or None) != (judge.extra_body or None):
        diffs.append(_sent("judge extra body", judge.extra_body, params.get("judge_extra_body")))
    return diffs


def _host(url: object) -> str:
    return urlsplit(str(url or "")).hostname or ""


def _route_differences(record: Mapping | None, recipe: Recipe | None) -> list[Difference]:
    """Another route or gateway for the same request: a note, never a break."""
    if record is None:
        return []
    diffs = []
    judge_route = recipe_book().judge.route
    routes = [("judge route", "judge served by", record.get("judge_base_url"), judge_route)]
    if recipe is not None and recipe.route.key != "local":
        routes.insert(0, ("route", "served by", record.get("base_url"), recipe.route))
    for field, verb, url, route in routes:
        host = _host(url)
        if host and host != route.host:
            diffs.append(Difference(field, f"{route.name} ({route.host})", host, NOTE,
                                    f"{verb} {host} instead of {route.name}"))
    return diffs


def _protocol_differences(params: Mapping) -> list[Difference]:
    """The authors' protocol as recorded with the run: rubric hashes and pipeline conventions."""
    diffs = []
    rubrics = params.get("rubric_sha256")
    if not isinstance(rubrics, dict):
        diffs.append(Difference("rubrics", "the pinned files", "not recorded", BREAKS, "rubric hashes not recorded"))
    else:
        changed = sorted(k for k, digest in RUBRIC_SHA256.items() if rubrics.get(k) != digest)
        if changed:
            diffs.append(Difference("rubrics", "the pinned files", f"{len(changed)} of {len(RUBRIC_SHA256)} differ",
                                    BREAKS, f"rubrics: {len(changed)} of {len(RUBRIC_SHA256)} differ from the authors' "
                                            f"({', '.join(changed)})"))
    conventions = params.get("conventions")
    if not isinstance(conventions, dict):
        diffs.append(Difference("pipeline conventions", "recorded", "not recorded", BREAKS,
                                "the authors' pipeline conventions are not recorded (a run made before the suite "
                                "reproduced them: raw response judged, reasoning-only replies not judged, another "
                                "parser)"))
        return diffs
    for name, authors in AUTHORS_CONVENTIONS.items():
        value = conventions.get(name)
        if value != authors:
            label = name.replace("_", " ")
            diffs.append(Difference(label, authors, str(value), BREAKS,
                                    f"{label}: the authors' pipeline used {authors}, this run {value}"))
    return diffs


def _repeat_differences(params: Mapping | None) -> list[Difference]:
    """Epochs and judge repeats send the recipe's own requests more times: a note, not a break (the
    reduced rate estimates the same expected rate with less sampling noise than the one draw per
    check the published figure is)."""
    epochs, repeats = int((params or {}).get("epochs") or 1), int((params or {}).get("judge_repeats") or 1)
    if epochs == 1 and repeats == 1:
        return []
    run = f"{epochs} responses x {repeats} judge calls per check"
    return [Difference("repeats", "1 response, 1 judge call per check", run, NOTE,
                       f"{run}, reduced to one verdict per check (mean by default); the published figure is one "
                       f"draw of each")]


def _coverage_differences(part: pd.DataFrame, params: Mapping | None) -> list[Difference]:
    diffs = []
    requirements = (params or {}).get("requirements")
    if requirements and set(requirements) != set(REQUIREMENT_KEYS):
        diffs.append(Difference("coverage", f"all {len(REQUIREMENT_KEYS)} requirements", f"{len(requirements)}", BREAKS,
                                f"requirements: {len(requirements)} of {len(REQUIREMENT_KEYS)}"))
    sources = set(part["source"].astype(str))
    n_prompts = int(part.groupby("source")["prompt_id"].nunique().sum())
    full = sum(BENCHMARK_PROMPTS.values())
    scope = _scope(sources)
    if n_prompts < full:
        label = (f"{scope} prompts only: {n_prompts:,} of {full:,} prompts" if scope != "overall"
                 else f"subset: {n_prompts:,} of {full:,} prompts")
        diffs.append(Difference("coverage", f"{full:,} prompts", f"{n_prompts:,} prompts", BREAKS, label))
    elif len(part) < BENCHMARK_CHECKS:
        diffs.append(Difference("coverage", f"{BENCHMARK_CHECKS:,} checks", f"{len(part):,} checks", BREAKS,
                                f"subset: {len(part):,} of {BENCHMARK_CHECKS:,} checks"))
    return diffs


def _dataset_differences(record: Mapping) -> list[Difference]:
    copy = dataset_copy(str(record.get("dataset_sha256") or ""))
    if copy is None:
        return [Difference("benchmark file", "an official copy", "another file", BREAKS, "unofficial dataset file")]
    return [Difference("benchmark copy", "the site or the repository copy (not stated)", f"the {copy} copy", NOTE,
                       f"benchmark: the {copy} copy, one of the two official ones (which one the published runs "
                       f"used is not stated): {COPY_DIFFERENCE}")]


def differences_text(record: Mapping, *, notes: bool = True) -> list[str]:
    """The sentences to show next to a run's number: what breaks comparability, then the notes."""
    diffs = record.get("differences") or []
    lines = [d["label"] for d in diffs if d["severity"] == BREAKS]
    if notes:
        lines += [d["label"] for d in diffs if d["severity"] == NOTE]
    return lines


def by_model(frame: pd.DataFrame) -> pd.DataFrame:
    """The comparability records carried by ``frame`` (see ``COMPARABILITY_ATTR``), indexed by
    the frame's ``model`` labels; computed from the frame itself when none are carried."""
    records = frame.attrs.get(COMPARABILITY_ATTR)
    table = pd.DataFrame(records) if records else run_comparability(frame)
    return table.drop_duplicates("model").set_index("model")


def annotate_rates(rates: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """Per-model rates with ``comparable``, ``not_comparable_because``, ``comparability_notes``
    (the differences that do not break comparability), ``compare_with`` and ``n_pending``
    (checks not judged yet, which are not judge errors: ``n_errors`` excludes them)."""
    table = by_model(frame)
    if "notes" not in table.columns:  # records carried from before notes existed
        table["notes"] = ""
    out = rates.copy()
    model = out["model"].astype(str)
    out["comparable"] = model.map(table["comparable"]).fillna(False).astype(bool)
    out["not_comparable_because"] = model.map(table["reasons"]).fillna("")
    out["comparability_notes"] = model.map(table["notes"]).fillna("")
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
    """One HTML-free sentence per marked model, then the notes of every model, for section notes."""
    marked = annotated[~annotated["comparable"]]
    if marked.empty:
        text = ("Every run shown is comparable with the published leaderboard (the authors' recipe, judge, "
                "protocol and conventions, the whole benchmark, judge errors for at most 1% of checks).")
    else:
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
    notes = annotated["comparability_notes"] if "comparability_notes" in annotated.columns else pd.Series(dtype=str)
    noted = [f"[{m}: {n}]" for m, n in zip(annotated.loc[notes.index, "model"], notes) if n]
    return text + (" Noted, not breaking comparability: " + "; ".join(noted) + "." if noted else "")


SOURCE_SCOPES = ("overall", *SOURCES)
"""The scopes a published comparison can have."""
