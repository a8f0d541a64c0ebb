"""What a batched run still has to send, worked out from the store and the ledger alone.

Every call of a run is one *sample*: the response of a prompt in an epoch, or one judge call
(a judge repeat) on one requirement of that response. Each has a check key, from which its
custom ids are derived (``protocol.custom_id``, one per attempt). The keys of epoch 1 and judge
repeat 1 are the keys a run had before epochs existed, so a ledger written then resumes under the
same custom ids; later samples append their epoch and judge repeat.

``plan_lines`` is the executor's step 3: given what is stored, what is in flight and what was
recorded in this invocation, it returns the lines to send (batched or live) and the samples that
get a no-response record because their response failed. It makes no call and writes nothing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from ...store.batch_ledger import Request
from ...store.results import NO_RESPONSE, response_sha256
from ..calls import judge_request, response_request
from ..config import RunConfig
from ..plan import RunPlan
from ..protocols import EMPTY_RESPONSE, is_empty_response
from .protocol import BatchLine, custom_id

RESPOND, JUDGE = "respond", "judge"
"""The two phases of a run (and the two roles of a line)."""

Key = tuple[str, ...]


def check_key(run_id: str, role: str, prompt_id: str, requirement: str | None = None, *, epoch: int = 1,
              judge_repeat: int = 1) -> Key:
    """The key a line's custom ids are derived from: the run, the role, the prompt, the requirement
    of a judge line, then ``epoch N`` and ``judge repeat N`` where they are not 1 (so the first
    sample's key is the one it always was)."""
    key: Key = (run_id, role, prompt_id) if requirement is None else (run_id, role, prompt_id, requirement)
    if epoch != 1:
        key += (f"epoch {epoch}",)
    if requirement is not None and judge_repeat != 1:
        key += (f"judge repeat {judge_repeat}",)
    return key


@dataclass
class Line:
    """A call about to be made: a batch line, or the same request made live."""

    key: Key
    """``check_key`` of the sample."""
    role: str
    """``respond`` or ``judge``."""
    prompt_id: str
    """Benchmark prompt."""
    requirement: str | None
    """Requirement of a judge line; None for a response."""
    attempt: int
    """1 for the first line of the key, then 2, 3... (resubmissions and re-asks)."""
    line: BatchLine
    """Its custom id and the live run's request."""
    judged_sha256: str | None = None
    """SHA-256 of the response a judge line judges."""
    epoch: int = 1
    """The response's epoch."""
    judge_repeat: int = 1
    """The judge call's repeat (1 for a response)."""
    redo: bool = False
    """A sample that ended in an error before, redone by ``retry_failed`` (a live call skips the cache)."""

    def ledger_row(self) -> tuple[str, str, str, str | None, str, int, str | None, int, int]:
        """The line as ``BatchLedger.record_intent`` takes it."""
        return (self.line.custom_id, self.role, self.prompt_id, self.requirement, json.dumps(list(self.key)),
                self.attempt, self.judged_sha256, self.epoch, self.judge_repeat)


@dataclass
class Work:
    """What one pass of the executor has to do."""

    batched: list[Line] = field(default_factory=list)
    """Lines for the phases sent as batches."""
    live: list[Line] = field(default_factory=list)
    """Calls for the phases made live."""
    no_response: list[tuple[str, int, str, list[tuple[str, int]]]] = field(default_factory=list)
    """(prompt id, epoch, why, its (requirement, judge repeat) samples): samples of a response that
    failed, recorded as such without a judge call."""


def _ledger_state(requests: Iterable[Request]) -> tuple[dict[str, int], set[str]]:
    """Per encoded check key: the highest attempt recorded, and the keys with a line in flight."""
    attempts: dict[str, int] = defaultdict(int)
    in_flight: set[str] = set()
    for r in requests:
        attempts[r.check_key] = max(attempts[r.check_key], r.attempt)
        if r.outcome is None:
            in_flight.add(r.check_key)
    return attempts, in_flight


def _answered(stored: tuple[str | None, str | None] | None) -> bool:
    return stored is not None and stored[1] is None and not is_empty_response(stored[0])


def _pending(plan: RunPlan, responses: dict[tuple[str, int], tuple[str | None, str | None]],
             results: dict[tuple[str, str, int, int], str | None], retry_failed: bool
             ) -> dict[tuple[str, int], list[tuple[str, int]]]:
    """``RunPlan.pending_samples``, plus samples recorded as having no response whose (prompt,
    epoch) has one now: a response redone in a batch that came back after they were recorded
    (``--retry-failed --no-wait``, then a plain resume) is judged, never left beside them."""
    todo = plan.pending_samples(results, retry_failed)
    for (pid, req, epoch, repeat), error in results.items():
        if error is not None and error.startswith(NO_RESPONSE) and _answered(responses.get((pid, epoch))):
            items = todo.setdefault((pid, epoch), [])
            if (req, repeat) not in items:
                items.append((req, repeat))
    return todo


def plan_lines(plan: RunPlan, *, phases: list[str], batched_phases: set[str],
               responses: dict[tuple[str, int], tuple[str | None, str | None]],
               results: dict[tuple[str, str, int, int], str | None], requests: Iterable[Request],
               retry_failed: bool, done_now: set[Key], rejudged_from: str | None = None) -> Work:
    """The calls still to make, from the stored ``responses`` and ``results`` (as
    ``ResultsStore.response_samples``/``verdict_samples``), the ledger's ``requests`` and
    ``done_now`` (keys given a record in this invocation: ``retry_failed`` redoes a sample once).

    A sample with a line in flight gets nothing; a judge sample waits for its response (and for a
    redone response still in flight); a response that failed gives its samples a no-response
    record instead of judge calls."""
    config: RunConfig = plan.config
    run_id = plan.run_id
    texts = plan.prompt_texts()
    attempts, in_flight = _ledger_state(requests)
    work = Work()

    def add(key: Key, role: str, pid: str, req: str | None, request: object, *, epoch: int, repeat: int = 1,
            judged: str | None = None, redo: bool = False) -> None:
        encoded = json.dumps(list(key))
        if encoded in in_flight:
            return
        attempt = attempts[encoded] + 1
        into = work.batched if role in batched_phases else work.live
        into.append(Line(key, role, pid, req, attempt, BatchLine(custom_id(key, attempt), request), judged, epoch, repeat,
                         redo))

    for (pid, epoch), items in _pending(plan, responses, results, retry_failed).items():
        items = [(req, repeat) for req, repeat in items
                 if check_key(run_id, JUDGE, pid, req, epoch=epoch, judge_repeat=repeat) not in done_now]
        rkey = check_key(run_id, RESPOND, pid, epoch=epoch)
        if not items or json.dumps(list(rkey)) in in_flight:
            continue
        stored = responses.get((pid, epoch))
        redo_response = retry_failed and stored is not None and stored[1] is not None and rkey not in done_now
        if (stored is None or redo_response) and RESPOND in phases:
            add(rkey, RESPOND, pid, None, response_request(texts[pid], config, epoch=epoch), epoch=epoch,
                redo=redo_response)
            continue
        if stored is None:
            stored = (None, f"no stored response in run {rejudged_from}")
        text, error = stored
        if error is None and is_empty_response(text):
            error = EMPTY_RESPONSE  # stored before empty answers were errors
        if error is not None:
            work.no_response.append((pid, epoch, error, items))
            continue
        judged = response_sha256(text or "")
        for req, repeat in items:
            add(check_key(run_id, JUDGE, pid, req, epoch=epoch, judge_repeat=repeat), JUDGE, pid, req,
                judge_request(req, texts[pid], text or "", config, epoch=epoch, judge_repeat=repeat), epoch=epoch,
                repeat=repeat, judged=judged, redo=(pid, req, epoch, repeat) in results)
    return work
