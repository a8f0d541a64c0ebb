"""The batch ledger: every provider batch a run submitted and every request line in it, kept in
the results store itself (schema version 6; version 8 adds each line's epoch and judge repeat), so that a run resumes after a crash, a SIGKILL or a
reboot without submitting a line twice or storing a result twice.

The order of writes is what makes it durable:

1. ``record_intent`` writes the job (status ``intent``, a random ``tag``, the SHA-256 of its
   custom ids) and its request lines in one transaction, BEFORE the provider is asked;
2. ``record_submitted`` stores the provider's batch id once the provider answered. A kill between
   the two leaves an intent without an id, which the executor reconciles with the provider's list
   of batches (by the tag sent as metadata, or by size and time where a dialect has no metadata);
3. ``resolve`` writes a line's outcome in the same transaction as the response or verdict it
   produced (the caller's ``ResultsStore.group``), so a result is stored exactly once.

``run_spend`` keeps the tokens a run was billed for per mode (``live``/a batch dialect) and model,
written with the results they paid for; ``run_stops`` records runs stopped at a cost cap.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .results import ResultsStore

INTENT = "intent"
"""Status of a job recorded but not (known to be) accepted by the provider yet."""
ABANDONED = "abandoned"
"""Status of an intent the provider never received (reconciled on resume): its lines are sent again."""


@dataclass(frozen=True)
class Job:
    """One batch as the ledger knows it."""

    job_id: int
    """Local id."""
    tag: str
    """Random tag sent to the provider as metadata where the dialect allows it."""
    run_id: str
    """The run the batch belongs to."""
    phase: str
    """``respond`` (the model under test) or ``judge``."""
    provider: str
    """Dialect: ``openai``, ``anthropic`` or ``openrouter``."""
    base_url: str
    """The endpoint, without credentials or query."""
    model: str
    """Model every line of the batch calls."""
    batch_id: str | None
    """The provider's id; None until the provider answered the submission."""
    ids_sha256: str
    """SHA-256 of the sorted custom ids of its lines (sent as metadata where allowed)."""
    n_requests: int
    """Lines in the batch."""
    estimated_cost_usd: float | None
    """Cost estimated at submission (batch prices, worst case), None when unpriced."""
    status: str
    """``intent``, ``abandoned``, or the provider's last reported status."""
    counts: dict
    """The provider's last reported request counts."""
    intent_at: float
    """When the intent was recorded (before submission)."""
    submitted_at: float | None
    """When the provider's id was recorded."""
    last_polled_at: float | None
    """When the provider was last asked about it."""
    ended_at: float | None
    """When the provider reported it ended."""
    collected_at: float | None
    """When its results were stored."""

    @property
    def open(self) -> bool:
        """Submitted (or maybe submitted) and its results not stored yet."""
        return self.collected_at is None and self.status != ABANDONED


@dataclass(frozen=True)
class LineOutcome:
    """What came back for one line (``resolve`` stores it)."""

    custom_id: str
    """The line."""
    outcome: str
    """``succeeded``, ``errored``, ``expired``, ``canceled`` or ``missing`` (absent from the results)."""
    text: str | None = None
    """The reply text (succeeded lines)."""
    finish_reason: str | None = None
    """As reported."""
    error: str | None = None
    """Why the line failed, secrets removed."""
    retryable: bool = False
    """Whether sending the line again can help."""
    prompt_tokens: int = 0
    """Input tokens the provider reported."""
    completion_tokens: int = 0
    """Output tokens the provider reported."""
    reasoning: str | None = None
    """The reply's reasoning text (succeeded lines of a thinking model), as a live reply carries it."""


