"""A stored run as an Inspect log (``eudaimonia-nb export RUN_ID --format inspect --out FILE.eval``).

The log is built from ``inspect_ai.log``'s own classes and written by ``write_eval_log`` (``.eval``
or ``.json`` by the file's suffix), so ``read_eval_log`` and ``inspect view`` open it as a log of
the ``eudaimonia`` task: the eval spec names the model, its public endpoint and generation
settings, the judge as the ``grader`` role, the benchmark file (name, SHA-256, official or not)
and the suite's version; one sample per prompt and epoch (Inspect's ``epoch``; the eval's
``config.epochs`` is the run's) holds the prompt, the model's response of that epoch, the
prompt's metadata and one score per check, made by ``scores.verdict_score`` (the task's own
function), the rest of the response record (attempts, cached) in the output's metadata; the results are computed by Inspect's ``recompute_metrics`` from those scores and the
task's scorers, with the overall rate under ``all_checks``. The log's status says what the run
is: ``success`` when every check has a result, ``started`` while some are not judged yet, and
``error`` for a run that stopped with nothing but errors. A run with several judge repeats per
check is refused (``ExportError``): an Inspect sample holds one score per requirement, and
keeping only one of the repeats would hide the others.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import replace
from datetime import timezone
from pathlib import Path
from typing import Any

import pandas as pd
from inspect_ai.log import (EvalConfig, EvalDataset, EvalError, EvalLog, EvalPlan, EvalPlanStep, EvalSample, EvalSpec,
                            EvalStats, HeadlineMetric, recompute_metrics, write_eval_log)
from inspect_ai.log._log import EvalMetricDefinition, EvalScorer  # EvalSpec.scorers' types, not re-exported
from inspect_ai._util.registry import registry_info
from inspect_ai.model import (ChatCompletionChoice, ChatMessageAssistant, ChatMessageSystem, ChatMessageUser,
                              GenerateConfig, ModelConfig, ModelOutput, ModelUsage)
from inspect_ai.scorer import mean, stderr

from eudaimonia_nb.benchmark.dataset import load_benchmark
from eudaimonia_nb.benchmark.design_code import REQUIREMENT_KEYS
from eudaimonia_nb.interop.client import STOP_REASONS
from eudaimonia_nb.interop.scores import RESPONSE_RECORDED, SCORE_METADATA, verdict_score
from eudaimonia_nb.interop.task import (JUDGE_ROLE, OVERALL, TASK_NAME, overall_score, prompt_samples, requirement_scorer,
                                       violation_rate)
from eudaimonia_nb.judging.preflight import error_reasons
from eudaimonia_nb.store.outputs import check_output
from eudaimonia_nb.paths import DATASET_URL, package_version
from eudaimonia_nb.store.results import PENDING, VerdictRecord, default_store_path, list_runs, load_judgments, response_texts, verdict_details

LOG_SUFFIXES = (".eval", ".json")
"""The file suffixes ``write_eval_log`` knows: Inspect's binary ``.eval`` or its JSON log."""
SUITE_RUN = "suite_run"
"""Key of the eval's metadata that holds the stored run's own record (the import reads it back)."""


class ExportError(ValueError):
    """A run that cannot be written as an Inspect log (the message says why and what to do)."""


