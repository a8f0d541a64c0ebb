"""EUDAIMONIA as an Inspect task, judged by the suite's ``authors`` protocol.

    inspect eval eudaimonia_nb/interop/task.py --model openai/gpt-4o \\
        -T judge=openrouter/anthropic/claude-opus-4.6

Samples are the benchmark's prompts (``id`` and ``metadata.prompt_id`` the prompt id, metadata
with its source, labelled requirements and attributes), chosen by the same function as
``eudaimonia-nb run`` (``judging.plan.select``: requirements, source, prompt ids, a seeded,
source-stratified limit). The model answers each prompt once, single turn, at the task's
temperature, token limit and extra body (the authors' settings by default). One scorer per
requirement, named by its key, judges the samples labelled with it through
``judging.calls.judge`` (the suite's messages, parser, attempts and errors), so the scores are
the verdicts ``run`` would record for the same replies; a last scorer, ``all_checks``, gives
the overall rate (violations over judged checks). See docs/inspect.md.

This file is loaded by path by ``inspect eval``, so it imports the package absolutely.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from functools import cache
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.log import HeadlineMetric
from inspect_ai.model import GenerateConfig, Model, get_model, model_roles
from inspect_ai.scorer import SampleScore, Score, Scorer, Target, mean, metric, scorer, stderr
from inspect_ai.solver import TaskState, generate

from eudaimonia_nb.analysis.conventions import ERRORS_APART, check_convention
from eudaimonia_nb.benchmark.dataset import load_benchmark
from eudaimonia_nb.benchmark.design_code import REQUIREMENT_KEYS
from eudaimonia_nb.interop.client import InspectChatClient
from eudaimonia_nb.interop.scores import SCORE_METADATA, verdict_score
from eudaimonia_nb.judging.calls import judge as judge_check
from eudaimonia_nb.judging.config import RunConfig, parse_ids
from eudaimonia_nb.judging.plan import select
from eudaimonia_nb.judging.protocols import (DEFAULT_PROTOCOL, EMPTY_RESPONSE, check_extra_body, get_protocol,
                                             is_empty_response, parse_extra_body)
from eudaimonia_nb.judging.recording import no_response_verdict

TASK_NAME = "eudaimonia"
"""The task's name in Inspect logs (the import recognises the suite's own logs by it)."""
JUDGE_ROLE = "grader"
"""The Inspect model role of the judge (``--model-role grader=...``), Inspect's usual name."""
OVERALL = "all_checks"
"""Name of the scorer whose metric is the overall rate over every judged check."""
INSPECT_ENDPOINT = "inspect:"
"""Placeholder endpoint of the judging settings: Inspect resolves the models and their URLs."""


def judging_config(*, requirements: Sequence[str] | str | None = None, source: str | None = None,
                   prompt_ids: Sequence[str] | str | None = None, limit: int | None = None, limit_seed: int = 0,
                   temperature: float = 0.7, max_tokens: int = 2048, extra_body: dict | str | None = None,
                   judge: str | None = None, judge_temperature: float = 0.0, judge_max_tokens: int = 1024,
                   judge_extra_body: dict | str | None = None, dataset: str | None = None) -> RunConfig:
    """The task's arguments as the suite's ``RunConfig`` (validated the same way): what the
    subset selects and how the judge is called. Endpoints are Inspect's, not the config's."""
    # A `recipe` argument plugs in here (and in `eudaimonia`'s arguments, `export._spec`'s
    # task_args and `importer._parameters`' names): `judging.reproduce.recipe_config(find_recipe(recipe),
    # requirements=..., source=..., limit=..., limit_seed=..., dataset_path=dataset,
    # base_url=INSPECT_ENDPOINT, judge_base_url=INSPECT_ENDPOINT)` instead of the RunConfig below.
    return RunConfig(
        model="inspect-task", base_url=INSPECT_ENDPOINT, api_key_env=None, judge_model=judge or f"role:{JUDGE_ROLE}",
        judge_base_url=INSPECT_ENDPOINT, judge_api_key_env=None, temperature=temperature, max_tokens=max_tokens,
        judge_temperature=judge_temperature, judge_max_tokens=judge_max_tokens, requirements=_ids(requirements),
        source=source, prompt_ids=_ids(prompt_ids), limit=limit, limit_seed=limit_seed, dataset_path=dataset,
        protocol=DEFAULT_PROTOCOL, model_extra_body=_body(extra_body, "extra_body"),
        judge_extra_body=_body(judge_extra_body, "judge_extra_body"), smoke_test=False,
    )


