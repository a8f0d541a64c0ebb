"""Recording results: responses and verdicts into the store, and the tally of an invocation.

What was obtained by ``calls`` becomes a ``ResponseRecord`` or ``VerdictRecord`` here; a check
with no response to judge gets a verdict record that says why. ``RunSummary`` is what a run
(or a resume of it) reports at the end; ``Tally`` keeps its running totals and the progress bar.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ..store.results import NO_RESPONSE, ResponseRecord, ResultsStore, StoreError, VerdictRecord, response_sha256, response_texts
from .client import ChatResponse
from .pricing import Price, cost_usd
from .protocols import get_protocol

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
    epochs: int = 1
    """Responses per prompt (``verdicts`` and ``errors`` count every epoch and judge repeat)."""
    judge_repeats: int = 1
    """Judge calls per response and requirement."""


@dataclass
class Tally:
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



def record_response(store: ResultsStore, run_id: str, prompt_id: str, reply: ChatResponse, *, epoch: int = 1) -> None:
    """Store the model's reply to one prompt (text or error, tokens, latency, attempts) as ``epoch``."""
    store.put_response(run_id, ResponseRecord(
        prompt_id=prompt_id, text=reply.text, prompt_tokens=reply.usage.prompt_tokens,
        completion_tokens=reply.usage.completion_tokens, latency_s=reply.latency_s,
        finish_reason=reply.finish_reason, attempts=reply.attempts, cached=reply.cached, error=reply.error,
        epoch=epoch,
        # ``calls.respond`` keeps the reasoning only when the text was built from it.
        reasoning_repr=reply.ok and reply.reasoning is not None,
    ))


def record_verdict(store: ResultsStore, run_id: str, prompt_id: str, verdict: VerdictRecord, response_text: str | None = None,
                   *, judged_sha256: str | None = None) -> VerdictRecord:
    """Store the judge's result on one check of ``prompt_id``, naming the response it judged (its
    text, or the SHA-256 of it): the store refuses it if that is not the stored response."""
    sha = judged_sha256 if judged_sha256 is not None else response_sha256(response_text or "")
    verdict = replace(verdict, prompt_id=prompt_id, response_sha256=sha)
    store.put_verdict(run_id, verdict)
    return verdict


def no_response_verdict(pid: str, req: str, reason: str, protocol: str, *, epoch: int = 1,
                        judge_repeat: int = 1) -> VerdictRecord:
    """The record of a check (sample ``epoch``, ``judge_repeat``) that was never judged: there was
    no response (``reason``)."""
    return VerdictRecord(
        prompt_id=pid, requirement=req, violation=None, reasoning=None, raw=None, prompt_tokens=0,
        completion_tokens=0, latency_s=0.0, attempts=0, cached=False, error=f"{NO_RESPONSE}: {reason}",
        rubric_version=get_protocol(protocol).rubric_version_of(req), epoch=epoch, judge_repeat=judge_repeat,
    )


def copy_responses(store: ResultsStore, source: str, target: str) -> int:
    """Copy the source run's responses into run ``target`` (those it does not hold yet): a
    rejudge's own copy, made once its run is recorded (after validation and preflight)."""
    have = store.response_samples(target)  # every epoch: a source with several is copied whole
    names = [f.name for f in fields(ResponseRecord)]
    copied = 0
    for row in response_texts(store.path, source).to_dict("records"):
        if (row["prompt_id"], int(row.get("epoch", 1))) in have:
            continue
        # NaN -> None; a store older than schema 3 has no reasoning_repr column (nor, before 7, epoch).
        values = {n: (None if isinstance(row.get(n), float) and row[n] != row[n] else row.get(n)) for n in names}
        values["cached"] = bool(values["cached"])
        values["reasoning_repr"] = bool(values["reasoning_repr"])
        values["epoch"] = int(values["epoch"] or 1)
        store.put_response(target, ResponseRecord(**values))
        copied += 1
    return copied


def progress_bar(total: int, run_id: str, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm  # notebook widget in Jupyter, text in a terminal

    return tqdm(total=total, desc=f"judging {run_id}", unit="check")


class ResultWriter:
    """Results stored in groups: one transaction for every ``max_items`` results or ``max_delay_s``
    seconds, whichever comes first, instead of a commit per result. A result is reported (its
    ``on_commit`` runs: the progress bar, the summary) only once its group is committed, so what a
    run reported done before a SIGKILL is in the store; what it had not committed it never reported.
    A write the store refuses (``StoreError``) does not take its group down with it: the others
    are committed and the error is raised on the next ``add`` or at ``close``."""

    def __init__(self, store: ResultsStore, *, max_items: int = 256, max_delay_s: float = 0.05):
        self.store = store
        self.max_items = max_items
        self.max_delay_s = max_delay_s
        self._ops: list[tuple[Callable[[], None], Callable[[], None] | None]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._failure: BaseException | None = None

    def add(self, op: Callable[[], None], on_commit: Callable[[], None] | None = None) -> None:
        """Queue ``op`` (store writes); ``on_commit`` runs after its group committed."""
        self._raise()
        self._ops.append((op, on_commit))
        if len(self._ops) >= self.max_items:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.max_delay_s, self._flush_soon)

    def _flush_soon(self) -> None:
        self._timer = None
        try:
            self.flush()
        except BaseException as exc:  # a timer callback cannot raise: keep it for the next add or close
            self._failure = self._failure or exc

    def flush(self) -> None:
        """Commit everything queued, in one transaction, then report it."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        ops, self._ops = self._ops, []
        if not ops:
            return
        done: list[Callable[[], None] | None] = []
        with self.store.group():
            for op, on_commit in ops:
                try:
                    op()
                except StoreError as exc:
                    self._failure = self._failure or exc
                    continue
                done.append(on_commit)
        for on_commit in done:
            if on_commit is not None:
                on_commit()

    def close(self) -> None:
        """Commit what is queued; raise a refused write, if there was one."""
        self.flush()
        self._raise()

    def _raise(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure
