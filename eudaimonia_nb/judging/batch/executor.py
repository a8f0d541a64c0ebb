"""A batched run: the calls a live run would make, sent through a provider's batch API, with a
ledger in the results store that makes it restart-proof.

A run has two phases, each live or batched (``Modes``): the model's responses, then judge calls
built from the stored responses (so the judge phase also works on responses that came live, and on
a rejudge). Each pass of the loop

1. reconciles intents recorded before a crash with the provider's list of batches (by the tag in
   the batch's metadata where the dialect keeps metadata, else by model, size and time);
2. polls the open batches and, for each one that ended, stores every line's outcome together with
   the response or verdict it completes, in one transaction (exactly once);
3. works out what is still to send from the store and the ledger, nothing else (``lines``): a
   sample (a response of an epoch, or one judge repeat of a check on it) without a record and no
   line in flight gets a line, with the next attempt number (a resubmission of a failed or expired
   line, or the authors' re-ask of an unparseable answer: a follow-up batch of only those); a
   line is recorded in the ledger before its batch is submitted;
4. sleeps ``poll_interval_s`` (or returns at once with ``wait=False``).

Failed lines are resubmitted up to ``max_retries`` times, then recorded as errors, as live calls
are; the judge's replies are read by ``protocols.read_replies``, the live path's reader.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ...benchmark.dataset import Benchmark
from ...store.batch_ledger import INTENT, BatchLedger, Job, LineOutcome, Request, add_spend
from ...store.results import ResultsStore, StoreError
from ...store.run_lock import keep_alive
from ..calls import checked_response, judge, judge_request, open_clients, respond, response_request
from ..client import ChatResponse, Usage, api_key_from_env
from ..config import RunConfig
from ..cost_cap import CostCap, CostCapReached, capped, require_prices, spent_usd, worst_case_tokens
from ..plan import RunPlan
from ..preflight import error_reasons
from ..pricing import Price, cost_usd, load_prices
from ..protocols import get_protocol, read_replies
from ..recording import RunSummary, copy_responses, no_response_verdict, record_response, record_verdict
from .lines import JUDGE, RESPOND, Key, Line, check_key, plan_lines
from .openrouter import batch_model
from .protocol import DIALECTS, LIVE, BatchAPIError, BatchLine, BatchTag, Dialect, RemoteBatch, custom_id, ids_sha256
from .dialects import open_dialect

log = logging.getLogger(__name__)

RECONCILE_SLACK_S = 600.0
"""A provider batch created up to this long before an intent (clock skew) may be that intent's."""
__all__ = ["BatchOutcome", "BatchProgress", "BatchRun", "BatchRunError", "JUDGE", "Modes", "RESPOND", "check_key",
           "logical_replies"]


@dataclass(frozen=True)
class Modes:
    """How each phase of a run is executed: ``live`` or a batch dialect."""

    respond: str = LIVE
    """The model under test's responses."""
    judge: str = LIVE
    """The judge calls."""

    @property
    def batched(self) -> bool:
        return LIVE not in (self.respond, self.judge) or self.respond != self.judge


@dataclass(frozen=True)
class BatchProgress:
    """One progress line of a batched run."""

    open_batches: int
    """Batches submitted and not collected."""
    done: int
    """Check results (every epoch and judge repeat) with a verdict or error in the store."""
    failed: int
    """Of those, errors."""
    pending: int
    """Check results still without a record."""
    elapsed_s: float
    """Since this invocation started."""
    spent_usd: float | None
    """Billed so far for the whole run (None when a model is unpriced)."""

    def describe(self) -> str:
        cost = "?" if self.spent_usd is None else f"${self.spent_usd:,.4f}"
        return (f"batches open {self.open_batches}; checks done {self.done} (failed {self.failed}), pending {self.pending}; "
                f"{self.elapsed_s:,.0f} s; spent {cost}")


@dataclass
class BatchOutcome:
    """What a batched invocation did: the live run's summary plus the state of the batches."""

    summary: RunSummary
    """Counts as a live run reports them."""
    open_batches: int = 0
    """Batches still running at the provider when the invocation returned."""
    stopped: str | None = None
    """Why it stopped early (the cost cap), None when it ran to completion or ``wait=False``."""
    submitted: int = 0
    """Batches submitted in this invocation."""