def _ids(value: Sequence[str] | str | None) -> tuple[str, ...] | None:
    # -T requirements=a,b arrives as one string; a YAML list or a Python caller gives a list.
    if value is None:
        return None
    return parse_ids([value] if isinstance(value, str) else [str(v) for v in value])


def _body(value: dict | str | None, name: str) -> dict | None:
    # -T extra_body='{"reasoning": ...}' may arrive parsed (Inspect reads -T values as YAML) or as text.
    return parse_extra_body(value, name) if isinstance(value, str) else check_extra_body(value, name)


def prompt_samples(prompts: Any, wanted: Sequence[str]) -> list[Sample]:
    """One sample per prompt row (``judging.plan.select``'s prompts), with its metadata."""
    samples = []
    for row in prompts.to_dict("records"):
        labelled = [key for key in row["requirements"] if key in wanted]
        metadata = {
            "prompt_id": row["prompt_id"], "source": row["source"], "requirements": labelled,
            **{name: _text_or_none(row.get(name)) for name in ("language", "rewriter_model", "responder_model")},
            "line": int(row["line"]),
        }
        samples.append(Sample(id=row["prompt_id"], input=row["text"], target="", metadata=metadata))
    return samples


def _text_or_none(value: Any) -> str | None:
    # pandas gives NaN for a missing value in an object column; a log's metadata says null.
    return value if isinstance(value, str) else None


def judge_model(judge: str | None) -> Model:
    """The judge: ``-T judge=MODEL`` or the ``grader`` role, never both (they could differ). Either
    way it plays the ``grader`` role, so Inspect counts its tokens under that role."""
    bound = model_roles().get(JUDGE_ROLE)
    if judge and bound is not None:
        raise ValueError(f"the judge is given twice (-T judge={judge} and the {JUDGE_ROLE!r} model role); give one")
    if not judge and bound is None:
        raise ValueError(f"no judge: pass -T judge=MODEL or --model-role {JUDGE_ROLE}=MODEL")
    return get_model(role=JUDGE_ROLE, default=judge)


@cache
def requirement_scorer(key: str) -> Any:
    """The scorer of one requirement, registered under the requirement's key (so a sample's score
    for it is keyed by the key): Inspect's mean of its values is the requirement's rate. Its
    arguments are plain values, recorded in the log, so ``inspect score`` can make it again."""

    def judge_requirement(judge: str | None = None, judge_temperature: float = 0.0, judge_max_tokens: int = 1024,
                          judge_extra_body: dict | str | None = None, errors: str = ERRORS_APART) -> Scorer:
        config = judging_config(judge=judge, judge_temperature=judge_temperature, judge_max_tokens=judge_max_tokens,
                                judge_extra_body=judge_extra_body)
        check_convention(errors)

        async def score(state: TaskState, target: Target) -> Score | None:
            if key not in state.metadata.get("requirements", ()):
                return None  # not a check of this prompt
            prompt_id = str(state.metadata["prompt_id"])
            response = state.output.completion
            if is_empty_response(response):
                verdict = no_response_verdict(prompt_id, key, EMPTY_RESPONSE, config.protocol)
            else:
                client = InspectChatClient(judge_model(judge))
                verdict = await judge_check(client, key, state.input_text, response, config)
            return verdict_score(replace(verdict, prompt_id=prompt_id), errors)

        return score

    judge_requirement.__name__ = f"judge_{key}"
    return scorer(metrics=[mean(), stderr()], name=key)(judge_requirement)


@metric(name="violation_rate")
def violation_rate() -> Any:
    """Violations over judged checks, pooled over samples (each sample's score holds its counts)."""

    def compute(scores: list[SampleScore]) -> float:
        counts = [(s.score.metadata or {}).get(SCORE_METADATA, {}) for s in scores]
        judged = sum(int(c.get("judged", 0)) for c in counts)
        return sum(int(c.get("violations", 0)) for c in counts) / judged if judged else math.nan

    return compute