def export_inspect(store_path: str | os.PathLike[str] | None, run_id: str, out: str | os.PathLike[str], *,
                   dataset_path: str | os.PathLike[str] | None = None, force: bool = False) -> Path:
    """Write run ``run_id`` as an Inspect log at ``out`` (through a temporary file, so a failed
    export leaves nothing behind). The benchmark file gives the prompts' texts and must be the
    one the run was made on. ``out`` passes the writers' guard (``outputs.check_output``): never
    the store or any SQLite file, and a file of another kind only with ``force``."""
    target = Path(out)
    if target.suffix not in LOG_SUFFIXES:
        raise ExportError(f"--out {target}: an Inspect log ends in .eval (or .json)")
    # A .eval log is a ZIP archive, a .json log a JSON document: an earlier export is replaced.
    check_output(target, fmt="zip" if target.suffix == ".eval" else "json",
                 reading=[store_path if store_path is not None else default_store_path()], force=force)
    log = build_log(store_path, run_id, dataset_path=dataset_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.stem}.partial{target.suffix}")
    try:
        write_eval_log(log, str(partial))
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def build_log(store_path: str | os.PathLike[str] | None, run_id: str, *,
              dataset_path: str | os.PathLike[str] | None = None) -> EvalLog:
    """The Inspect log of one stored run (nothing written)."""
    runs = list_runs(store_path)
    found = runs[runs["run_id"] == run_id]
    if found.empty:
        raise KeyError(f"no run {run_id} in the store")
    run = found.iloc[0].to_dict()
    params = json.loads(run["parameters"])
    benchmark = load_benchmark(dataset_path)
    if benchmark.sha256 != run["dataset_sha256"]:
        raise ExportError(f"run {run_id} was made on the benchmark file with SHA-256 {run['dataset_sha256']}; "
                          f"{benchmark.path} has {benchmark.sha256} (pass --dataset with the run's file)")
    repeats = int(params.get("judge_repeats") or 1)
    if repeats > 1:
        raise ExportError(f"run {run_id} has {repeats} judge repeats per check; an Inspect sample holds one score per "
                          f"requirement, so it cannot carry them: export a rejudge of it with --judge-repeats 1, or "
                          f"share the run with export --format csv")
    epochs = int(params.get("epochs") or 1)
    checks = load_judgments(store_path, [run_id])
    keys = [key for key in REQUIREMENT_KEYS if key in set(checks["requirement"])]
    prompt_ids = list(pd.unique(checks["prompt_id"]))
    prompts = benchmark.prompts.set_index("prompt_id").loc[prompt_ids].reset_index()
    samples = _samples(run, params, prompts, keys, response_texts(store_path, run_id), verdict_details(store_path, run_id))
    status, error = _status(checks)
    log = EvalLog(
        status=status, eval=_spec(run, params, benchmark, keys, prompt_ids, epochs), plan=_plan(params), samples=samples,
        stats=_stats(run, samples), error=error,
    )
    recompute_metrics(log)  # Inspect's own metrics (the task's scorers) over the samples' scores
    if log.results is not None:
        log.results.total_samples = len(prompt_ids) * epochs  # Inspect's count: dataset samples x epochs
    return log


def _status(checks: pd.DataFrame) -> tuple[str, EvalError | None]:
    errors = checks["error"].fillna("")
    pending = int((errors == PENDING).sum())
    verdicts = int(checks["violation"].notna().sum())
    failed = [e for e in errors if e and e != PENDING]
    if failed and not verdicts:
        reasons = "; ".join(f"{n} x {reason}" for reason, n in error_reasons(failed))
        message = f"no check has a verdict: {len(failed)} errors ({reasons})"
        return "error", EvalError(message=message, traceback=message, traceback_ansi=message)
    return ("started" if pending else "success"), None


def _iso(value: Any) -> str:
    if value is None or pd.isna(value):
        return ""
    return pd.Timestamp(value).floor("us").to_pydatetime().astimezone(timezone.utc).isoformat()


def _stable_id(*parts: str) -> str:
    """A 22-character id (the length of Inspect's own), the same for the same run every time, so
    exporting a run twice gives the same log identity."""
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:22]


