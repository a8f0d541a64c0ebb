"""Inspect logs into the results store as runs (``eudaimonia-nb import-inspect LOG [LOG ...]``).

A log is read by ``inspect_ai.log.read_eval_log`` and accepted when each of its samples names a
benchmark prompt (``metadata.prompt_id``, with the prompt's own text as input) and holds one
score per labelled requirement, keyed by the requirement key: the logs of the ``eudaimonia``
task and of ``export --format inspect``, and anyone else's task whose samples carry the same.
Anything else is refused with the log, the sample and what is missing, and nothing is written.

Each log becomes one run, written in one transaction with its checks, responses and verdicts
(``scores.check_result`` reads a score back), so rates, models, validity, studies, the dashboard
and the report work on it like on any run. Its id is derived from what the log holds (eval id,
status, samples and scores): the same log, in any file or format, is never imported twice, while
a later state of the same evaluation (more samples, or rescored) becomes a run of its own.
Checks a log has not reached (an eval still ``started``, or stopped by an ``error``) are stored
as not judged yet. A log of several epochs (``inspect eval --epochs K``, or an exported run with
epochs) becomes a run with K epochs: each sample's response and scores are stored as its
``epoch``, one judge call per check (an Inspect sample holds one score per requirement).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from inspect_ai.log import EvalLog, EvalSample, read_eval_log
from inspect_ai.model import ChatMessageUser

from eudaimonia_nb.benchmark.dataset import Benchmark, load_benchmark
from eudaimonia_nb.benchmark.design_code import REQUIREMENT_KEYS
from eudaimonia_nb.credentials import public_url
from eudaimonia_nb.interop.client import FINISH_REASONS
from eudaimonia_nb.interop.export import SUITE_RUN
from eudaimonia_nb.interop.scores import (HELD_ELSEWHERE, RESPONSE_RECORDED, SCORE_METADATA, CheckResult, ScoreError,
                                         check_result)
from eudaimonia_nb.interop.task import INSPECT_ENDPOINT, JUDGE_ROLE, TASK_NAME, judging_config
from eudaimonia_nb.judging.config import SMOKE_TEST_PATTERN
from eudaimonia_nb.judging.protocols import DEFAULT_PROTOCOL, EMPTY_RESPONSE, get_protocol, is_empty_response
from eudaimonia_nb.judging.recording import no_response_verdict
from eudaimonia_nb.judging.repeats import MAX_REPEATS
from eudaimonia_nb.paths import package_version
from eudaimonia_nb.store.results import (ResponseRecord, ResultsStore, RunRecord, VerdictRecord, default_store_path,
                                         list_runs, response_sha256)

FORMAT = "inspect"
"""``parameters.imported_from.format`` of an imported run."""


class ImportRefused(ValueError):
    """A log that cannot become a run (the message names the log, the sample and why)."""


@dataclass(frozen=True)
class ImportedRun:
    """One log made into a run, before or after it is stored."""

    path: Path
    """The log file."""
    record: RunRecord
    """The run record (``parameters.imported_from`` names the log)."""
    checks: pd.DataFrame
    """The planned checks (the store's ``run_checks``)."""
    responses: tuple[ResponseRecord, ...]
    """The model's responses, one per sample (a prompt's epochs are samples of their own)."""
    verdicts: tuple[VerdictRecord, ...]
    """The check results the log holds (checks without one are not judged yet)."""
    status: str
    """The log's status: ``success``, ``started``, ``cancelled`` or ``error``."""
    started_at: float
    """When the evaluation started (epoch seconds)."""
    ended_at: float | None
    """When it completed, for a log whose every check has a result; else None."""
    identity: str
    """SHA-256 of what the log holds; the run id ends in its first 12 digits."""
    epochs: int = 1
    """Epochs of the evaluation (Inspect's ``config.epochs``, or the highest sample epoch)."""

    @property
    def run_id(self) -> str:
        return self.record.run_id

    def summary(self) -> dict[str, Any]:
        """Counts for the command's output (and its ``--json``)."""
        errors = sum(1 for v in self.verdicts if v.error is not None)
        return {"log": str(self.path), "run_id": self.run_id, "status": self.status,
                "n_prompts": int(self.checks["prompt_id"].nunique()), "n_checks": len(self.checks), "epochs": self.epochs,
                "n_verdicts": len(self.verdicts) - errors, "n_errors": errors,
                "n_not_judged": len(self.checks) * self.epochs - len(self.verdicts)}


def import_logs(paths: Iterable[str | os.PathLike[str]], store_path: str | os.PathLike[str] | None = None, *,
                dataset_path: str | os.PathLike[str] | None = None) -> list[ImportedRun]:
    """Read every log, refuse them all if any is refused or already imported, then store each
    as a run (one transaction per run)."""
    benchmark = load_benchmark(dataset_path)
    store = Path(store_path) if store_path is not None else default_store_path()
    runs = [read_log(Path(p), benchmark) for p in paths]
    known = _imported(store)
    seen: dict[str, Path] = {}
    for run in runs:
        if run.identity in seen:
            raise ImportRefused(f"{run.path}: the same log as {seen[run.identity]} (given twice); nothing was imported")
        seen[run.identity] = run.path
        if run.identity in known:
            raise ImportRefused(f"{run.path}: this log was already imported as run {known[run.identity]}; "
                                f"nothing was imported")
    writer = ResultsStore(store)
    try:
        for run in runs:
            writer.write_run(run.record, run.checks, run.responses, run.verdicts, started_at=run.started_at,
                             ended_at=run.ended_at)
    finally:
        writer.close()
    return runs


def _imported(store: Path) -> dict[str, str]:
    """Log identity -> run id of every run already imported into the store."""
    if not store.is_file():
        return {}
    found = {}
    for run_id, parameters in zip(*(list_runs(store)[c] for c in ("run_id", "parameters"))):
        origin = json.loads(parameters).get("imported_from") or {}
        if origin.get("format") == FORMAT and origin.get("identity"):
            found[origin["identity"]] = run_id
    return found


def read_log(path: Path, benchmark: Benchmark) -> ImportedRun:
    """One log as a run (nothing stored); ``ImportRefused`` says what keeps it out."""
    try:
        log = read_eval_log(str(path))
    except (OSError, ValueError) as exc:
        detail = " ".join(str(exc).split())  # pydantic's report runs over many lines
        raise ImportRefused(f"{path}: not a readable Inspect log ({detail[:300]})") from None
    if not log.samples:
        raise ImportRefused(f"{path}: the log holds no samples (was it written with --no-log-samples?)")
    epochs = _epochs(path, log)
    _check_dataset(path, log, benchmark)
    texts = dict(zip(benchmark.prompts["prompt_id"], benchmark.prompts["text"]))
    samples = {(_prompt_id(path, sample, texts), sample.epoch): sample for sample in log.samples}
    if len(samples) < len(log.samples):
        raise ImportRefused(f"{path}: two samples name the same prompt id in the same epoch; a run holds one response "
                            f"per prompt and epoch")
    wanted = _requirements(log)
    planned = _planned(log, {pid for pid, _ in samples}, texts)
    # In file order, as a run plans them.
    checks = benchmark.checks[benchmark.checks["prompt_id"].isin(planned) & benchmark.checks["requirement"].isin(wanted)]
    labelled = checks.groupby("prompt_id", sort=False)["requirement"].apply(list).to_dict()
    identity = _identity(log)
    context = _Context(path, log, _protocol(log))
    responses, verdicts = [], []
    for (pid, epoch), sample in samples.items():
        response, results = context.sample(pid, sample, labelled.get(pid, []))
        responses.append(replace(response, epoch=epoch))
        verdicts += [replace(v, epoch=epoch) for v in results]
    record = _record(log, benchmark, identity, path, wanted, epochs)
    complete = len(verdicts) == len(checks) * epochs
    return ImportedRun(path=path, record=record, checks=checks.reset_index(drop=True), responses=tuple(responses),
                       verdicts=tuple(verdicts), status=log.status, started_at=_epoch(log.stats.started_at or log.eval.created),
                       ended_at=_epoch(log.stats.completed_at) if complete and log.stats.completed_at else None,
                       identity=identity, epochs=epochs)


def _epochs(path: Path, log: EvalLog) -> int:
    """The evaluation's epochs: its ``config.epochs`` (at least the highest sample epoch, for a log
    whose config does not say); a sample epoch outside 1..K is refused by name."""
    declared = log.eval.config.epochs
    highest = max((s.epoch for s in log.samples or []), default=1)
    epochs = int(declared) if declared else highest
    odd = next((s for s in log.samples or [] if not 1 <= s.epoch <= epochs), None)
    if odd is not None:
        raise ImportRefused(f"{path}: {_sample_name(odd)} is outside the log's {epochs} epoch(s) (config.epochs)")
    if epochs > MAX_REPEATS:
        raise ImportRefused(f"{path}: the log has {epochs} epochs; a run holds at most {MAX_REPEATS}")
    return epochs


def _check_dataset(path: Path, log: EvalLog, benchmark: Benchmark) -> None:
    sha = (log.eval.metadata or {}).get("dataset_sha256")
    if sha and sha != benchmark.sha256:
        raise ImportRefused(f"{path}: the log was made on the benchmark file with SHA-256 {sha}; {benchmark.path} has "
                            f"{benchmark.sha256} (pass --dataset with the log's file)")


def _sample_name(sample: EvalSample) -> str:
    return f"sample {sample.id!r}" + (f" (epoch {sample.epoch})" if sample.epoch != 1 else "")


def _prompt_id(path: Path, sample: EvalSample, texts: Mapping[str, str]) -> str:
    pid = (sample.metadata or {}).get("prompt_id")
    if not isinstance(pid, str) or not pid:
        raise ImportRefused(f"{path}: {_sample_name(sample)} has no metadata.prompt_id; each sample must name the "
                            f"benchmark prompt it ran (see docs/inspect.md)")
    if pid not in texts:
        raise ImportRefused(f"{path}: {_sample_name(sample)}: prompt id {pid!r} is not in the benchmark file")
    given = _user_text(sample.input)
    if given is not None and given != texts[pid]:
        raise ImportRefused(f"{path}: {_sample_name(sample)}: its input is not the text of prompt {pid} in the benchmark file")
    return pid


def _user_text(value: Any) -> str | None:
    """The (last) user message of a sample's input; None for an input of other parts (images)."""
    if isinstance(value, str):
        return value
    users = [m for m in value if isinstance(m, ChatMessageUser)]
    return users[-1].text if users else None


def _requirements(log: EvalLog) -> list[str]:
    """The requirements the log judged: as the suite's task and export record them, else every
    requirement some sample has a score for."""
    declared = (log.eval.metadata or {}).get("requirements")
    if isinstance(declared, list) and declared and all(k in REQUIREMENT_KEYS for k in declared):
        return [k for k in REQUIREMENT_KEYS if k in declared]
    scored = {key for sample in log.samples or [] for key in (sample.scores or {})}
    return [k for k in REQUIREMENT_KEYS if k in scored]


def _planned(log: EvalLog, samples: set[str], texts: Mapping[str, str]) -> list[str]:
    """The prompts the evaluation set out to run, in benchmark order: the dataset's sample ids
    when they are prompt ids (a started log holds only the samples that finished), else the samples'."""
    ids = [str(i) for i in (log.eval.dataset.sample_ids or [])]
    chosen = set(samples) | ({i for i in ids if i in texts} if ids and all(i in texts for i in ids) else set())
    return [pid for pid in texts if pid in chosen]


def _identity(log: EvalLog) -> str:
    """SHA-256 of the evaluation's id, status, and every sample's output and scores."""
    content = [
        [str(s.id), s.epoch, s.output.completion if s.output else "", s.error.message if s.error else None,
         sorted((k, _canonical(v.value), v.explanation, json.dumps(v.metadata, sort_keys=True, default=str))
                for k, v in (s.scores or {}).items())]
        for s in sorted(log.samples or [], key=lambda s: (str(s.id), s.epoch))
    ]
    blob = json.dumps([log.eval.eval_id, log.eval.task, log.status, content], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _canonical(value: Any) -> Any:
    return "NaN" if isinstance(value, float) and math.isnan(value) else value


def _protocol(log: EvalLog) -> str:
    """The judging protocol named in the run record: the suite's task and export say which; any
    other task's judging is its own (named by the task, so it is never taken for the authors')."""
    declared = (log.eval.metadata or {}).get("protocol")
    if log.eval.task == TASK_NAME and isinstance(declared, str):
        return declared
    return f"inspect task {log.eval.task}"


class _Context:
    """What reading one log's samples needs: where it came from and its judging protocol."""

    def __init__(self, path: Path, log: EvalLog, protocol: str):
        self.path = path
        self.log = log
        self.protocol = protocol
        try:
            self.rubric_versions: dict[str, str] = get_protocol(protocol).rubric_versions()
        except ValueError:
            self.rubric_versions = {}

    def sample(self, pid: str, sample: EvalSample, labelled: list[str]) -> tuple[ResponseRecord, list[VerdictRecord]]:
        where = f"{self.path}: {_sample_name(sample)}"
        scores = {k: v for k, v in (sample.scores or {}).items() if k in REQUIREMENT_KEYS}
        stray = sorted(set(scores) - set(labelled))
        if stray:
            raise ImportRefused(f"{where} (prompt {pid}) has a score for {', '.join(stray)}, which the prompt is not "
                                f"labelled with (its labels here: {', '.join(labelled) or 'none'})")
        # An unfinished log (an export of a run whose judge calls are still out) may hold a
        # response not scored yet: its checks are not judged yet. A finished log may not.
        if not scores and sample.error is None and self.log.status == "success":
            others = ", ".join(sorted(sample.scores or {})) or "none"
            raise ImportRefused(f"{where} (prompt {pid}) has no per-requirement scores (expected scores keyed by "
                                f"requirement keys such as {labelled[0] if labelled else REQUIREMENT_KEYS[0]}; "
                                f"its scores: {others})")
        missing = [k for k in labelled if k not in scores]
        if missing and sample.error is None and self.log.status == "success":
            raise ImportRefused(f"{where} (prompt {pid}) has no score for {', '.join(missing)}, a requirement it is "
                                f"labelled with, in a finished log")
        response = self._response(pid, sample)
        verdicts = []
        for key in labelled:
            if key in scores:
                try:
                    result = check_result(scores[key])
                except ScoreError as exc:
                    raise ImportRefused(f"{where} (prompt {pid}), score {key}: {exc}") from None
                verdicts.append(self._verdict(pid, key, result, response))
            elif sample.error is not None:  # the sample failed before this check was scored
                reason = response.error or f"the Inspect sample failed before it was scored: {sample.error.message}"
                verdicts.append(replace(no_response_verdict(pid, key, reason, DEFAULT_PROTOCOL),
                                        rubric_version=self.rubric_versions.get(key, "unknown")))
        return response, verdicts

    def _response(self, pid: str, sample: EvalSample) -> ResponseRecord:
        output = sample.output
        text = output.completion if output is not None else ""
        error = None
        if sample.error is not None and not text:
            error = sample.error.message
        elif is_empty_response(text):
            error = EMPTY_RESPONSE
        usage = output.usage if output is not None else None
        stop = output.choices[0].stop_reason if output is not None and output.choices else "unknown"
        values = dict(
            prompt_id=pid, text=text if (text or error in (None, EMPTY_RESPONSE)) else None,
            prompt_tokens=int(usage.input_tokens) if usage else 0, completion_tokens=int(usage.output_tokens) if usage else 0,
            latency_s=float(output.time or 0.0) if output is not None else 0.0, finish_reason=FINISH_REASONS.get(stop),
            attempts=1, cached=False, error=error,
        )
        # An exported suite run keeps the rest of its response record (attempts, cached, ...) in the output's metadata.
        recorded = ((output.metadata or {}) if output is not None else {}).get(SCORE_METADATA)
        if isinstance(recorded, dict):
            values |= {name: recorded[name] for name in RESPONSE_RECORDED if name in recorded}
        return ResponseRecord(**values)

    def _verdict(self, pid: str, key: str, result: CheckResult, response: ResponseRecord) -> VerdictRecord:
        judged = response.error is None and response.text is not None
        named = {f.name for f in fields(VerdictRecord)}
        return VerdictRecord(
            **{name: value for name, value in result.recorded.items() if name in named and name not in HELD_ELSEWHERE},
            prompt_id=pid, requirement=key, violation=result.violation, reasoning=result.reasoning, raw=result.raw,
            prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens, latency_s=result.latency_s,
            attempts=result.attempts, cached=result.cached, error=result.error,
            rubric_version=result.rubric_version or self.rubric_versions.get(key, "unknown"),
            response_sha256=response_sha256(response.text or "") if judged else None,
        )


def _record(log: EvalLog, benchmark: Benchmark, identity: str, path: Path, wanted: list[str], epochs: int = 1) -> RunRecord:
    spec = log.eval
    suite = (spec.metadata or {}).get(SUITE_RUN)
    origin = {"format": FORMAT, "identity": identity, "file": path.name, "eval_id": spec.eval_id, "task": spec.task,
              "inspect_run_id": spec.run_id, "status": log.status, "created": spec.created,
              "packages": dict(spec.packages)}
    if isinstance(suite, dict):  # a suite run exported by ``export``: its own record, as it was
        model, base_url = str(suite["model"]), str(suite["base_url"])
        judge, judge_url = str(suite["judge_model"]), str(suite["judge_base_url"])
        parameters = {**suite.get("parameters", {}), "exported_run": suite.get("run_id")}
        rubric_versions = str(suite.get("rubric_versions") or "{}")
        smoke = bool(suite.get("smoke_test"))
    else:
        model, base_url = spec.model, public_url(spec.model_base_url) if spec.model_base_url else INSPECT_ENDPOINT
        judge, judge_url = _judge(log)
        parameters = _parameters(log, judge, wanted) | {"base_url": base_url, "judge_base_url": judge_url}
        protocol = parameters["protocol"]
        try:
            rubric_versions = json.dumps(get_protocol(protocol).rubric_versions(), sort_keys=True)
        except ValueError:
            rubric_versions = "{}"
        smoke = bool(SMOKE_TEST_PATTERN.search(model) or SMOKE_TEST_PATTERN.search(judge))
    # One judge call per check: an Inspect sample holds one score per requirement.
    parameters = {**parameters, "epochs": epochs, "judge_repeats": 1, "dataset_official": benchmark.official,
                  "imported_from": origin}
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", model.rsplit("/", 1)[-1]).strip("-")[:40] or "model"
    return RunRecord(run_id=f"{slug}-inspect-{identity[:12]}", model=model, base_url=base_url, judge_model=judge,
                     judge_base_url=judge_url, parameters=json.dumps(parameters, sort_keys=True, default=str),
                     rubric_versions=rubric_versions, dataset_sha256=benchmark.sha256, package_version=package_version(),
                     smoke_test=smoke)


def _judge(log: EvalLog) -> tuple[str, str]:
    """The judge model and its endpoint: the ``grader`` role, else the task's ``judge`` argument."""
    role = (log.eval.model_roles or {}).get(JUDGE_ROLE)
    role = role[0] if isinstance(role, list) and role else role
    if role is not None and not isinstance(role, list):
        return role.model, public_url(role.base_url) if role.base_url else INSPECT_ENDPOINT
    judge = log.eval.task_args.get("judge")
    return (str(judge), INSPECT_ENDPOINT) if judge else ("not recorded in the Inspect log", INSPECT_ENDPOINT)


def _parameters(log: EvalLog, judge: str, wanted: list[str]) -> dict[str, Any]:
    """The run's parameters as ``run`` records them: from the task's arguments for the suite's
    task (the same ``RunConfig``), else what the log's generation settings say."""
    spec = log.eval
    args = spec.task_args
    generation = spec.model_generate_config
    if spec.task == TASK_NAME:
        names = ("requirements", "source", "prompt_ids", "limit", "limit_seed", "temperature", "max_tokens", "extra_body",
                 "judge_temperature", "judge_max_tokens", "judge_extra_body")
        config = judging_config(**{n: args[n] for n in names if args.get(n) is not None}, judge=judge)
        params = {**config.public_parameters(), "model": spec.model, "dataset_path": None,
                  "errors_in_log": args.get("errors")}
        protocol = get_protocol(config.protocol)
        params |= {"judge_template_version": protocol.template_version(), "rubric_sha256": protocol.rubric_sha256()}
        return params
    return {"protocol": _protocol(log), "model": spec.model, "judge_model": judge, "temperature": generation.temperature,
            "max_tokens": generation.max_tokens, "model_extra_body": generation.extra_body, "system_prompt": None,
            "requirements": wanted if set(wanted) != set(REQUIREMENT_KEYS) else None}


def _epoch(value: str | None) -> float:
    if not value:
        return datetime.now().timestamp()
    return datetime.fromisoformat(value).timestamp()
