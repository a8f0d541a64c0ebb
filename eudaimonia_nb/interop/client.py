"""The suite's ``ChatClient`` over an Inspect ``Model``: the suite's judge calls, made by Inspect.

``judging.calls.judge`` and ``judging.protocols.judge_check`` build a judge request, count its
attempts and read its reply through any ``ChatClient``; this one sends each request through
``Model.generate``, so an Inspect task judges with exactly the suite's protocol while Inspect
owns the provider, its retries and its connection limits. A call Inspect gives up on becomes a
failed ``ChatResponse`` (the suite's "judge call failed"), never a verdict; configuration
errors and sample limits are Inspect's own and propagate.
"""

from __future__ import annotations

import json

from inspect_ai._util.error import PrerequisiteError
from inspect_ai.model import ChatMessage, ChatMessageAssistant, ChatMessageSystem, ChatMessageUser, GenerateConfig, Model
from inspect_ai.util import LimitExceededError

from eudaimonia_nb.judging.client import ChatRequest, ChatResponse, Usage

FINISH_REASONS = {"stop": "stop", "max_tokens": "length", "model_length": "length", "content_filter": "content_filter",
                  "tool_calls": "tool_calls"}
"""Inspect's ``StopReason`` -> the OpenAI ``finish_reason`` the suite records (``unknown``: none)."""
STOP_REASONS = {"stop": "stop", "length": "max_tokens", "content_filter": "content_filter", "tool_calls": "tool_calls"}
"""The recorded ``finish_reason`` -> Inspect's ``StopReason`` (anything else: ``unknown``)."""


def chat_messages(messages: tuple[tuple[str, str], ...]) -> list[ChatMessage]:
    """(role, content) pairs as Inspect chat messages."""
    kinds = {"system": ChatMessageSystem, "user": ChatMessageUser, "assistant": ChatMessageAssistant}
    try:
        return [kinds[role](content=content) for role, content in messages]
    except KeyError as exc:
        raise ValueError(f"a chat message with role {exc.args[0]!r}: expected system, user or assistant") from None


def generate_config(request: ChatRequest) -> GenerateConfig:
    """The request's sampling settings as an Inspect ``GenerateConfig``."""
    if request.response_format is not None:
        # No Inspect equivalent is wired: the authors' protocol never sends one.
        raise ValueError("structured output (response_format) is not sent through Inspect; use the authors' protocol")
    return GenerateConfig(temperature=request.temperature, max_tokens=request.max_tokens, seed=request.seed,
                          extra_body=json.loads(request.extra_body) if request.extra_body else None)


class InspectChatClient:
    """``complete`` sends one request through an Inspect model; it never raises for a failed call."""

    def __init__(self, model: Model):
        self.model = model
        self.endpoint = f"inspect:{model}"
        """The Inspect model, ``provider/name`` (no URL: Inspect holds it, with its key)."""

    async def complete(self, request: ChatRequest, *, use_cache: bool = True) -> ChatResponse:
        # use_cache=False is a deliberate re-ask (a reply the protocol could not read): Inspect's
        # cache, if a caller enabled one, must not answer it with the same reply.
        cache = {} if use_cache else {"cache": False}
        try:
            output = await self.model.generate(chat_messages(request.messages), config=generate_config(request), **cache)
        except (PrerequisiteError, LimitExceededError):
            raise  # a missing key or a sample limit is Inspect's to report, not a judge error
        except Exception as exc:  # noqa: BLE001 - providers raise their own types; Inspect already retried
            return ChatResponse(text=None, error=f"{type(exc).__name__}: {exc}", attempts=1)
        usage = output.usage
        tokens = Usage(usage.input_tokens, usage.output_tokens) if usage is not None else Usage()
        if output.error:
            return ChatResponse(text=None, usage=tokens, error=f"the model refused: {output.error}", attempts=1)
        stop = output.choices[0].stop_reason if output.choices else "unknown"
        return ChatResponse(text=output.completion, usage=tokens, latency_s=float(output.time or 0.0),
                            finish_reason=FINISH_REASONS.get(stop), attempts=1)