def _spec(run: Mapping[str, Any], params: Mapping[str, Any], benchmark: Any, keys: list[str], prompt_ids: list[str],
          epochs: int = 1) -> EvalSpec:
    judge_config = GenerateConfig(temperature=params.get("judge_temperature"), max_tokens=params.get("judge_max_tokens"),
                                  extra_body=params.get("judge_extra_body"))
    task_args = {
        "requirements": params.get("requirements"), "source": params.get("source"), "prompt_ids": params.get("prompt_ids"),
        "limit": params.get("limit"), "limit_seed": params.get("limit_seed", 0), "temperature": params.get("temperature"),
        "max_tokens": params.get("max_tokens"), "extra_body": params.get("model_extra_body"), "judge": run["judge_model"],
        "judge_temperature": params.get("judge_temperature"), "judge_max_tokens": params.get("judge_max_tokens"),
        "judge_extra_body": params.get("judge_extra_body"), "errors": "apart", "dataset": None,
    }
    suite_run = {name: _plain(run[name]) for name in ("run_id", "model", "base_url", "judge_model", "judge_base_url",
                                                       "rubric_versions", "package_version", "smoke_test")}
    suite_run["parameters"] = dict(params)
    scorer_args = {name: task_args[name] for name in ("judge", "judge_temperature", "judge_max_tokens", "judge_extra_body", "errors")}
    return EvalSpec(
        eval_id=_stable_id("eval", run["run_id"]), run_id=run["run_id"], created=_iso(run["started_at"]), task=TASK_NAME,
        task_id=_stable_id("task", run["run_id"]), task_args=task_args, task_args_passed=task_args,
        dataset=EvalDataset(name=TASK_NAME, location=DATASET_URL if benchmark.official else None,
                            samples=len(prompt_ids), sample_ids=prompt_ids, shuffled=False),
        model=run["model"], model_base_url=run["base_url"],
        model_generate_config=GenerateConfig(temperature=params.get("temperature"), max_tokens=params.get("max_tokens"),
                                             extra_body=params.get("model_extra_body")),
        model_roles={JUDGE_ROLE: ModelConfig(model=run["judge_model"], config=judge_config, base_url=run["judge_base_url"])},
        config=EvalConfig(limit=params.get("limit"), epochs=epochs),
        packages={"eudaimonia-nb": package_version()},
        metadata={"dataset_sha256": benchmark.sha256, "dataset_official": benchmark.official,
                  "protocol": params.get("protocol", "suite"), "errors": "apart", "requirements": keys,
                  "exported_by": f"eudaimonia-nb {package_version()}", SUITE_RUN: suite_run},
        scorers=[*(_scorer(key, scorer_args, [mean(), stderr()]) for key in keys),
                 _scorer(OVERALL, {"keys": keys}, [violation_rate()])],
        headline_metric=HeadlineMetric(scorer=OVERALL, metric="violation_rate"),
    )


def _scorer(name: str, options: dict[str, Any], metrics: list[Any]) -> EvalScorer:
    """The task's scorer as the log records it; its metrics by their registry names (which
    Inspect qualifies by package as it finds it), so ``recompute_metrics`` finds them."""
    if name != OVERALL:
        requirement_scorer(name)  # registered, so Inspect can make it again
    return EvalScorer(name=name, options=options,
                      metrics=[EvalMetricDefinition(name=registry_info(m).name, options={}) for m in metrics])


def _plain(value: Any) -> Any:
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return bool(value) if hasattr(value, "dtype") and value.dtype == bool else str(value)


def _plan(params: Mapping[str, Any]) -> EvalPlan:
    config = GenerateConfig(temperature=params.get("temperature"), max_tokens=params.get("max_tokens"),
                            extra_body=params.get("model_extra_body"))
    return EvalPlan(steps=[EvalPlanStep(solver="generate")], config=config)


def _samples(run: Mapping[str, Any], params: Mapping[str, Any], prompts: pd.DataFrame, keys: list[str],
             responses: pd.DataFrame, verdicts: pd.DataFrame) -> list[EvalSample]:
    """One sample per (prompt, epoch) that ran, epoch by epoch as Inspect orders them."""
    by_sample = {(row["prompt_id"], int(row.get("epoch", 1))): row for row in responses.to_dict("records")}
    scores_of: dict[tuple[str, int], dict[str, Any]] = {}
    usage_of: dict[tuple[str, int], list[int]] = {}
    for row in verdicts.to_dict("records"):
        record = VerdictRecord(**{name: _none_if_nan(row.get(name)) for name in VerdictRecord.__dataclass_fields__})
        record = record if record.error is not None else _as_bool(record)
        key = (record.prompt_id, int(record.epoch or 1))
        scores_of.setdefault(key, {})[record.requirement] = verdict_score(record)
        totals = usage_of.setdefault(key, [0, 0])
        totals[0] += int(record.prompt_tokens)
        totals[1] += int(record.completion_tokens)
    epochs = sorted({e for _, e in by_sample} | {e for _, e in scores_of}) or [1]
    samples = []
    for epoch in epochs:
        for base in prompt_samples(prompts, keys):
            key = (str(base.id), epoch)
            response, scores = by_sample.get(key), scores_of.get(key, {})
            if response is None and not scores:
                continue  # not reached yet: an Inspect log holds only the samples that ran
            samples.append(_sample(run, params, base, response, scores, keys, usage_of.get(key, [0, 0]), epoch))
    return samples


