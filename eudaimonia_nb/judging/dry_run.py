"""Dry run: what a run would send and cost, before anything is sent.

It reads the store without writing (a dry run changes nothing: no run record, no migration) and
counts the calls still to make for the run a configuration maps to, with rule-of-thumb token
counts and the price table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..benchmark.dataset import Benchmark
from ..benchmark.design_code import REQUIREMENT_KEYS
from ..store.results import response_texts, verdict_details
from .authors_rubrics import RubricsUnavailableError
from .client import CredentialError
from .config import RunConfig
from .judge import system_message
from .pricing import BATCH_DISCOUNTS, Price, cost_usd
from .repeats import describe_repeats
from .protocols import get_protocol
from .runner import Runner

ASSUMED_RESPONSE_TOKENS = 400
"""Dry-run assumption for the mean length of a response (capped by ``max_tokens``)."""
ASSUMED_VERDICT_TOKENS = 150
"""Dry-run assumption for the mean length of a judge reply."""
CHARS_PER_TOKEN = 4.0
"""Dry-run rule of thumb for English text."""


@dataclass(frozen=True)
class DryRunEstimate:
    """What a run would send, before anything is sent (rule-of-thumb token counts)."""

    run_id: str
    """The run the configuration maps to."""
    n_prompts: int
    """Prompts in the subset."""
    n_checks: int
    """Checks in the subset."""
    response_calls: int
    """Responses still to request (every epoch counts)."""
    judge_calls: int
    """Judge calls still to make (every epoch and judge repeat of a check counts)."""
    input_tokens: int
    """Estimated input tokens (characters / 4)."""
    output_tokens: int
    """Estimated output tokens (assumed mean lengths, capped by the token limits)."""
    cost_usd: float | None
    """Estimated cost; None when a model is missing from the price table."""
    warnings: tuple[str, ...] = ()
    """What would stop or taint the real run (a key variable not set, an unofficial dataset file)."""
    unpriced: tuple[str, ...] = ()
    """Models called that the price table does not price (their cost is unknown, never 0)."""
    batch_cost_usd: dict[str, float | None] = field(default_factory=dict)
    """The same calls through each batch mode asked for (``--batch``/``--judge-batch``), or through
    every dialect when none was: mode -> estimated cost (None when unpriced)."""
    worst_case_usd: float | None = None
    """Every output at its token limit, live: what ``--max-cost`` reserves, at most."""
    epochs: int = 1
    """Responses per prompt in the run."""
    judge_repeats: int = 1
    """Judge calls per response and requirement."""

    def describe(self) -> str:
        missing = ", ".join(self.unpriced) or "a model"
        cost = f"unknown ({missing} not in the price table)" if self.cost_usd is None else f"${self.cost_usd:,.2f}"
        batch = "; ".join(f"{mode} {_usd(c)}" for mode, c in self.batch_cost_usd.items())
        repeats = describe_repeats(self.epochs, self.judge_repeats)
        return (
            f"run {self.run_id}: {self.n_prompts} prompts, {self.n_checks} checks{f' x {repeats}' if repeats else ''}\n"
            f"to send: {self.response_calls} response calls + {self.judge_calls} judge calls\n"
            f"estimated tokens: {self.input_tokens:,} input, {self.output_tokens:,} output "
            f"(assumes ~{ASSUMED_RESPONSE_TOKENS} tokens per response, ~{ASSUMED_VERDICT_TOKENS} per verdict)\n"
            f"estimated cost: {cost} live | batch {batch or 'n/a'}\n"
            f"worst case (every output at its token limit), live: {_usd(self.worst_case_usd)}"
        ) + "".join(f"\nwarning: {w}" for w in self.warnings)


def _usd(value: float | None) -> str:
    return "unknown (model not in the price table)" if value is None else f"${value:,.2f}"


def dry_run(config: RunConfig, *, benchmark: Benchmark | None = None, prices: dict[str, Price] | None = None,
            modes: tuple[str, str] | None = None) -> DryRunEstimate:
    """Count the calls still to make and estimate tokens and cost, live and batched (``modes``:
    the respond and judge phases' modes, ``live`` or a dialect; None: every dialect); sends nothing."""
    runner = Runner(config, benchmark=benchmark, prices=prices)
    done_responses, done_checks = _stored_progress(runner)
    todo = runner.plan.pending_samples(done_checks, retry_failed=False)
    texts = dict(zip(runner.prompts["prompt_id"], runner.prompts["text"]))
    response_tokens = min(config.max_tokens, ASSUMED_RESPONSE_TOKENS)
    verdict_tokens = min(config.judge_max_tokens, ASSUMED_VERDICT_TOKENS)
    system_chars = len(config.system_prompt or "")
    response_ids = [pid for pid, epoch in todo if (pid, epoch) not in done_responses]
    resp_in = sum(_tokens(system_chars + len(texts[pid])) for pid in response_ids)
    judge_calls = sum(len(v) for v in todo.values())
    system_chars = _judge_system_chars(config.protocol)
    judge_in = sum(
        _tokens(system_chars[req] + len(texts[pid])) + response_tokens
        for (pid, _), items in todo.items() for req, _ in items
    )
    warnings = [] if runner.benchmark.official else [f"{runner.benchmark.path} is not the official benchmark file: "
                                                      f"results will not be comparable with the published figures"]
    try:
        runner.check_keys()
    except CredentialError as exc:
        warnings.append(f"{exc}; the real run would stop here")
    resp_cost = cost_usd(config.model, resp_in, response_tokens * len(response_ids), runner.prices)
    judge_cost = cost_usd(config.judge_model, judge_in, verdict_tokens * judge_calls, runner.prices)

    def priced(respond_mode: str, judge_mode: str, out_response: int, out_verdict: int) -> float | None:
        parts = [cost_usd(config.model, resp_in, out_response * len(response_ids), runner.prices, respond_mode),
                 cost_usd(config.judge_model, judge_in, out_verdict * judge_calls, runner.prices, judge_mode)]
        return None if None in parts else float(sum(parts))  # type: ignore[arg-type]

    combos = {f"{modes[0]}+{modes[1]}" if modes[0] != modes[1] else modes[0]: modes} if modes and set(modes) != {"live"} \
        else {d: (d, d) for d in BATCH_DISCOUNTS}
    batch = {name: priced(r, j, response_tokens, verdict_tokens) for name, (r, j) in combos.items()}
    worst = priced("live", "live", config.max_tokens, config.judge_max_tokens)
    return DryRunEstimate(
        run_id=runner.run_id, n_prompts=len(runner.prompts), n_checks=len(runner.checks),
        response_calls=len(response_ids), judge_calls=judge_calls, input_tokens=resp_in + judge_in,
        output_tokens=response_tokens * len(response_ids) + verdict_tokens * judge_calls,
        cost_usd=None if resp_cost is None or judge_cost is None else resp_cost + judge_cost, warnings=tuple(warnings),
        batch_cost_usd=batch, worst_case_usd=worst,
        unpriced=tuple(m for m, c in ((config.model, resp_cost), (config.judge_model, judge_cost)) if c is None),
        epochs=config.epochs, judge_repeats=config.judge_repeats,
    )


def _judge_system_chars(protocol: str) -> dict[str, int]:
    """Length of each judge system message; the authors' rubrics need not be fetched for a dry run."""
    if protocol == "suite":
        return {k: len(system_message(k)) for k in REQUIREMENT_KEYS}
    try:
        return {k: len(get_protocol(protocol).messages(k, "", "")[0][1]) for k in REQUIREMENT_KEYS}
    except RubricsUnavailableError:
        return {k: AUTHORS_RUBRIC_CHARS for k in REQUIREMENT_KEYS}


AUTHORS_RUBRIC_CHARS = 2000
"""Dry-run assumption for the length of an authors' rubric not fetched yet (they are 0.8-3.5 kB)."""


def _tokens(chars: int) -> int:
    return int(chars / CHARS_PER_TOKEN) + 4


def _stored_progress(runner: Runner) -> tuple[dict, dict]:
    """What the store holds for the run, read without writing (a dry run changes nothing)."""
    if not Path(runner.store_path).is_file():
        return {}, {}
    responses = response_texts(runner.store_path, runner.run_id)
    verdicts = verdict_details(runner.store_path, runner.run_id)
    # A store from before epochs (read as it is, never migrated by a dry run) has only the first ones.
    for frame in (responses, verdicts):
        for column in ("epoch", "judge_repeat"):
            if column not in frame.columns:
                frame[column] = 1
    return ({(r.prompt_id, int(r.epoch)): (r.text, r.error) for r in responses.itertuples(index=False)},
            {(v.prompt_id, v.requirement, int(v.epoch), int(v.judge_repeat)): v.error
             for v in verdicts.itertuples(index=False)})
