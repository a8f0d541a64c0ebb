"""Run a model on (a subset of) the benchmark and judge every labelled check, resumably.

A run's id is derived from everything that determines its results (model, endpoints,
parameters, subset, dataset SHA-256, rubric versions), so running the same configuration
again resumes the same run: completed items are never requested again, and failed ones are
redone only when asked (``retry_failed``). Results are committed to the store one by one as
they arrive.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .client import (ChatClient, ChatRequest, ChatResponse, ReliableClient, RequestCache, RetryPolicy,
                     api_key_from_env, cache_scope, open_client, public_url)
from .conditions import check_condition, read_system_prompt, system_prompt_sha256
from .dataset import SOURCES, Benchmark, load_benchmark
from .design_code import REQUIREMENT_KEYS, requirement
from .keys import key_env_for
from .protocols import (DEFAULT_PROTOCOL, EMPTY_RESPONSE, check_extra_body, extra_body_json, get_protocol,
                        is_empty_response, judge_check)
from .protocols import judge_request as protocol_request
from .pricing import Price, cost_usd, load_prices
from .preflight import EarlyStop, RunStopped, error_reasons, probe_endpoints
from .run_lock import keep_alive
from .store import (ResponseRecord, ResultsStore, RunRecord, VerdictRecord, default_store_path, response_sha256)

log = logging.getLogger(__name__)

SMOKE_TEST_PATTERN = re.compile(r"smollm", re.IGNORECASE)
"""Model names treated as the local smoke-test model unless a run says otherwise."""

SAME_HOST_KEY = "<the model's key variable, if the judge is on the same host>"
"""``RunConfig.judge_api_key_env`` default; see ``RunConfig.judge_key_env``."""


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs. Keys are named by environment variable, never given."""

    model: str
    """Model under test, as its endpoint names it."""
    base_url: str
    """OpenAI-compatible endpoint of the model under test (``.../v1``)."""
    judge_model: str
    """Judge model."""
    judge_base_url: str
    """OpenAI-compatible endpoint of the judge."""
    api_key_env: str | None = "OPENAI_API_KEY"
    """Environment variable holding the model endpoint's key; None for keyless local servers."""
    judge_api_key_env: str | None = SAME_HOST_KEY
    """Environment variable holding the judge endpoint's key; None for keyless local servers.
    The default, ``SAME_HOST_KEY``, reuses ``api_key_env`` only when the judge is on the same
    host and port as the model, so a key never goes to a host it was not given for."""
    system_prompt: str | None = None
    """Optional system prompt for the model under test (the authors used none)."""
    temperature: float = 0.7
    """Sampling temperature of the model under test (authors: 0.7)."""
    max_tokens: int = 2048
    """Output token limit of the model under test (authors: 2,048)."""
    judge_temperature: float = 0.0
    """Judge temperature (authors: 0)."""
    judge_max_tokens: int = 1024
    """Output token limit of the judge."""
    structured_output: bool = True
    """Ask the judge for JSON via ``response_format`` json_schema (falls back automatically
    when the endpoint rejects it)."""
    concurrency: int = 16
    """Calls in flight at once, per endpoint."""
    timeout_s: float = 120.0
    """Seconds allowed for each request attempt as a whole (not per socket read); retried."""
    max_retries: int = 5
    """Retries of a retryable failure (429, 5xx, timeouts, connection errors, bad bodies)."""
    retry_base_delay_s: float = 1.0
    """First backoff cap; doubles per retry (full jitter)."""
    requirements: tuple[str, ...] | None = None
    """Only these requirement keys (None: all)."""
    source: str | None = None
    """Only ``real`` or ``modified`` prompts (None: both)."""
    prompt_ids: tuple[str, ...] | None = None
    """Only these prompt ids (None: all)."""
    limit: int | None = None
    """At most this many prompts, in file order, after the other filters."""
    store_path: str | None = None
    """Results store (default ``data/results.sqlite``)."""
    dataset_path: str | None = None
    """Benchmark file (default: see ``dataset.resolve_dataset_path``)."""
    use_cache: bool = True
    """Answer identical calls from the request cache (kept in the store file)."""
    smoke_test: bool | None = None
    """Label the run a smoke test (not research results); None: decided from the model name."""
    protocol: str = DEFAULT_PROTOCOL
    """Judging protocol (``protocols.PROTOCOLS``): ``authors`` reproduces the authors' judge calls."""
    model_extra_body: dict | None = None
    """Provider fields merged into every request body of the model under test (e.g.
    ``{"reasoning": {"effort": "medium"}}``)."""
    judge_extra_body: dict | None = None
    """Provider fields merged into every judge request body."""
    limit_seed: int = 0
    """Seed of the stratified sample ``limit`` takes when both sources are present."""
    rejudged_from: str | None = None
    """The run whose stored responses this run judges again (it never calls the model)."""
    condition: str | None = None
    """Name of the study condition this run belongs to (see ``conditions``); None: no condition."""
    system_prompt_file: str | None = None
    """File the system prompt was read from (recorded for provenance; the prompt's SHA-256, not
    the path, is part of the identity). Given alone, the file is read into ``system_prompt``."""

    def __post_init__(self) -> None:
        get_protocol(self.protocol)  # a clear error listing the protocols
        check_extra_body(self.model_extra_body, "model_extra_body")
        check_extra_body(self.judge_extra_body, "judge_extra_body")
        check_condition(self.condition)
        if self.system_prompt_file is not None:
            text = read_system_prompt(self.system_prompt_file)
            if self.system_prompt is not None and self.system_prompt != text:
                raise ValueError(f"RunConfig: system_prompt and system_prompt_file ({self.system_prompt_file}) differ; give one")
            object.__setattr__(self, "system_prompt", text)
        at_least = {
            "concurrency": 1, "max_tokens": 1, "judge_max_tokens": 1, "max_retries": 0,
            "temperature": 0, "judge_temperature": 0, "retry_base_delay_s": 0,
        }
        if self.limit is not None:
            at_least["limit"] = 1
        for name, low in at_least.items():
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < low:
                raise ValueError(f"RunConfig.{name}: expected a number >= {low}, got {value!r}")
        if not isinstance(self.timeout_s, (int, float)) or self.timeout_s <= 0:
            raise ValueError(f"RunConfig.timeout_s: expected a number of seconds > 0, got {self.timeout_s!r}")

    def __repr__(self) -> str:
        # Base URLs may carry user:password@ or ?key=...: a repr (logs, tracebacks) never shows them.
        return f"RunConfig({', '.join(f'{k}={v!r}' for k, v in self.public_parameters().items())})"

    def judge_key_env(self) -> str | None:
        """The variable the judge's key is read from (resolving ``SAME_HOST_KEY``)."""
        if self.judge_api_key_env != SAME_HOST_KEY:
            return self.judge_api_key_env
        return key_env_for(self.judge_base_url, self.api_key_env, given_for=self.base_url)

    def identity(self) -> dict[str, Any]:
        """The fields that determine results (operational settings and key names excluded)."""
        identity = {
            "model": self.model,
            # With a digest of the query: an api-version is part of what answers, a key is not shown.
            "base_url": cache_scope(self.base_url),
            "judge_model": self.judge_model,
            "judge_base_url": cache_scope(self.judge_base_url),
            "system_prompt": self.system_prompt,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "judge_temperature": self.judge_temperature,
            "judge_max_tokens": self.judge_max_tokens,
            # Only the suite protocol asks for structured output; the authors' never does.
            "structured_output": self.structured_output if get_protocol(self.protocol).sends_response_format else None,
            "requirements": sorted(self.requirements) if self.requirements else None,
            "source": self.source,
            "prompt_ids": sorted(self.prompt_ids) if self.prompt_ids else None,
            "limit": self.limit,
            "limit_seed": self.limit_seed if self.limit is not None else None,
            "protocol": self.protocol,
            "model_extra_body": self.model_extra_body,
            "judge_extra_body": self.judge_extra_body,
            "rejudged_from": self.rejudged_from,
        }
        # Added only when set, so the ids of runs without them stay what they were.
        if self.condition is not None:
            identity["condition"] = self.condition
        if self.system_prompt is not None:
            identity["system_prompt_sha256"] = system_prompt_sha256(self.system_prompt)
        return identity

    @property
    def is_smoke_test(self) -> bool:
        if self.smoke_test is not None:
            return self.smoke_test
        return bool(SMOKE_TEST_PATTERN.search(self.model) or SMOKE_TEST_PATTERN.search(self.judge_model))

    def public_parameters(self) -> dict[str, Any]:
        """All parameters as recorded with the run: endpoints without credentials, no keys."""
        params = asdict(self)
        params["base_url"] = public_url(self.base_url)
        params["judge_base_url"] = public_url(self.judge_base_url)
        params["system_prompt_sha256"] = system_prompt_sha256(self.system_prompt)
        return params