def _none_if_nan(value: Any) -> Any:
    return None if isinstance(value, float) and pd.isna(value) else value


def _item(value: Any) -> Any:
    """A stored value as plain JSON (numpy scalars as Python's, NaN as null)."""
    value = value.item() if hasattr(value, "item") else value
    return _none_if_nan(value)


def _as_bool(record: VerdictRecord) -> VerdictRecord:
    return replace(record, violation=bool(record.violation), cached=bool(record.cached))


def _sample(run: Mapping[str, Any], params: Mapping[str, Any], base: Any, response: Mapping[str, Any] | None,
            scores: dict[str, Any], keys: list[str], judge_tokens: list[int], epoch: int = 1) -> EvalSample:
    text = _none_if_nan((response or {}).get("text"))
    error = _none_if_nan((response or {}).get("error"))
    model, judge = str(run["model"]), str(run["judge_model"])
    usage = ModelUsage(input_tokens=int((response or {}).get("prompt_tokens") or 0),
                       output_tokens=int((response or {}).get("completion_tokens") or 0))
    usage.total_tokens = usage.input_tokens + usage.output_tokens
    judge_usage = ModelUsage(input_tokens=judge_tokens[0], output_tokens=judge_tokens[1],
                             total_tokens=judge_tokens[0] + judge_tokens[1])
    finish = _none_if_nan((response or {}).get("finish_reason"))
    recorded = {name: _item(response[name]) for name in RESPONSE_RECORDED if name in (response or {})}
    output = ModelOutput(model=model, completion=text or "", usage=usage,
                         time=float(_none_if_nan((response or {}).get("latency_s")) or 0.0),
                         metadata={SCORE_METADATA: recorded} if recorded else None,
                         choices=[ChatCompletionChoice(message=ChatMessageAssistant(content=text or "", model=model),
                                                       stop_reason=STOP_REASONS.get(str(finish), "unknown"))])
    system = params.get("system_prompt")
    messages = [*( [ChatMessageSystem(content=system)] if system else []), ChatMessageUser(content=str(base.input))]
    overall = overall_score(scores, keys)
    model_usage = {model: usage}
    model_usage[judge] = model_usage[judge] + judge_usage if judge in model_usage else judge_usage
    return EvalSample(
        id=base.id, epoch=epoch, input=messages if system else str(base.input), target="",
        messages=[*messages, ChatMessageAssistant(content=text or "", model=model)] if text is not None else messages,
        output=output, scores={**scores, **({OVERALL: overall} if overall is not None else {})}, metadata=base.metadata,
        model_usage=model_usage, role_usage={JUDGE_ROLE: judge_usage},
        error=EvalError(message=error, traceback=error, traceback_ansi=error) if error else None,
        started_at=None, completed_at=None,
    )


def _stats(run: Mapping[str, Any], samples: list[EvalSample]) -> EvalStats:
    model_usage: dict[str, ModelUsage] = {}
    role_usage: dict[str, ModelUsage] = {}
    for sample in samples:
        for name, usage in sample.model_usage.items():
            model_usage[name] = model_usage[name] + usage if name in model_usage else usage
        for name, usage in sample.role_usage.items():
            role_usage[name] = role_usage[name] + usage if name in role_usage else usage
    return EvalStats(started_at=_iso(run["started_at"]), completed_at=_iso(run["ended_at"]), model_usage=model_usage,
                     role_usage=role_usage)