@dataclass(frozen=True)
class Request:
    """One line as the ledger knows it."""

    custom_id: str
    """Deterministic id (``judging.batch.protocol.custom_id``)."""
    job_id: int
    """The job it was sent in."""
    role: str
    """``respond`` or ``judge``."""
    prompt_id: str
    """Benchmark prompt."""
    requirement: str | None
    """Requirement key of a judge line; None for a response."""
    check_key: str
    """JSON of the key tuple the id was derived from."""
    attempt: int
    """1 for the first submission of the key, then 2, 3... (resubmissions and re-asks)."""
    judged_sha256: str | None
    """SHA-256 of the response a judge line judges (None for a response line)."""
    outcome: str | None
    """None while pending; else as ``LineOutcome.outcome``."""
    text: str | None
    """Reply text."""
    finish_reason: str | None
    """As reported."""
    error: str | None
    """Why it failed."""
    retryable: bool
    """Whether sending it again can help."""
    prompt_tokens: int
    """Input tokens."""
    completion_tokens: int
    """Output tokens."""
    final: bool
    """True when this outcome produced the stored record (later attempts of the key start a new chain)."""
    reasoning: str | None = None
    """The reply's reasoning text, when it had any."""
    epoch: int = 1
    """The epoch of the response the line asks for or judges (store schema 8; 1 before)."""
    judge_repeat: int = 1
    """The judge repeat of a judge line (1 for a response line, and before schema 8)."""


_JOB_COLUMNS = ("job_id, tag, run_id, phase, provider, base_url, model, batch_id, ids_sha256, n_requests, "
                "estimated_cost_usd, status, counts, intent_at, submitted_at, last_polled_at, ended_at, collected_at")
_REQUEST_COLUMNS = ("custom_id, job_id, role, prompt_id, requirement, check_key, attempt, judged_sha256, outcome, text, "
                    "finish_reason, error, retryable, prompt_tokens, completion_tokens, final, reasoning, epoch, judge_repeat")


def _job(row: Sequence) -> Job:
    values = list(row)
    values[12] = json.loads(values[12]) if values[12] else {}
    return Job(*values)


def _request(row: Sequence) -> Request:
    values = list(row)
    values[12] = bool(values[12])
    values[13] = int(values[13] or 0)
    values[14] = int(values[14] or 0)
    values[15] = bool(values[15])
    return Request(*values)