class BatchRunError(RuntimeError):
    """A batch the provider refused for good (the message is the provider's, redacted)."""


@dataclass
class _Tally:
    by_mode: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    records: int = 0
    responses: int = 0

    def add(self, mode: str, model: str, tokens_in: int, tokens_out: int) -> None:
        totals = self.by_mode[(mode, model)]
        totals[0] += tokens_in
        totals[1] += tokens_out


def logical_replies(chain: list[Request], max_retries: int) -> tuple[list[ChatResponse], bool]:
    """The replies a chain of line outcomes amounts to, as a live client would have returned them
    (a failed line retried up to ``max_retries`` times), and whether the last call is still being
    retried (a line must be sent again)."""
    replies: list[ChatResponse] = []
    failures = attempts = 0
    for r in chain:
        attempts += 1
        usage = Usage(r.prompt_tokens, r.completion_tokens)
        if r.outcome == "succeeded":
            replies.append(ChatResponse(text=r.text, usage=usage, finish_reason=r.finish_reason, attempts=attempts,
                                        reasoning=r.reasoning))
            failures = attempts = 0
            continue
        failures += 1
        if not r.retryable or failures > max_retries:
            note = f" (gave up after {attempts} attempts)" if r.retryable else ""
            replies.append(ChatResponse(text=None, usage=usage, error=f"{r.error or r.outcome}{note}", attempts=attempts))
            failures = attempts = 0
    return replies, attempts > 0