@scorer(metrics=[violation_rate()], name=OVERALL)
def all_checks(keys: Sequence[str]) -> Scorer:
    """A sample's share of violated checks; the metric pools every check of the eval. Reads the
    requirement scores made before it (Inspect runs a task's scorers in order), calls nothing."""

    async def score(state: TaskState, target: Target) -> Score | None:
        return overall_score(state.scores or {}, keys)

    return score


def overall_score(scores: dict[str, Score], keys: Sequence[str]) -> Score | None:
    """One sample's overall score from its requirement scores: its share of violated checks, with
    the counts the metric pools (None when the sample has no requirement score)."""
    values = [score.value for key, score in scores.items() if key in keys]
    if not values:
        return None
    counted = [float(v) for v in values if isinstance(v, (int, float)) and not math.isnan(float(v))]
    violations, judged, unscored = int(sum(counted)), len(counted), len(values) - len(counted)
    counts = {"violations": violations, "judged": judged, "unscored": unscored}
    value = violations / judged if judged else math.nan
    return Score(value=value, explanation=f"{violations} of {judged} judged checks violated; {unscored} unscored",
                 metadata={SCORE_METADATA: counts})


@task
def eudaimonia(requirements: Sequence[str] | str | None = None, source: str | None = None,
               prompt_ids: Sequence[str] | str | None = None, limit: int | None = None, limit_seed: int = 0,
               temperature: float = 0.7, max_tokens: int = 2048, extra_body: dict | str | None = None,
               judge: str | None = None, judge_temperature: float = 0.0, judge_max_tokens: int = 1024,
               judge_extra_body: dict | str | None = None, errors: str = ERRORS_APART,
               dataset: str | None = None) -> Task:
    """EUDAIMONIA: does the model harm its users socially? One score per labelled requirement,
    1 for a violation, judged with the authors' protocol.

    Args:
        requirements: requirement keys to judge (comma-separated; default all nine).
        source: only ``real`` or only ``modified`` prompts.
        prompt_ids: only these prompt ids (comma-separated).
        limit: at most this many prompts: a seeded sample keeping the real/modified proportions.
        limit_seed: seed of that sample (the same prompts as ``eudaimonia-nb run --limit-seed``).
        temperature: the model's temperature (the authors': 0.7).
        max_tokens: the model's output limit (the authors': 2,048).
        extra_body: JSON object of provider fields merged into the model's requests.
        judge: the judge model (else the ``grader`` model role); the authors': Claude Opus 4.6.
        judge_temperature: the judge's temperature (the authors': 0).
        judge_max_tokens: the judge's output limit (the authors': 1,024).
        judge_extra_body: JSON object of provider fields merged into the judge's requests.
        errors: what a check without a verdict scores: ``apart`` (unscored) or ``no_violation``
            (an unparseable judge reply scores 0, the authors' convention).
        dataset: the benchmark file (default: ``$EUDAIMONIA_DATASET`` or the fetched copy).
    """
    config = judging_config(
        requirements=requirements, source=source, prompt_ids=prompt_ids, limit=limit, limit_seed=limit_seed,
        temperature=temperature, max_tokens=max_tokens, extra_body=extra_body, judge=judge,
        judge_temperature=judge_temperature, judge_max_tokens=judge_max_tokens, judge_extra_body=judge_extra_body,
        dataset=dataset)
    check_convention(errors)
    benchmark = load_benchmark(config.dataset_path)
    prompts, checks = select(benchmark, config)
    keys = [key for key in REQUIREMENT_KEYS if key in set(checks["requirement"])]
    get_protocol(config.protocol).prepare()  # the authors' rubrics, fetched and verified before any call
    return Task(
        dataset=MemoryDataset(prompt_samples(prompts, keys), name=TASK_NAME, location=str(benchmark.path)),
        solver=generate(),
        scorer=[*(requirement_scorer(key)(judge=judge, judge_temperature=judge_temperature,
                                          judge_max_tokens=judge_max_tokens, judge_extra_body=config.judge_extra_body,
                                          errors=errors) for key in keys), all_checks(keys)],
        config=GenerateConfig(temperature=temperature, max_tokens=max_tokens, extra_body=config.model_extra_body),
        metadata={"dataset_sha256": benchmark.sha256, "dataset_official": benchmark.official,
                  "protocol": config.protocol, "errors": errors, "requirements": keys},
        name=TASK_NAME,
        headline_metric=HeadlineMetric(scorer=OVERALL, metric="violation_rate"),
    )
