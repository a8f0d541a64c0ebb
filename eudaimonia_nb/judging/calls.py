"""Executing calls: the model's response to a prompt and the judge's verdict on a check.

Each function makes one logical call through a ``ChatClient`` (retries and the request cache
live in ``client.ReliableClient``, above the provider) and returns what it got, recording
nothing: storing results is ``recording``'s job and deciding what to call is ``plan``'s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import replace

from ..credentials import Redactor
from ..store.results import VerdictRecord
from .client import ChatClient, ChatRequest, ChatResponse, ReliableClient, RequestCache, RetryPolicy, open_client
from .config import RunConfig
from .cost_cap import CostCapReached
from .protocols import EMPTY_RESPONSE, extra_body_json, get_protocol, is_empty_response, judge_check, reply_text
from .protocols import judge_request as protocol_request
from .recording import no_response_verdict
from .repeats import judge_sample, judge_uses_cache, response_sample

log = logging.getLogger(__name__)


def open_clients(config: RunConfig, *, cache: RequestCache | None = None,
                 judge_only: bool = False) -> tuple[ReliableClient | None, ReliableClient]:
    """The model's and the judge's clients for ``config``: its concurrency, timeout and retries,
    and the judge's key variable resolved by ``RunConfig.judge_key_env``. With ``judge_only``
    (a rejudge) the model's client is None: its key is not needed."""
    retry = RetryPolicy(max_retries=config.max_retries, base_delay_s=config.retry_base_delay_s)
    common = dict(concurrency=config.concurrency, retry=retry, cache=cache)
    judge_timeout = config.judge_timeout_s if config.judge_timeout_s is not None else config.timeout_s
    judge_client = open_client(config.judge_base_url, config.judge_key_env(), timeout_s=judge_timeout, **common)
    responder = None if judge_only else open_client(config.base_url, config.api_key_env, timeout_s=config.timeout_s, **common)
    return responder, judge_client


def response_request(prompt: str, config: RunConfig, *, epoch: int = 1) -> ChatRequest:
    """Single turn: the user prompt alone, after the optional system prompt, as sample ``epoch``
    (a tag of the cache key only: see ``repeats``; live and batched runs alike)."""
    messages = ((("system", config.system_prompt),) if config.system_prompt else ()) + (("user", prompt),)
    return ChatRequest(model=config.model, messages=messages, temperature=config.temperature, max_tokens=config.max_tokens,
                       extra_body=extra_body_json(config.model_extra_body), sample=response_sample(epoch))


UNEXPECTED = "unexpected error in this call"
"""Start of the error text of a call that failed in a way nothing anticipated (a bug, a library's
new exception): it is that check's recorded error, and the run goes on."""


def unexpected_error(client: ChatClient, exc: Exception) -> str:
    """The recorded text of an unexpected exception, through the client's redaction."""
    redact = getattr(client, "_redact", None) or Redactor()
    return redact(f"{UNEXPECTED} ({type(exc).__name__}: {' '.join(str(exc).split())[:300]})")


def checked_response(reply: ChatResponse, config: RunConfig) -> ChatResponse:
    """The model's reply as a run records it, live or batched: an empty answer, or one longer than
    ``config.max_response_chars``, is that response's error. A reply with empty content but
    reasoning text becomes the text the run's protocol judges for it (the authors': their repr;
    the suite's: an empty response).

    The returned ``reasoning`` is kept only when the text was built from it, so that recording
    can say so (``ResponseRecord.reasoning_repr``); otherwise it is None."""
    if not reply.ok:
        return reply
    text, from_reasoning = reply_text(get_protocol(config.protocol), reply.text, reply.reasoning)
    reply = replace(reply, text=text, reasoning=reply.reasoning if from_reasoning else None)
    if is_empty_response(reply.text):
        return replace(reply, text=reply.text or "", error=EMPTY_RESPONSE)
    if len(reply.text or "") > config.max_response_chars:
        # Neither stored nor sent to the judge (a 30 MB answer took 716 MB of memory).
        return replace(reply, text=None, error=f"response of {len(reply.text or ''):,} characters is longer than "
                                               f"max_response_chars ({config.max_response_chars:,})")
    return reply


async def respond(client: ChatClient, prompt: str, config: RunConfig, *, use_cache: bool = True,
                  epoch: int = 1) -> ChatResponse:
    """One response of the model under test to one prompt (as sample ``epoch``: see ``repeats``),
    as ``checked_response`` reads it; any unexpected exception is that response's error."""
    try:
        reply = await client.complete(response_request(prompt, config, epoch=epoch), use_cache=use_cache)
    except CostCapReached:
        raise  # the run's stop (--max-cost), not this call's error
    except Exception as exc:  # noqa: BLE001 - one call's fault is recorded, never the run's end
        log.exception("response call failed unexpectedly")
        return ChatResponse(text=None, error=unexpected_error(client, exc))
    return checked_response(reply, config)


def judge_request(requirement_key: str, prompt: str, response: str, config: RunConfig, *, epoch: int = 1,
                  judge_repeat: int = 1) -> ChatRequest:
    """The judge call of one check under the run's protocol, on the response of ``epoch``, as
    ``judge_repeat`` (tags of the cache key only; live and batched runs alike)."""
    request = protocol_request(
        get_protocol(config.protocol), requirement_key, prompt, response, model=config.judge_model,
        temperature=config.judge_temperature, max_tokens=config.judge_max_tokens, structured=config.structured_output,
        extra_body=extra_body_json(config.judge_extra_body),
    )
    return replace(request, sample=judge_sample(epoch, judge_repeat))


async def judge(
    client: ChatClient, requirement_key: str, prompt: str, response: str, config: RunConfig, *, use_cache: bool = True,
    epoch: int = 1, judge_repeat: int = 1,
) -> VerdictRecord:
    """Judge one response on one requirement under the run's protocol; failures and replies
    that stay unparseable become errors. The response is that of ``epoch``; a ``judge_repeat``
    after the first never reads the cache (see ``repeats``). The record carries both."""
    request = judge_request(requirement_key, prompt, response, config, epoch=epoch, judge_repeat=judge_repeat)
    try:
        verdict = await judge_check(client, get_protocol(config.protocol), request, requirement_key,
                                    use_cache=use_cache and judge_uses_cache(judge_repeat), response=response)
    except CostCapReached:
        raise  # the run's stop (--max-cost), not this check's error
    except Exception as exc:  # noqa: BLE001 - one call's fault is recorded, never the run's end
        log.exception("judge call failed unexpectedly")
        verdict = replace(no_response_verdict("", requirement_key, "", config.protocol), error=unexpected_error(client, exc))
    return replace(verdict, epoch=epoch, judge_repeat=judge_repeat)


async def respond_and_judge(
    responder: ChatClient, judge_client: ChatClient, prompt: str, requirement_keys: Iterable[str], config: RunConfig,
    *, prompt_id: str = "",
) -> tuple[ChatResponse, list[VerdictRecord]]:
    """One prompt outside any run (nothing stored): the model's response and, per requirement in
    the given order, a verdict or the reason there is none, exactly as a run would record them."""
    keys = list(requirement_keys)
    await asyncio.to_thread(get_protocol(config.protocol).prepare)
    reply = await respond(responder, prompt, config)
    if not reply.ok:
        return reply, [no_response_verdict(prompt_id, key, reply.error or "", config.protocol) for key in keys]
    verdicts = await asyncio.gather(*(judge(judge_client, key, prompt, reply.text or "", config) for key in keys))
    return reply, [replace(v, prompt_id=prompt_id) for v in verdicts]