class BatchLedger:
    """The ledger of one results store (its tables live in the same file, so a result and its
    ledger outcome commit together)."""

    def __init__(self, store: ResultsStore):
        self.store = store
        self._db = store._db  # same connection: the ledger writes join the store's transactions

    # -- jobs ---------------------------------------------------------------------------------

    def record_intent(self, *, tag: str, run_id: str, phase: str, provider: str, base_url: str, model: str,
                      ids_sha256: str, estimated_cost_usd: float | None,
                      lines: Iterable[tuple[str, str, str, str | None, str, int, str | None, int, int]]) -> Job:
        """Record a batch about to be submitted and its lines (custom_id, role, prompt_id,
        requirement, check_key JSON, attempt, SHA-256 of the response a judge line judges, epoch,
        judge repeat), in one transaction."""
        rows = list(lines)
        now = time.time()
        with self.store.group():
            cursor = self._db.execute(
                "INSERT INTO batch_jobs (tag, run_id, phase, provider, base_url, model, ids_sha256, n_requests, "
                "estimated_cost_usd, status, intent_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (tag, run_id, phase, provider, base_url, model, ids_sha256, len(rows), estimated_cost_usd, INTENT, now))
            job_id = int(cursor.lastrowid)
            self._db.executemany(
                "INSERT INTO batch_requests (custom_id, job_id, run_id, role, prompt_id, requirement, check_key, attempt, "
                "judged_sha256, epoch, judge_repeat) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [(cid, job_id, run_id, *rest) for cid, *rest in rows])
        return self.job(job_id)

    def record_submitted(self, job_id: int, batch_id: str, status: str, counts: dict | None = None) -> None:
        """The provider accepted the job as ``batch_id``."""
        now = time.time()
        self._db.execute("UPDATE batch_jobs SET batch_id = ?, status = ?, counts = ?, submitted_at = ?, last_polled_at = ? "
                         "WHERE job_id = ?", (batch_id, status, json.dumps(counts or {}), now, now, job_id))

    def record_abandoned(self, job_id: int) -> None:
        """An intent the provider never received: its lines leave the ledger (they are sent again,
        under the same custom ids, in a new job)."""
        with self.store.group():
            self._db.execute("DELETE FROM batch_requests WHERE job_id = ? AND outcome IS NULL", (job_id,))
            self._db.execute("UPDATE batch_jobs SET status = ?, collected_at = ? WHERE job_id = ?",
                             (ABANDONED, time.time(), job_id))

    def record_polled(self, job_id: int, status: str, counts: dict, ended: bool) -> None:
        now = time.time()
        self._db.execute(
            "UPDATE batch_jobs SET status = ?, counts = ?, last_polled_at = ?, "
            "ended_at = CASE WHEN ? THEN COALESCE(ended_at, ?) ELSE ended_at END WHERE job_id = ?",
            (status, json.dumps(counts), now, int(ended), now, job_id))

    def record_collected(self, job_id: int) -> None:
        """Every line of the job has an outcome in the ledger."""
        self._db.execute("UPDATE batch_jobs SET collected_at = ? WHERE job_id = ?", (time.time(), job_id))

    def job(self, job_id: int) -> Job:
        row = self._db.execute(f"SELECT {_JOB_COLUMNS} FROM batch_jobs WHERE job_id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(f"no batch job {job_id} in the ledger")
        return _job(row)

    def jobs(self, run_id: str | None = None) -> list[Job]:
        """Every job (of ``run_id``), oldest first."""
        where, params = ("WHERE run_id = ?", (run_id,)) if run_id is not None else ("", ())
        return [_job(r) for r in self._db.execute(f"SELECT {_JOB_COLUMNS} FROM batch_jobs {where} ORDER BY job_id", params)]

    def claimed_batch_ids(self, provider: str, base_url: str) -> set[str]:
        """Provider batch ids the ledger already holds for this endpoint."""
        rows = self._db.execute("SELECT batch_id FROM batch_jobs WHERE provider = ? AND base_url = ? AND batch_id IS NOT NULL",
                                (provider, base_url))
        return {r[0] for r in rows}

    # -- requests -----------------------------------------------------------------------------

    def requests(self, job_id: int) -> list[Request]:
        return [_request(r) for r in self._db.execute(
            f"SELECT {_REQUEST_COLUMNS} FROM batch_requests WHERE job_id = ? ORDER BY rowid", (job_id,))]

    def run_requests(self, run_id: str) -> list[Request]:
        """Every line of the run, in the order they were recorded."""
        return [_request(r) for r in self._db.execute(
            f"SELECT {_REQUEST_COLUMNS} FROM batch_requests WHERE run_id = ? ORDER BY rowid", (run_id,))]

    def resolve(self, outcome: LineOutcome, *, final: bool) -> bool:
        """Store a line's outcome (call inside the ``ResultsStore.group`` that writes the record it
        produced); False when the line was resolved before (nothing is written twice)."""
        cursor = self._db.execute(
            "UPDATE batch_requests SET outcome = ?, text = ?, finish_reason = ?, error = ?, retryable = ?, "
            "prompt_tokens = ?, completion_tokens = ?, final = ?, resolved_at = ?, reasoning = ? "
            "WHERE custom_id = ? AND outcome IS NULL",
            (outcome.outcome, outcome.text, outcome.finish_reason, outcome.error, int(outcome.retryable),
             outcome.prompt_tokens, outcome.completion_tokens, int(final), time.time(), outcome.reasoning,
             outcome.custom_id))
        return cursor.rowcount == 1

    # -- spend and stops ----------------------------------------------------------------------

    def add_spend(self, run_id: str, mode: str, model: str, input_tokens: int, output_tokens: int) -> None:
        """Tokens billed (as the provider reported them) in ``mode``; call inside the group that
        stores the results they paid for."""
        add_spend(self.store, run_id, mode, model, input_tokens, output_tokens)

    def record_stop(self, run_id: str, reason: str) -> None:
        self._db.execute("INSERT INTO run_stops VALUES (?, ?, ?)", (run_id, time.time(), reason))


def add_spend(store: ResultsStore, run_id: str, mode: str, model: str, input_tokens: int, output_tokens: int) -> None:
    """Add tokens billed in ``mode`` (``live`` or a batch dialect) to the run's spend."""
    if not input_tokens and not output_tokens:
        return
    store._db.execute(
        "INSERT INTO run_spend VALUES (?,?,?,?,?) ON CONFLICT(run_id, mode, model) DO UPDATE SET "
        "input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens",
        (run_id, mode, model, int(input_tokens), int(output_tokens)))


def spend(store: ResultsStore, run_id: str) -> list[tuple[str, str, int, int]]:
    """(mode, model, input tokens, output tokens) the run was billed for."""
    return [tuple(r) for r in store._db.execute(
        "SELECT mode, model, input_tokens, output_tokens FROM run_spend WHERE run_id = ? ORDER BY mode, model", (run_id,))]


def stored_tokens(store: ResultsStore, run_id: str) -> tuple[int, int, int, int]:
    """(response input, response output, judge input, judge output) tokens in the run's records,
    for runs recorded before the spend table existed."""
    r = store._db.execute("SELECT COALESCE(SUM(prompt_tokens),0), COALESCE(SUM(completion_tokens),0) FROM responses "
                          "WHERE run_id = ?", (run_id,)).fetchone()
    v = store._db.execute("SELECT COALESCE(SUM(prompt_tokens),0), COALESCE(SUM(completion_tokens),0) FROM verdicts "
                          "WHERE run_id = ?", (run_id,)).fetchone()
    return int(r[0]), int(r[1]), int(v[0]), int(v[1])


BATCH_COLUMNS = ["run_id", "phase", "provider", "base_url", "model", "batch_id", "status", "n_requests", "succeeded",
                 "failed", "pending", "estimated_cost_usd", "intent_at", "submitted_at", "last_polled_at", "ended_at",
                 "collected_at"]
"""Columns of ``list_batches`` (and of ``eudaimonia-nb batches --json``)."""


def list_batches(store_path: str | None = None):
    """One row per batch job in the store (read-only; an older store has none): counts from the
    ledger's own line outcomes, times as UTC datetimes."""
    import pandas as pd

    from .results import _read

    tables = _read(store_path, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'batch_jobs'")
    if tables.empty:
        return pd.DataFrame(columns=BATCH_COLUMNS)
    frame = _read(store_path, """
        SELECT j.run_id, j.phase, j.provider, j.base_url, j.model, j.batch_id, j.status, j.n_requests,
               (SELECT COUNT(*) FROM batch_requests r WHERE r.job_id = j.job_id AND r.outcome = 'succeeded') AS succeeded,
               (SELECT COUNT(*) FROM batch_requests r WHERE r.job_id = j.job_id AND r.outcome IS NOT NULL
                   AND r.outcome != 'succeeded') AS failed,
               (SELECT COUNT(*) FROM batch_requests r WHERE r.job_id = j.job_id AND r.outcome IS NULL) AS pending,
               j.estimated_cost_usd, j.intent_at, j.submitted_at, j.last_polled_at, j.ended_at, j.collected_at
        FROM batch_jobs j ORDER BY j.job_id""")
    for column in ("intent_at", "submitted_at", "last_polled_at", "ended_at", "collected_at"):
        frame[column] = pd.to_datetime(frame[column], unit="s", utc=True)
    return frame[BATCH_COLUMNS]
