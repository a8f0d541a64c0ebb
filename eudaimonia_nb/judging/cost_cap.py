"""``--max-cost USD``: a hard cap on what a run spends, live or batched.

The cap covers the whole run, across invocations: what the run was billed for before (its
``run_spend`` rows in the store: the providers' reported usage, priced at the price of the mode
it was made in) plus what this invocation spends. It is never passed, because every call or batch
is *reserved* at its worst case before it is sent: input tokens estimated from the text (a
character per ``CHARS_PER_TOKEN``, plus a margin per message) and output at the request's full
``max_tokens``. A live call that would not fit stops the run cleanly (``CostCapReached``: what
finished is stored, the run is resumable with a higher cap); a batch that would not fit is not
submitted. When a call or batch ends, its reservation is replaced by its billed cost.

A run whose cost cannot be estimated (a model missing from the price table) is refused under
``--max-cost`` before anything is sent, naming the missing price.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..store.batch_ledger import spend, stored_tokens
from ..store.results import ResultsStore
from .client import ChatRequest, ChatResponse, ReliableClient
from .pricing import Price, default_prices_path, mode_price

CHARS_PER_TOKEN = 3.0
"""Reservation rule: characters per input token (fewer than the dry run's 4: a cap errs high)."""
TOKENS_PER_MESSAGE = 8
"""Reservation margin per message (role and framing tokens)."""


class CostCapReached(RuntimeError):
    """The next call or batch could pass the cost cap; it was not sent."""


class UnpricedModelError(ValueError):
    """``--max-cost`` was given but a model the run calls has no price."""


def worst_case_tokens(request: ChatRequest) -> tuple[int, int]:
    """(input, output) tokens reserved for one request: its text and its full output limit."""
    chars = sum(len(content) for _, content in request.messages) + len(request.extra_body or "")
    return int(chars / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * len(request.messages), request.max_tokens


def require_prices(calls: Iterable[tuple[str, str]], prices: dict[str, Price]) -> None:
    """Raise ``UnpricedModelError`` naming each (model, mode) without a price."""
    missing = [f"{model} ({mode})" for model, mode in dict.fromkeys(calls) if mode_price(model, mode, prices) is None]
    if missing:
        where = default_prices_path() or "the price table"
        raise UnpricedModelError(
            f"--max-cost needs the cost of every call, but there is no price for {', '.join(missing)} in {where}; "
            f"add a line 'model,input_usd_per_million,output_usd_per_million' for it (or run without --max-cost)")


def spent_usd(store: ResultsStore, run_id: str, prices: dict[str, Price]) -> float:
    """What the run was billed for so far, from its spend rows; a run recorded before they existed
    counts its stored tokens at live prices (an upper bound). Unpriced models raise."""
    rows = spend(store, run_id)
    if not rows:
        record = store._db.execute("SELECT model, judge_model FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if record is None:
            return 0.0
        r_in, r_out, j_in, j_out = stored_tokens(store, run_id)
        rows = [("live", record[0], r_in, r_out), ("live", record[1], j_in, j_out)]
    total = 0.0
    for mode, model, tokens_in, tokens_out in rows:
        if not tokens_in and not tokens_out:
            continue
        price = mode_price(model, mode, prices)
        if price is None:
            raise UnpricedModelError(f"--max-cost: the run was billed for {model} ({mode}), which has no price")
        total += price.cost(tokens_in, tokens_out)
    return total


@dataclass
class CostCap:
    """The cap of one invocation: settled spend plus reservations never exceed ``cap_usd``."""

    cap_usd: float
    """The cap, USD, for the whole run."""
    prices: dict[str, Price]
    """Price table."""
    spent_usd: float = 0.0
    """Billed so far (before this invocation and settled since)."""
    reserved_usd: float = 0.0
    """Held for calls or batches in flight."""

    def cost(self, model: str, mode: str, tokens_in: int, tokens_out: int) -> float:
        price = mode_price(model, mode, self.prices)
        if price is None:
            raise UnpricedModelError(f"--max-cost: no price for {model} ({mode})")
        return price.cost(tokens_in, tokens_out)

    def reserve(self, amount_usd: float, what: str) -> float:
        """Hold ``amount_usd`` or raise ``CostCapReached`` (nothing held)."""
        if self.spent_usd + self.reserved_usd + amount_usd > self.cap_usd:
            raise CostCapReached(
                f"stopped at the cost cap: {what} could cost up to ${amount_usd:,.4f}, and ${self.spent_usd:,.4f} spent "
                f"plus ${self.reserved_usd:,.4f} in flight would pass --max-cost ${self.cap_usd:,.2f}; every finished "
                f"result is stored: run the same command with a higher --max-cost to resume")
        self.reserved_usd += amount_usd
        return amount_usd

    def settle(self, held_usd: float, billed_usd: float) -> None:
        """A call or batch ended: its reservation becomes what it was billed."""
        self.reserved_usd = max(0.0, self.reserved_usd - held_usd)
        self.spent_usd += billed_usd

    def reserve_request(self, request: ChatRequest, mode: str) -> float:
        tokens_in, tokens_out = worst_case_tokens(request)
        return self.reserve(self.cost(request.model, mode, tokens_in, tokens_out), f"a call to {request.model}")


class CappedClient:
    """A live ``ChatClient`` under a ``CostCap``: each call is reserved before it is sent and
    settled at its reported usage (a cache hit costs nothing). A call cancelled in flight keeps
    its reservation: the provider may still bill it."""

    def __init__(self, inner: ReliableClient, cap: CostCap):
        self.inner = inner
        self.cap = cap
        self.endpoint = inner.endpoint
        self.provider = inner.provider
        self.stats = inner.stats

    async def complete(self, request: ChatRequest, *, use_cache: bool = True) -> ChatResponse:
        held = self.cap.reserve_request(request, "live")
        reply = await self.inner.complete(request, use_cache=use_cache)
        billed = 0.0 if reply.cached else self.cap.cost(request.model, "live", reply.usage.prompt_tokens,
                                                        reply.usage.completion_tokens)
        self.cap.settle(held, billed)
        return reply


def capped(client: ReliableClient | None, cap: CostCap | None) -> ReliableClient | CappedClient | None:
    """``client`` under ``cap`` (itself when there is no cap)."""
    return client if client is None or cap is None else CappedClient(client, cap)

