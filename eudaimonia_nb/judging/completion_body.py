"""The one reader of an OpenAI-compatible completion body (``parse_completion``): every field is
coerced to its type or the reply is refused as a retryable ``CallFailure``. The live provider,
the batch dialects and the request cache all read replies through it."""

from __future__ import annotations

import json
from typing import Any

from .chat import CallFailure, ChatResponse, Usage


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


class MalformedBody(ValueError):
    """A 200 reply whose JSON has a field of the wrong type or shape (``_parse_completion``)."""


MAX_FINISH_REASON_CHARS = 64
"""Longer ``finish_reason`` strings are not OpenAI's (``stop``, ``length``, ...); they are cut."""


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedBody(f"{where} is {type(value).__name__}, not an object")
    return value


def _content_text(value: object) -> str | None:
    """``message.content``: a string, None, or a list of content parts (``{"type": "text", "text": ...}``)
    joined; anything else is malformed."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(p, dict) and isinstance(p.get("text"), str) for p in value):
        return "".join(p["text"] for p in value if p.get("type", "text") == "text")
    raise MalformedBody(f"message content is {type(value).__name__}, not a string")


def _optional_text(value: object, where: str, limit: int | None = None) -> str | None:
    """A field that must be a string or absent (``finish_reason``, ``refusal``)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedBody(f"{where} is {type(value).__name__}, not a string")
    return value[:limit] if limit is not None else value


MAX_TOKEN_COUNT = 2**53
"""Larger usage counts are not counts (and would overflow SQLite's INTEGER)."""


def _token_count(value: object) -> int:
    """A usage count: a non-negative integer (also as an integral float or a digit string);
    anything else counts as unreported (0): usage is bookkeeping, never a reason to lose an answer."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and 0 <= value <= MAX_TOKEN_COUNT:
        return value
    return 0


def _usage(value: object) -> Usage:
    if not isinstance(value, dict):
        return Usage()
    return Usage(_token_count(value.get("prompt_tokens")), _token_count(value.get("completion_tokens")))


def _parse_completion(body: str, latency_s: float) -> ChatResponse:
    """The one reader of a completion body (every transport calls it): each field is coerced to
    its type or the reply is refused as a retryable ``CallFailure`` (``malformed response body``),
    so no field of a 200 reply can reach the store with a type it cannot hold."""
    try:
        data = _mapping(json.loads(body), "the body")
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            raise MalformedBody(f"choices is {type(choices).__name__ if choices is not None else 'missing'}, "
                                "not a non-empty list")
        choice = _mapping(choices[0], "choices[0]")
        message = _mapping(choice.get("message"), "choices[0].message")
        text = _content_text(message.get("content"))
        refusal = _optional_text(message.get("refusal"), "message refusal")
        # A thinking model's reasoning text (the protocol decides what an answer made only of it means).
        reasoning = _optional_text(message.get("reasoning_content"), "message reasoning_content") \
            or _optional_text(message.get("reasoning"), "message reasoning") or None
        finish_reason = _optional_text(choice.get("finish_reason"), "finish_reason", MAX_FINISH_REASON_CHARS)
        tokens = _usage(data.get("usage"))
    except (ValueError, RecursionError) as exc:  # json.JSONDecodeError and MalformedBody are ValueErrors
        raise CallFailure(f"malformed response body ({type(exc).__name__}: {_short(str(exc), 120)}): "
                          f"{_short(body, 120)!r}", retryable=True) from None
    if text is None and refusal is not None:
        # A structured-output refusal is the model's answer, not a transport fault: retrying
        # would only repeat it.
        raise CallFailure(f"the model refused (no content): {_short(refusal, 200)!r}", retryable=False)
    if text is None and reasoning is None:
        raise CallFailure(f"malformed response body (message content is missing): {_short(body, 120)!r}",
                          retryable=True)
    return ChatResponse(text=text, usage=tokens, latency_s=latency_s, finish_reason=finish_reason, reasoning=reasoning)
