"""Run a model on (a subset of) the benchmark and judge every labelled check, resumably.

A run's id is derived from everything that determines its results (model, endpoints,
parameters, subset, dataset SHA-256, rubric versions), so running the same configuration
again resumes the same run: completed items are never requested again, and failed ones are
redone only when asked (``retry_failed``). Results are committed in small groups as they arrive
(``recording.ResultWriter``: every 50 ms or 256 results) and reported only once committed.
``max_cost_usd`` caps what the run spends (``cost_cap``): a call that could pass the cap is not
sent and the run stops cleanly, resumable with a higher cap.

The runner only orchestrates a live run: ``plan`` decides what to call, ``calls`` makes the
calls and ``recording`` stores what came back, so another executor can reuse both ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from pathlib import Path

import pandas as pd

from ..benchmark.dataset import Benchmark
from ..store.batch_ledger import add_spend
from ..store.results import ResultsStore, RunRecord, remove_if_empty
from ..store.run_lock import keep_alive
from .calls import judge, open_clients, respond
from .client import ReliableClient, RequestCache, api_key_from_env
from .config import RunConfig
from .cost_cap import CappedClient, CostCap, CostCapReached, capped, require_prices, spent_usd
from .plan import RunPlan
from .preflight import EarlyStop, RunStopped, check_open_files, error_reasons, probe_endpoints
from .pricing import Price, load_prices
from .protocols import EMPTY_RESPONSE, get_protocol, is_empty_response
from .recording import (ResultWriter, RunSummary, Tally, copy_responses, no_response_verdict, progress_bar,
                        record_response, record_verdict)

log = logging.getLogger(__name__)


class Runner:
    """One run: plan, clients, store; ``await runner.run()`` resumes or starts it."""

    def __init__(self, config: RunConfig, *, benchmark: Benchmark | None = None, prices: dict[str, Price] | None = None,
                 max_cost_usd: float | None = None):
        self.config = config
        self.max_cost_usd = max_cost_usd
        self.plan = RunPlan.build(config, benchmark)
        self.benchmark: Benchmark = self.plan.benchmark
        self.prompts: pd.DataFrame = self.plan.prompts
        self.checks: pd.DataFrame = self.plan.checks
        self.run_id: str = self.plan.run_id
        self.store_path: str = self.plan.store_path
        self.prices = prices if prices is not None else load_prices()
        self._early_stop = EarlyStop({})
        self.clients: dict[str, ReliableClient | None] = {}
        """The model's and the judge's clients while the run works (a widget reads their attempts)."""

    def check_keys(self) -> None:
        """Raise ``CredentialError`` now, before anything is recorded, for an unset key variable."""
        for var in dict.fromkeys((self.config.api_key_env, self.config.judge_key_env())):
            api_key_from_env(var)

    def record(self) -> RunRecord:
        return self.plan.record()

    async def run(self, *, retry_failed: bool = False, progress: bool = True) -> RunSummary:
        c = self.config
        started = time.perf_counter()
        self.check_keys()  # before a store, a lock or a run record exists
        if self.max_cost_usd is not None:  # an unpriced model is refused before anything is recorded
            require_prices([(m, "live") for m in ([c.judge_model] if c.rejudged_from else [c.model, c.judge_model])], self.prices)
        created = not Path(self.store_path).exists()
        store = ResultsStore(self.store_path)
        cache = lock = None
        summary = RunSummary(self.run_id, len(self.prompts), len(self.checks), smoke_test=c.is_smoke_test,
                             epochs=c.epochs, judge_repeats=c.judge_repeats)
        try:
            await asyncio.to_thread(get_protocol(c.protocol).prepare)  # the authors' rubrics, fetched if missing
            lock = store.lock_run(self.run_id)  # a second process on this run stops here, naming this one
            cache = RequestCache(self.store_path) if c.use_cache else None
            existed = store.has_run(self.run_id)
            responses = store.response_samples(self.run_id)
            results = store.verdict_samples(self.run_id)
            todo = self.plan.pending_samples(results, retry_failed)
            if todo:  # one cheap call per endpoint before a run record exists (a rejudge never calls the model)
                endpoints = [(c.judge_base_url, c.judge_key_env())]
                if not c.rejudged_from:
                    endpoints.insert(0, (c.base_url, c.api_key_env))
                await probe_endpoints(endpoints, c.timeout_s)
            store.begin_run(self.record(), self.checks)
            if c.rejudged_from:  # recorded only now, after validation and preflight
                copy_responses(store, c.rejudged_from, self.run_id)
                responses = store.response_samples(self.run_id)
            cap = None if self.max_cost_usd is None else CostCap(self.max_cost_usd, self.prices,
                                                                 spent_usd(store, self.run_id, self.prices))
            # Only checks that failed before skip the cache; never-judged ones may still hit it.
            redo = {key for key, error in results.items() if error is not None} if retry_failed else set()
            tally = Tally(summary, self.prices)
            if todo:
                if c.is_smoke_test:
                    log.warning("smoke-test model %s: its verdicts are not research results", c.model)
                tally.bar = progress_bar(sum(len(v) for v in todo.values()), self.run_id, progress)
                self._early_stop = EarlyStop({"respond": sum(1 for unit in todo if unit not in responses),
                                              "judge": sum(len(v) for v in todo.values())})
                heartbeat = asyncio.ensure_future(keep_alive(lock))
                check_open_files(c.concurrency * (1 if c.rejudged_from else 2))
                try:
                    await self._work(store, cache, responses, todo, retry_failed, redo, tally, cap)
                except CostCapReached as stop:
                    store._db.execute("INSERT INTO run_stops VALUES (?, ?, ?)", (self.run_id, time.time(), str(stop)))
                    raise
                except RunStopped:
                    if not existed and not store.produced(self.run_id, verdicts_only=bool(c.rejudged_from)):
                        store.delete_run(self.run_id)  # a run that never started leaves no record
                    raise
                finally:
                    heartbeat.cancel()
                    if tally.bar is not None:
                        tally.bar.close()
            final = store.verdict_samples(self.run_id)
            summary.verdicts = sum(1 for e in final.values() if e is None)
            summary.errors = sum(1 for e in final.values() if e is not None)
            summary.error_reasons = error_reasons(final.values())
            summary.cost_usd = tally.cost()
            if len(final) == self.plan.n_results and (todo or not store.ended(self.run_id)):
                store.end_run(self.run_id)
        finally:
            if lock is not None:
                lock.release()
            store.close()
            if cache is not None:
                cache.close()
            if created:
                remove_if_empty(self.store_path)  # a refused first run leaves no store file behind
        summary.elapsed_s = time.perf_counter() - started
        return summary

    async def _work(
        self, store: ResultsStore, cache: RequestCache | None,
        responses: dict[tuple[str, int], tuple[str | None, str | None]], todo: dict[tuple[str, int], list[tuple[str, int]]],
        retry_failed: bool, redo: set[tuple[str, str, int, int]], tally: Tally, cap: CostCap | None = None,
    ) -> None:
        # A rejudge never calls the model, so it needs neither its client nor its key.
        responder, judge_client = open_clients(self.config, cache=cache, judge_only=bool(self.config.rejudged_from))
        self.clients = {"model": responder, "judge": judge_client}
        responder, judge_client = capped(responder, cap), capped(judge_client, cap)
        writer = ResultWriter(store)
        texts = self.plan.prompt_texts()
        tasks = [asyncio.ensure_future(
            self._prompt(pid, epoch, texts[pid], items, responses.get((pid, epoch)), retry_failed, redo, writer, responder,
                         judge_client, tally)
        ) for (pid, epoch), items in todo.items()]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:  # an early stop (or an interrupt) ends every call still in flight
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            writer.flush()  # what finished is stored (and reported) even when the run stops
            tally.summary.http_attempts = (responder.stats.attempts if responder else 0) + judge_client.stats.attempts
            if responder is not None:
                await responder.provider.aclose()
            await judge_client.provider.aclose()
        writer.close()

    async def _prompt(
        self, pid: str, epoch: int, text: str, items: list[tuple[str, int]], stored: tuple[str | None, str | None] | None,
        retry_failed: bool, redo: set[tuple[str, str, int, int]], writer: ResultWriter,
        responder: ReliableClient | CappedClient | None, judge_client: ReliableClient | CappedClient, tally: Tally,
    ) -> None:
        """One response (epoch ``epoch`` of prompt ``pid``, stored or asked for) and its judge calls ``items``."""
        c = self.config
        store = writer.store
        if responder is None:
            stored = stored or (None, f"no stored response in run {c.rejudged_from}")
        if responder is not None and (stored is None or (retry_failed and stored[1] is not None)):
            reply = await respond(responder, text, c, use_cache=stored is None, epoch=epoch)
            writer.add(lambda: (record_response(store, self.run_id, pid, reply, epoch=epoch),
                                add_spend(store, self.run_id, "live", c.model, reply.usage.prompt_tokens,
                                          reply.usage.completion_tokens)))
            tally.summary.responses_requested += 1
            tally.add(c.model, reply.usage.prompt_tokens, reply.usage.completion_tokens)
            response_text, response_error = reply.text, reply.error
            self._early_stop.observe("respond", responder.endpoint, reply.error)
        else:
            response_text, response_error = stored
            if response_error is None and is_empty_response(response_text):
                response_error = EMPTY_RESPONSE  # stored before empty answers were errors
        if response_error is not None:
            for req, repeat in items:
                record = no_response_verdict(pid, req, response_error, c.protocol, epoch=epoch, judge_repeat=repeat)
                writer.add(lambda r=record: store.put_verdict(self.run_id, r), lambda: tally.tick(error=True))
            return

        async def one(req: str, repeat: int) -> None:
            verdict = await judge(judge_client, req, text, response_text or "", c,
                                  use_cache=(pid, req, epoch, repeat) not in redo, epoch=epoch, judge_repeat=repeat)
            writer.add(lambda: (record_verdict(store, self.run_id, pid, verdict, response_text or ""),
                                add_spend(store, self.run_id, "live", c.judge_model, verdict.prompt_tokens,
                                          verdict.completion_tokens)),
                       lambda: tally.tick(error=verdict.error is not None))
            tally.add(c.judge_model, verdict.prompt_tokens, verdict.completion_tokens)
            self._early_stop.observe("judge", judge_client.endpoint, verdict.error)

        await asyncio.gather(*(one(req, repeat) for req, repeat in items))


async def run_async(config: RunConfig, *, retry_failed: bool = False, progress: bool = True, benchmark: Benchmark | None = None,
                    max_cost_usd: float | None = None) -> RunSummary:
    return await Runner(config, benchmark=benchmark, max_cost_usd=max_cost_usd).run(retry_failed=retry_failed, progress=progress)


def run(config: RunConfig, *, retry_failed: bool = False, progress: bool = True, benchmark: Benchmark | None = None,
        max_cost_usd: float | None = None) -> RunSummary:
    """Blocking run; inside a running event loop (Jupyter) it runs on a worker thread."""
    coro_args = dict(retry_failed=retry_failed, progress=progress, benchmark=benchmark, max_cost_usd=max_cost_usd)
    if not inside_event_loop():
        # Called outside the except clause: a run's own errors must not be chained to the
        # "no running event loop" probe.
        return asyncio.run(run_async(config, **coro_args))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run_async(config, **coro_args)).result()


def inside_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