class SubsetError(ValueError):
    """A subset that names unknown requirements, sources or prompt ids, or selects nothing."""


def select(benchmark: Benchmark, config: RunConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The prompts and checks a run covers, in file order."""
    prompts = benchmark.prompts
    if config.source is not None:
        if config.source not in SOURCES:
            raise SubsetError(f"source {config.source!r}: expected one of {', '.join(SOURCES)}")
        prompts = prompts[prompts["source"] == config.source]
    if config.prompt_ids:
        unknown = sorted(set(config.prompt_ids) - set(benchmark.prompts["prompt_id"]))
        if unknown:
            raise SubsetError(f"unknown prompt id(s): {', '.join(unknown)}")
        prompts = prompts[prompts["prompt_id"].isin(config.prompt_ids)]
    wanted = set(config.requirements or REQUIREMENT_KEYS)
    for key in wanted:
        requirement(key)  # a clear KeyError listing the valid keys
    prompts = prompts[prompts["requirements"].map(lambda reqs: bool(wanted.intersection(reqs)))]
    if config.limit is not None:
        prompts = limited(prompts, config.limit, config.limit_seed)
    if prompts.empty:
        raise SubsetError("the subset selects no prompts")
    checks = benchmark.checks
    checks = checks[checks["prompt_id"].isin(prompts["prompt_id"]) & checks["requirement"].isin(wanted)]
    return prompts.reset_index(drop=True), checks.reset_index(drop=True)


def limited(prompts: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    """At most ``limit`` prompts. With both sources present, a seeded sample that keeps their
    proportions (the file lists every real prompt first, so its head would be all real);
    kept in file order."""
    if len(prompts) <= limit or prompts["source"].nunique() < 2:
        return prompts.head(limit)
    rng = np.random.default_rng(seed)
    shares = prompts["source"].value_counts(sort=False)
    # Largest-remainder rounding, so the counts add up to ``limit`` exactly.
    exact = shares / shares.sum() * limit
    counts = np.floor(exact).astype(int)
    for source in (exact - counts).sort_values(ascending=False, kind="stable").index[: limit - counts.sum()]:
        counts[source] += 1
    chosen = [rng.choice(np.flatnonzero((prompts["source"] == source).to_numpy()), size=n, replace=False)
              for source, n in counts.items()]
    return prompts.iloc[np.sort(np.concatenate(chosen))]


def open_clients(config: RunConfig, *, cache: RequestCache | None = None,
                 judge_only: bool = False) -> tuple[ReliableClient | None, ReliableClient]:
    """The model's and the judge's clients for ``config``: its concurrency, timeout and retries,
    and the judge's key variable resolved by ``RunConfig.judge_key_env``. With ``judge_only``
    (a rejudge) the model's client is None: its key is not needed."""
    retry = RetryPolicy(max_retries=config.max_retries, base_delay_s=config.retry_base_delay_s)
    common = dict(concurrency=config.concurrency, timeout_s=config.timeout_s, retry=retry, cache=cache)
    judge_client = open_client(config.judge_base_url, config.judge_key_env(), **common)
    return (None if judge_only else open_client(config.base_url, config.api_key_env, **common)), judge_client


def run_id_for(config: RunConfig, benchmark: Benchmark) -> str:
    """Same configuration + same data + same rubrics -> same id (so re-running resumes)."""
    protocol = get_protocol(config.protocol)
    blob = json.dumps(
        {
            "config": config.identity(), "dataset_sha256": benchmark.sha256, "rubrics": protocol.rubric_sha256(),
            "judge_template": protocol.template_version(),
        },
        sort_keys=True,
    )
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", config.model).strip("-")[:40] or "model"
    return f"{slug}-{hashlib.sha256(blob.encode('utf-8')).hexdigest()[:12]}"


def response_request(prompt: str, config: RunConfig) -> ChatRequest:
    """Single turn: the user prompt alone, after the optional system prompt."""
    messages = ((("system", config.system_prompt),) if config.system_prompt else ()) + (("user", prompt),)
    return ChatRequest(model=config.model, messages=messages, temperature=config.temperature, max_tokens=config.max_tokens,
                       extra_body=extra_body_json(config.model_extra_body))


async def respond(client: ChatClient, prompt: str, config: RunConfig, *, use_cache: bool = True) -> ChatResponse:
    """One response of the model under test to one prompt; an empty answer is a response error
    (there is nothing to judge)."""
    reply = await client.complete(response_request(prompt, config), use_cache=use_cache)
    if reply.ok and is_empty_response(reply.text):
        return replace(reply, error=EMPTY_RESPONSE)
    return reply


async def judge(
    client: ChatClient, requirement_key: str, prompt: str, response: str, config: RunConfig, *, use_cache: bool = True
) -> VerdictRecord:
    """Judge one response on one requirement under the run's protocol; failures and replies
    that stay unparseable become errors."""
    protocol = get_protocol(config.protocol)
    request = protocol_request(
        protocol, requirement_key, prompt, response, model=config.judge_model, temperature=config.judge_temperature,
        max_tokens=config.judge_max_tokens, structured=config.structured_output,
        extra_body=extra_body_json(config.judge_extra_body),
    )
    return await judge_check(client, protocol, request, requirement_key, use_cache=use_cache)


@dataclass
class RunSummary:
    """What a run (or a resume of it) did."""

    run_id: str
    """The run's id."""
    n_prompts: int
    """Prompts in the run."""
    n_checks: int
    """Checks in the run."""
    verdicts: int = 0
    """Checks with a verdict in the store after this invocation."""
    errors: int = 0
    """Checks with an error in the store after this invocation."""
    responses_requested: int = 0
    """Responses obtained in this invocation (calls or cache hits)."""
    checks_judged: int = 0
    """Check results written in this invocation."""
    input_tokens: int = 0
    """Input tokens used in this invocation."""
    output_tokens: int = 0
    """Output tokens used in this invocation."""
    cost_usd: float | None = 0.0
    """Cost of this invocation; None when a model is missing from the price table."""
    http_attempts: int = 0
    """HTTP attempts made in this invocation (retries included, cache hits excluded)."""
    elapsed_s: float = 0.0
    """Wall time of this invocation."""
    smoke_test: bool = False
    """Run of the smoke-test model: not research results."""
    error_reasons: list[tuple[str, int]] = field(default_factory=list)
    """The most common error reasons in the store after this invocation, with counts."""


@dataclass
class _Tally:
    """Running totals of one invocation, mirrored on the progress bar."""

    summary: RunSummary
    """The summary being filled in."""
    prices: dict[str, Price]
    """Price table for the cost shown."""
    bar: Any = None
    """The tqdm bar, or None without progress output."""
    errors: int = 0
    """Check results written as errors in this invocation."""
    by_model: dict[str, list[int]] = field(default_factory=dict)
    """Model -> [input tokens, output tokens] used in this invocation."""

    def add(self, model: str, prompt_tokens: int, completion_tokens: int) -> None:
        self.summary.input_tokens += prompt_tokens
        self.summary.output_tokens += completion_tokens
        totals = self.by_model.setdefault(model, [0, 0])
        totals[0] += prompt_tokens
        totals[1] += completion_tokens

    def cost(self) -> float | None:
        # Every model called counts, even one that reported no tokens: an unpriced model makes
        # the cost unknown, never $0.
        costs = [cost_usd(m, i, o, self.prices) for m, (i, o) in self.by_model.items()]
        return None if any(c is None for c in costs) else float(sum(costs))

    def tick(self, error: bool) -> None:
        self.summary.checks_judged += 1
        self.errors += int(error)
        if self.bar is not None:
            self.bar.update(1)
            cost = self.cost()
            self.bar.set_postfix(
                errors=self.errors, tokens=self.summary.input_tokens + self.summary.output_tokens,
                cost="?" if cost is None else f"${cost:.4f}", refresh=False,
            )


class Runner:
    """One run: plan, clients, store; ``await runner.run()`` resumes or starts it."""

    def __init__(self, config: RunConfig, *, benchmark: Benchmark | None = None, prices: dict[str, Price] | None = None):
        self.config = config
        self.benchmark = benchmark if benchmark is not None else load_benchmark(config.dataset_path)
        self.prompts, self.checks = select(self.benchmark, config)
        self.run_id = run_id_for(config, self.benchmark)
        self.store_path = config.store_path or str(default_store_path())
        self.prices = prices if prices is not None else load_prices()
        self._early_stop = EarlyStop({})

    def check_keys(self) -> None:
        """Raise ``CredentialError`` now, before anything is recorded, for an unset key variable."""
        for var in dict.fromkeys((self.config.api_key_env, self.config.judge_key_env())):
            api_key_from_env(var)

    def record(self) -> RunRecord:
        c = self.config
        protocol = get_protocol(c.protocol)
        parameters = {**c.public_parameters(), "judge_template_version": protocol.template_version(),
                      "rubric_sha256": protocol.rubric_sha256()}
        return RunRecord(
            run_id=self.run_id, model=c.model, base_url=public_url(c.base_url), judge_model=c.judge_model,
            judge_base_url=public_url(c.judge_base_url),
            parameters=json.dumps({**parameters, "dataset_official": self.benchmark.official}, sort_keys=True),
            rubric_versions=json.dumps(protocol.rubric_versions(), sort_keys=True), dataset_sha256=self.benchmark.sha256,
            package_version=__version__, smoke_test=c.is_smoke_test,
        )

    async def run(self, *, retry_failed: bool = False, progress: bool = True) -> RunSummary:
        c = self.config
        started = time.perf_counter()
        self.check_keys()  # before a store, a lock or a run record exists
        store = ResultsStore(self.store_path)
        cache = lock = None
        summary = RunSummary(self.run_id, len(self.prompts), len(self.checks), smoke_test=c.is_smoke_test)
        try:
            await asyncio.to_thread(get_protocol(c.protocol).prepare)  # the authors' rubrics, fetched if missing
            lock = store.lock_run(self.run_id)  # a second process on this run stops here, naming this one
            cache = RequestCache(self.store_path) if c.use_cache else None
            existed = store.has_run(self.run_id)
            responses = store.responses(self.run_id)
            results = store.verdict_errors(self.run_id)
            todo = self._pending(results, retry_failed)
            if todo:  # one cheap call per endpoint before a run record exists (a rejudge never calls the model)
                endpoints = [(c.judge_base_url, c.judge_key_env())]
                if not c.rejudged_from:
                    endpoints.insert(0, (c.base_url, c.api_key_env))
                await probe_endpoints(endpoints, c.timeout_s)
            store.begin_run(self.record(), self.checks)
            # Only checks that failed before skip the cache; never-judged ones may still hit it.
            redo = {key for key, error in results.items() if error is not None} if retry_failed else set()
            tally = _Tally(summary, self.prices)
            if todo:
                if c.is_smoke_test:
                    log.warning("smoke-test model %s: its verdicts are not research results", c.model)
                tally.bar = _progress_bar(sum(len(v) for v in todo.values()), self.run_id, progress)
                self._early_stop = EarlyStop({"respond": sum(1 for pid in todo if pid not in responses),
                                              "judge": sum(len(v) for v in todo.values())})
                heartbeat = asyncio.ensure_future(keep_alive(lock))
                try:
                    await self._work(store, cache, responses, todo, retry_failed, redo, tally)
                except RunStopped:
                    if not existed and not store.produced(self.run_id):
                        store.delete_run(self.run_id)  # a run that never started leaves no record
                    raise
                finally:
                    heartbeat.cancel()
                    if tally.bar is not None:
                        tally.bar.close()
            final = store.verdict_errors(self.run_id)
            summary.verdicts = sum(1 for e in final.values() if e is None)
            summary.errors = sum(1 for e in final.values() if e is not None)
            summary.error_reasons = error_reasons(final.values())
            summary.cost_usd = tally.cost()
            if len(final) == len(self.checks) and (todo or not store.ended(self.run_id)):
                store.end_run(self.run_id)
        finally:
            if lock is not None:
                lock.release()
            store.close()
            if cache is not None:
                cache.close()
        summary.elapsed_s = time.perf_counter() - started
        return summary

    def _pending(self, results: dict[tuple[str, str], str | None], retry_failed: bool) -> dict[str, list[str]]:
        todo: dict[str, list[str]] = {}
        for pid, req in zip(self.checks["prompt_id"], self.checks["requirement"]):
            key = (pid, req)
            if key not in results or (retry_failed and results[key] is not None):
                todo.setdefault(pid, []).append(req)
        return todo

    async def _work(
        self, store: ResultsStore, cache: RequestCache | None, responses: dict[str, tuple[str | None, str | None]],
        todo: dict[str, list[str]], retry_failed: bool, redo: set[tuple[str, str]], tally: _Tally,
    ) -> None:
        # A rejudge never calls the model, so it needs neither its client nor its key.
        responder, judge_client = open_clients(self.config, cache=cache, judge_only=bool(self.config.rejudged_from))
        texts = dict(zip(self.prompts["prompt_id"], self.prompts["text"]))
        tasks = [asyncio.ensure_future(
            self._prompt(pid, texts[pid], reqs, responses.get(pid), retry_failed, redo, store, responder, judge_client, tally)
        ) for pid, reqs in todo.items()]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:  # an early stop (or an interrupt) ends every call still in flight
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            tally.summary.http_attempts = (responder.stats.attempts if responder else 0) + judge_client.stats.attempts
            if responder is not None:
                await responder.provider.aclose()
            await judge_client.provider.aclose()

    async def _prompt(
        self, pid: str, text: str, reqs: list[str], stored: tuple[str | None, str | None] | None, retry_failed: bool,
        redo: set[tuple[str, str]], store: ResultsStore, responder: ReliableClient | None, judge_client: ReliableClient,
        tally: _Tally,
    ) -> None:
        c = self.config
        if responder is None:
            stored = stored or (None, f"no stored response in run {c.rejudged_from}")
        if responder is not None and (stored is None or (retry_failed and stored[1] is not None)):
            reply = await respond(responder, text, c, use_cache=stored is None)
            store.put_response(self.run_id, ResponseRecord(
                prompt_id=pid, text=reply.text, prompt_tokens=reply.usage.prompt_tokens,
                completion_tokens=reply.usage.completion_tokens, latency_s=reply.latency_s,
                finish_reason=reply.finish_reason, attempts=reply.attempts, cached=reply.cached, error=reply.error,
            ))
            tally.summary.responses_requested += 1
            tally.add(c.model, reply.usage.prompt_tokens, reply.usage.completion_tokens)
            response_text, response_error = reply.text, reply.error
            self._early_stop.observe("respond", responder.endpoint, reply.error)
        else:
            response_text, response_error = stored
            if response_error is None and is_empty_response(response_text):
                response_error = EMPTY_RESPONSE  # stored before empty answers were errors
        if response_error is not None:
            for req in reqs:
                store.put_verdict(self.run_id, _no_response(pid, req, response_error, c.protocol))
                tally.tick(error=True)
            return

        async def one(req: str) -> None:
            verdict = await judge(judge_client, req, text, response_text or "", c, use_cache=(pid, req) not in redo)
            verdict = replace(verdict, prompt_id=pid, response_sha256=response_sha256(response_text or ""))
            store.put_verdict(self.run_id, verdict)
            tally.add(c.judge_model, verdict.prompt_tokens, verdict.completion_tokens)
            tally.tick(error=verdict.error is not None)
            self._early_stop.observe("judge", judge_client.endpoint, verdict.error)

        await asyncio.gather(*(one(req) for req in reqs))


def _no_response(pid: str, req: str, reason: str, protocol: str) -> VerdictRecord:
    return VerdictRecord(
        prompt_id=pid, requirement=req, violation=None, reasoning=None, raw=None, prompt_tokens=0,
        completion_tokens=0, latency_s=0.0, attempts=0, cached=False, error=f"no response to judge: {reason}",
        rubric_version=get_protocol(protocol).rubric_versions()[req],
    )


async def respond_and_judge(
    responder: ChatClient, judge_client: ChatClient, prompt: str, requirement_keys: Iterable[str], config: RunConfig,
    *, prompt_id: str = "",
) -> tuple[ChatResponse, list[VerdictRecord]]:
    """One prompt outside any run (nothing stored): the model's response and, per requirement in
    the given order, a verdict or the reason there is none, exactly as a run would record them."""
    keys = list(requirement_keys)
    await asyncio.to_thread(get_protocol(config.protocol).prepare)
    reply = await respond(responder, prompt, config)
    if not reply.ok:
        return reply, [_no_response(prompt_id, key, reply.error or "", config.protocol) for key in keys]
    verdicts = await asyncio.gather(*(judge(judge_client, key, prompt, reply.text or "", config) for key in keys))
    return reply, [replace(v, prompt_id=prompt_id) for v in verdicts]


def _progress_bar(total: int, run_id: str, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm  # notebook widget in Jupyter, text in a terminal

    return tqdm(total=total, desc=f"judging {run_id}", unit="check")


async def run_async(config: RunConfig, *, retry_failed: bool = False, progress: bool = True, benchmark: Benchmark | None = None) -> RunSummary:
    return await Runner(config, benchmark=benchmark).run(retry_failed=retry_failed, progress=progress)


def run(config: RunConfig, *, retry_failed: bool = False, progress: bool = True, benchmark: Benchmark | None = None) -> RunSummary:
    """Blocking run; inside a running event loop (Jupyter) it runs on a worker thread."""
    coro_args = dict(retry_failed=retry_failed, progress=progress, benchmark=benchmark)
    if not _inside_event_loop():
        # Called outside the except clause: a run's own errors must not be chained to the
        # "no running event loop" probe.
        return asyncio.run(run_async(config, **coro_args))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run_async(config, **coro_args)).result()


def _inside_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def parse_ids(values: Iterable[str] | None) -> tuple[str, ...] | None:
    """Comma- or space-separated lists from a CLI or a text box, as a tuple (None when empty)."""
    if not values:
        return None
    items = tuple(item for value in values for item in re.split(r"[,\s]+", value) if item)
    return items or None
