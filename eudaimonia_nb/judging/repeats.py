"""Epochs and judge repeats: how many samples a run takes, and how each sample is told apart.

An *epoch* is one more response of the model under test to the same prompt, judged like the
first: at the run's temperature it is a new sample of what the model might have said. A *judge
repeat* is one more judge call on the same response: it shows what the judge might have said
instead. ``analysis.noise`` separates the two kinds of variation; ``analysis.reducers`` turns
the repeats of a check into one verdict.

Both are real samples, never answers replayed from the request cache:

* the epoch enters the cache key of the model's call (and of the judge's calls on that
  response), so epoch 2 is never answered with epoch 1's cached text; epoch 1's key is the key
  a run without epochs has always used, so ``--epochs 3`` after ``--epochs 1`` answers epoch 1
  from the cache and calls the model for epochs 2 and 3 only;
* judge repeat 2 and later bypass the cache: each is a fresh call.

The tags only enter the cache key (``ChatRequest.sample``); nothing about them is sent.
"""

from __future__ import annotations

MAX_REPEATS = 100
"""Upper bound on ``epochs`` and ``judge_repeats`` (a typo like 1000 would multiply a bill)."""


def check_repeats(epochs: object, judge_repeats: object, *, where: str = "RunConfig") -> None:
    """Raise ``ValueError`` naming the field unless both are whole numbers from 1 to ``MAX_REPEATS``."""
    for name, value in (("epochs", epochs), ("judge_repeats", judge_repeats)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_REPEATS:
            raise ValueError(f"{where}.{name}: expected a whole number from 1 to {MAX_REPEATS}, got {value!r}")


def response_sample(epoch: int) -> str | None:
    """The cache-key tag of the model's call for ``epoch`` (None for epoch 1: its key is unchanged)."""
    return None if epoch == 1 else f"epoch {epoch}"


def judge_sample(epoch: int, judge_repeat: int) -> str | None:
    """The cache-key tag of a judge call on the response of ``epoch`` (None for epoch 1, repeat 1)."""
    parts = [f"epoch {epoch}"] if epoch != 1 else []
    if judge_repeat != 1:
        parts.append(f"judge repeat {judge_repeat}")
    return ", ".join(parts) or None


def judge_uses_cache(judge_repeat: int) -> bool:
    """Whether a judge call may be answered from the cache: only the first of its repeats."""
    return judge_repeat == 1


def describe_repeats(epochs: int, judge_repeats: int) -> str:
    """``3 epochs x 2 judge repeats`` (empty for the defaults)."""
    parts = []
    if epochs != 1:
        parts.append(f"{epochs} epochs")
    if judge_repeats != 1:
        parts.append(f"{judge_repeats} judge repeats")
    return " x ".join(parts)