class BatchRun:
    """One batched run; ``await BatchRun(...).run()`` resumes or starts it."""

    def __init__(self, config: RunConfig, modes: Modes, *, benchmark: Benchmark | None = None,
                 prices: dict[str, Price] | None = None, poll_interval_s: float = 30.0, wait: bool = True,
                 max_cost_usd: float | None = None, retry_failed: bool = False,
                 report: Callable[[BatchProgress], None] | None = None,
                 dialect_factory: Callable[[str, str, str | None], Dialect] = open_dialect):
        for mode in (modes.respond, modes.judge):
            if mode != LIVE and mode not in DIALECTS:
                raise ValueError(f"unknown execution mode {mode!r}; expected {LIVE}, {', '.join(DIALECTS)}")
        self.config = config
        self.modes = modes
        self.plan = RunPlan.build(config, benchmark)
        self.run_id = self.plan.run_id
        self.prices = prices if prices is not None else load_prices()
        self.poll_interval_s = poll_interval_s
        self.wait = wait
        self.max_cost_usd = max_cost_usd
        self.retry_failed = retry_failed
        self.report = report
        self._factory = dialect_factory
        self._protocol = get_protocol(config.protocol)
        self._texts = self.plan.prompt_texts()
        self._phases = [JUDGE] if config.rejudged_from else [RESPOND, JUDGE]
        self._done_now: set[Key] = set()  # keys given a record in this invocation (retry_failed redoes once)
        self._tally = _Tally()
        self._cap: CostCap | None = None

    # -- set-up -------------------------------------------------------------------------------

    def _mode(self, phase: str) -> str:
        return self.modes.respond if phase == RESPOND else self.modes.judge

    def _endpoint(self, phase: str) -> tuple[str, str | None, str]:
        c = self.config
        return (c.base_url, c.api_key_env, c.model) if phase == RESPOND else (c.judge_base_url, c.judge_key_env(), c.judge_model)

    def check_keys(self) -> None:
        for phase in self._phases:
            api_key_from_env(self._endpoint(phase)[1])

    async def run(self) -> BatchOutcome:
        started = time.perf_counter()
        self.check_keys()
        if self.max_cost_usd is not None:
            require_prices([(self._endpoint(p)[2], self._mode(p)) for p in self._phases], self.prices)
        store = ResultsStore(self.plan.store_path)
        lock = heartbeat = None
        dialects: dict[str, Dialect] = {}
        outcome = BatchOutcome(RunSummary(self.run_id, len(self.plan.prompts), len(self.plan.checks),
                                          smoke_test=self.config.is_smoke_test, epochs=self.config.epochs,
                                          judge_repeats=self.config.judge_repeats))
        try:
            await asyncio.to_thread(self._protocol.prepare)
            for phase in self._phases:
                if self._mode(phase) != LIVE:
                    base_url, key_env, _ = self._endpoint(phase)
                    dialects[phase] = self._factory(self._mode(phase), base_url, key_env)
            self._validate(dialects)  # a request the dialect cannot express stops the run before anything is recorded
            lock = store.lock_run(self.run_id)
            store.begin_run(self.plan.record(), self.plan.checks)
            if self.config.rejudged_from:  # recorded only now, after validation, as a live rejudge is
                copy_responses(store, self.config.rejudged_from, self.run_id)
            ledger = BatchLedger(store)
            self._refuse_other_modes(ledger)
            if self.max_cost_usd is not None:
                self._cap = CostCap(self.max_cost_usd, self.prices, spent_usd(store, self.run_id, self.prices))
                self._cap.reserved_usd = sum(j.estimated_cost_usd or 0.0 for j in ledger.jobs(self.run_id) if j.open)
            heartbeat = asyncio.ensure_future(keep_alive(lock))
            await self._loop(store, ledger, dialects, outcome, started)
            final = store.verdict_samples(self.run_id)
            s = outcome.summary
            s.verdicts = sum(1 for e in final.values() if e is None)
            s.errors = sum(1 for e in final.values() if e is not None)
            s.error_reasons = error_reasons(final.values())
            s.checks_judged, s.responses_requested = self._tally.records, self._tally.responses
            s.input_tokens = sum(v[0] for v in self._tally.by_mode.values())
            s.output_tokens = sum(v[1] for v in self._tally.by_mode.values())
            s.cost_usd = self._invocation_cost()
            outcome.open_batches = sum(1 for j in ledger.jobs(self.run_id) if j.open)
            if len(final) == self.plan.n_results and not outcome.open_batches and not store.ended(self.run_id):
                store.end_run(self.run_id)
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
            for dialect in dialects.values():
                await dialect.aclose()
            if lock is not None:
                lock.release()
            store.close()
        outcome.summary.elapsed_s = time.perf_counter() - started
        return outcome

    def _refuse_other_modes(self, ledger: BatchLedger) -> None:
        """A run resumed in another mode for a phase whose batches are still open would wait for
        them forever (only the phase's own dialect polls them): refused, naming the flag."""
        for job in ledger.jobs(self.run_id):
            if job.open and job.phase in self._phases and self._mode(job.phase) != job.provider:
                flag = "--batch" if job.phase == RESPOND else "--judge-batch"
                raise ValueError(f"run {self.run_id} has open {job.phase} batches at {job.provider} "
                                 f"(`eudaimonia-nb batches` lists them): resume it with {flag} {job.provider} to "
                                 f"collect them before its {job.phase} calls go {self._mode(job.phase)}")

    def _validate(self, dialects: dict[str, Dialect]) -> None:
        pid, req = (str(x) for x in self.plan.checks[["prompt_id", "requirement"]].iloc[0])
        samples = {RESPOND: response_request(self._texts[pid], self.config),
                   JUDGE: judge_request(req, self._texts[pid], "", self.config)}
        for phase, dialect in dialects.items():
            dialect.line_bytes(BatchLine(custom_id(("sample",), 1), samples[phase]))

    def _invocation_cost(self) -> float | None:
        total = 0.0
        for (mode, model), (tokens_in, tokens_out) in self._tally.by_mode.items():
            cost = cost_usd(model, tokens_in, tokens_out, self.prices, mode)
            if cost is None:
                return None
            total += cost
        return total

    # -- the loop -----------------------------------------------------------------------------

    async def _loop(self, store: ResultsStore, ledger: BatchLedger, dialects: dict[str, Dialect], outcome: BatchOutcome,
                    started: float) -> None:
        while True:
            await self._reconcile(ledger, dialects)
            await self._poll(store, ledger, dialects)
            lines, live = self._to_send(store, ledger)
            try:
                await self._run_live(store, live)
                outcome.submitted += await self._submit(ledger, dialects, lines)
            except CostCapReached as stop:
                ledger.record_stop(self.run_id, str(stop))
                outcome.stopped = str(stop)
                return
            open_jobs = [j for j in ledger.jobs(self.run_id) if j.open]
            self._progress(store, len(open_jobs), started)
            if not open_jobs and not lines and not live:
                return  # nothing in flight, nothing left to send: complete
            if not self.wait and open_jobs and not live:
                return
            if open_jobs:
                await asyncio.sleep(self.poll_interval_s)

    def _progress(self, store: ResultsStore, open_batches: int, started: float) -> None:
        if self.report is None:
            return
        final = store.verdict_samples(self.run_id)
        try:
            spent = spent_usd(store, self.run_id, self.prices)
        except ValueError:
            spent = None
        self.report(BatchProgress(open_batches, len(final), sum(1 for e in final.values() if e is not None),
                                  self.plan.n_results - len(final), time.perf_counter() - started, spent))

    # -- reconcile and poll -------------------------------------------------------------------

    async def _reconcile(self, ledger: BatchLedger, dialects: dict[str, Dialect]) -> None:
        """Intents without a provider id: adopt the provider's batch they became, or send again."""
        intents = [j for j in ledger.jobs(self.run_id) if j.status == INTENT and j.batch_id is None]
        for job in intents:
            dialect = dialects.get(job.phase)
            if dialect is None:
                continue
            try:
                candidates = await dialect.recent(job.intent_at - RECONCILE_SLACK_S)
            except BatchAPIError as exc:
                log.warning("cannot list batches to reconcile job %s yet: %s", job.job_id, exc.reason)
                continue
            claimed = ledger.claimed_batch_ids(dialect.name, dialect.endpoint)
            match = self._match(job, [c for c in candidates if c.batch_id not in claimed], dialect)
            if match is not None:
                log.info("batch %s found at the provider for job %s (submitted before a crash)", match.batch_id, job.job_id)
                ledger.record_submitted(job.job_id, match.batch_id, match.status, match.counts)
            else:
                ledger.record_abandoned(job.job_id)

    @staticmethod
    def _match(job: Job, candidates: list[RemoteBatch], dialect: Dialect) -> RemoteBatch | None:
        if dialect.has_metadata:
            return next((c for c in candidates if c.tag == job.tag), None)
        fits = [c for c in candidates if c.n_requests == job.n_requests
                and (c.model is None or c.model in (job.model, batch_model(job.model)))
                and (c.created_at is None or c.created_at >= job.intent_at - RECONCILE_SLACK_S)]
        # The first batch of this size created after the intent; its custom ids are checked when
        # its results are collected (a line not among them is sent again).
        return min(fits, key=lambda c: c.created_at or 0.0) if fits else None

    async def _poll(self, store: ResultsStore, ledger: BatchLedger, dialects: dict[str, Dialect]) -> None:
        for job in ledger.jobs(self.run_id):
            if not job.open or job.batch_id is None or job.phase not in dialects:
                continue
            dialect = dialects[job.phase]
            try:
                remote = await dialect.retrieve(job.batch_id)
            except BatchAPIError as exc:
                if exc.retryable:
                    log.warning("polling batch %s failed (trying again later): %s", job.batch_id, exc.reason)
                    continue
                # The provider no longer knows it: its lines are sent again.
                remote = RemoteBatch(job.batch_id, "lost", "ended", raw={"errors": [exc.reason]})
            ledger.record_polled(job.job_id, remote.status, remote.counts, remote.ended)
            if not remote.ended:
                continue
            try:
                results = await dialect.results(remote) if remote.status != "lost" else {}
            except BatchAPIError as exc:
                log.warning("downloading the results of batch %s failed (trying again later): %s", job.batch_id, exc.reason)
                continue
            self._collect(store, ledger, job, remote, results, dialect.name)

    # -- collection ---------------------------------------------------------------------------

    def _collect(self, store: ResultsStore, ledger: BatchLedger, job: Job, remote: RemoteBatch,
                 results: dict[str, LineOutcome], mode: str) -> None:
        """Every line's outcome, and the records they complete, in one transaction."""
        chains = self._chains(ledger)
        responses = store.response_samples(self.run_id)
        billed = [0, 0]
        with store.group():
            for request in ledger.requests(job.job_id):
                if request.outcome is not None:
                    continue
                line = results.get(request.custom_id) or self._missing(remote, request.custom_id)
                resolved = replace(request, outcome=line.outcome, text=line.text, finish_reason=line.finish_reason,
                                   error=line.error, retryable=line.retryable, prompt_tokens=line.prompt_tokens,
                                   completion_tokens=line.completion_tokens, reasoning=line.reasoning)
                chain = chains[request.check_key] + [resolved]
                final = self._complete(store, request, chain, responses)
                if ledger.resolve(line, final=final):
                    billed[0] += line.prompt_tokens
                    billed[1] += line.completion_tokens
                    chains[request.check_key] = [] if final else chain
            add_spend(store, self.run_id, mode, job.model, *billed)
            ledger.record_collected(job.job_id)
        self._tally.add(mode, job.model, *billed)
        if self._cap is not None:
            self._cap.settle(job.estimated_cost_usd or 0.0, self._cap.cost(job.model, mode, *billed))

    @staticmethod
    def _missing(remote: RemoteBatch, cid: str) -> LineOutcome:
        if remote.status == "expired":
            return LineOutcome(cid, "expired", error="the batch expired before this request ran", retryable=True)
        if remote.status in ("cancelled", "canceled"):
            return LineOutcome(cid, "canceled", error="the batch was cancelled before this request ran", retryable=True)
        why = "; ".join(remote.raw.get("errors") or []) or f"the batch ({remote.status}) returned no result for it"
        return LineOutcome(cid, "missing", error=why, retryable=True)

    def _chains(self, ledger: BatchLedger) -> dict[str, list[Request]]:
        """Per check key: its resolved lines since its last stored record, by attempt."""
        chains: dict[str, list[Request]] = defaultdict(list)
        for r in sorted(ledger.run_requests(self.run_id), key=lambda r: r.attempt):
            if r.outcome is None:
                continue
            chains[r.check_key] = [] if r.final else [*chains[r.check_key], r]
        return chains

    def _complete(self, store: ResultsStore, request: Request, chain: list[Request],
                  responses: dict[tuple[str, int], tuple[str | None, str | None]]) -> bool:
        """Store the record ``chain`` completes, if it completes one; True when it did. A failed
        response's judge samples get their no-response records on the next pass (``plan_lines``)."""
        replies, retrying = logical_replies(chain, self.config.max_retries)
        if retrying:
            return False
        key = tuple(json.loads(request.check_key))
        sample = (request.prompt_id, request.epoch)
        if request.role == RESPOND:
            reply = checked_response(replies[-1], self.config)
            record_response(store, self.run_id, request.prompt_id, reply, epoch=request.epoch)
            responses[sample] = (reply.text, reply.error)
            self._tally.responses += 1
            self._done_now.add(key)
            return True
        verdict = read_replies(self._protocol, request.requirement or "", replies,
                               response=responses.get(sample, (None, None))[0])
        if verdict is None:
            return False  # unparseable: asked again in a follow-up batch
        verdict = replace(verdict, epoch=request.epoch, judge_repeat=request.judge_repeat)
        try:
            record_verdict(store, self.run_id, request.prompt_id, verdict, judged_sha256=request.judged_sha256)
        except StoreError as exc:
            log.warning("%s; the check is judged again", exc)
            return True  # this chain is over; the check has no record and gets a new line
        self._tally.records += 1
        self._done_now.add(key)
        return True

    # -- what to send -------------------------------------------------------------------------

    def _to_send(self, store: ResultsStore, ledger: BatchLedger) -> tuple[list[Line], list[Line]]:
        """Lines for the batched phases and calls for the live ones (``lines.plan_lines``); the
        samples of a failed response are recorded as such here, in one transaction."""
        batched = {phase for phase in self._phases if self._mode(phase) != LIVE}
        work = plan_lines(self.plan, phases=self._phases, batched_phases=batched,
                          responses=store.response_samples(self.run_id), results=store.verdict_samples(self.run_id),
                          requests=ledger.run_requests(self.run_id), retry_failed=self.retry_failed,
                          done_now=self._done_now, rejudged_from=self.config.rejudged_from)
        if work.no_response:
            with store.group():
                for pid, epoch, reason, items in work.no_response:
                    for req, repeat in items:
                        record = no_response_verdict(pid, req, reason, self.config.protocol, epoch=epoch,
                                                     judge_repeat=repeat)
                        store.put_verdict(self.run_id, record)
                        self._tally.records += 1
                        self._done_now.add(check_key(self.run_id, JUDGE, pid, req, epoch=epoch, judge_repeat=repeat))
        return work.batched, work.live

    # -- sending ------------------------------------------------------------------------------

    async def _submit(self, ledger: BatchLedger, dialects: dict[str, Dialect], lines: list[Line]) -> int:
        submitted = 0
        for phase in self._phases:
            phase_lines = [x for x in lines if x.role == phase]
            if not phase_lines:
                continue
            dialect = dialects[phase]
            for chunk in self._chunks(dialect, phase_lines):
                submitted += await self._submit_one(ledger, dialect, phase, chunk)
        return submitted

    @staticmethod
    def _chunks(dialect: Dialect, lines: list[Line]) -> list[list[Line]]:
        chunks: list[list[Line]] = [[]]
        size = 0
        for x in lines:
            n = dialect.line_bytes(x.line)  # also refuses a request the dialect cannot express, before any intent
            if chunks[-1] and (len(chunks[-1]) >= dialect.max_requests or size + n > dialect.max_bytes):
                chunks.append([])
                size = 0
            chunks[-1].append(x)
            size += n
        return [c for c in chunks if c]

    async def _submit_one(self, ledger: BatchLedger, dialect: Dialect, phase: str, chunk: list[Line]) -> int:
        model = chunk[0].line.request.model
        estimate = None
        if self._cap is not None:
            tokens = [worst_case_tokens(x.line.request) for x in chunk]
            estimate = self._cap.cost(model, dialect.name, sum(t[0] for t in tokens), sum(t[1] for t in tokens))
            self._cap.reserve(estimate, f"a batch of {len(chunk)} {phase} requests")
        ids = [x.line.custom_id for x in chunk]
        tag = BatchTag(uuid.uuid4().hex, self.run_id, phase, ids_sha256(ids))
        job = ledger.record_intent(
            tag=tag.tag, run_id=self.run_id, phase=phase, provider=dialect.name, base_url=dialect.endpoint, model=model,
            ids_sha256=tag.ids_sha256, estimated_cost_usd=estimate,
            lines=[x.ledger_row() for x in chunk])
        try:
            remote = await dialect.submit([x.line for x in chunk], tag)
        except BatchAPIError as exc:
            if exc.retryable:  # the provider may have it: the intent is reconciled on the next pass
                log.warning("submitting a batch failed (reconciled on the next pass): %s", exc.reason)
                return 0
            ledger.record_abandoned(job.job_id)
            if self._cap is not None and estimate is not None:
                self._cap.settle(estimate, 0.0)
            raise BatchRunError(exc.reason) from None
        ledger.record_submitted(job.job_id, remote.batch_id, remote.status, remote.counts)
        return 1

    async def _run_live(self, store: ResultsStore, calls: list[Line]) -> None:
        """The phases run live: the same calls, one by one, through the live client stack (a
        redone sample skips the cache, as a live ``retry_failed`` does)."""
        if not calls:
            return
        responder, judge_client = open_clients(self.config, judge_only=not any(x.role == RESPOND for x in calls))
        responder, judge_client = capped(responder, self._cap), capped(judge_client, self._cap)
        responses = store.response_samples(self.run_id)
        c = self.config

        async def one(x: Line) -> None:
            if x.role == RESPOND:
                reply = await respond(responder, self._texts[x.prompt_id], c, use_cache=not x.redo, epoch=x.epoch)
                with store.group():
                    record_response(store, self.run_id, x.prompt_id, reply, epoch=x.epoch)
                    add_spend(store, self.run_id, LIVE, c.model, reply.usage.prompt_tokens, reply.usage.completion_tokens)
                self._tally.responses += 1
                self._tally.add(LIVE, c.model, reply.usage.prompt_tokens, reply.usage.completion_tokens)
            else:
                text = responses[(x.prompt_id, x.epoch)][0] or ""
                verdict = await judge(judge_client, x.requirement or "", self._texts[x.prompt_id], text, c,
                                      use_cache=not x.redo, epoch=x.epoch, judge_repeat=x.judge_repeat)
                with store.group():
                    record_verdict(store, self.run_id, x.prompt_id, verdict, text)
                    add_spend(store, self.run_id, LIVE, c.judge_model, verdict.prompt_tokens, verdict.completion_tokens)
                self._tally.records += 1
                self._tally.add(LIVE, c.judge_model, verdict.prompt_tokens, verdict.completion_tokens)
            self._done_now.add(x.key)

        tasks = [asyncio.ensure_future(one(x)) for x in calls]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            for client in (responder, judge_client):
                if client is not None:
                    await client.provider.aclose()

