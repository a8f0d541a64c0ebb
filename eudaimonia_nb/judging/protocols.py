"""Judging protocols: how a judge call is framed and its answer read, recorded with every run.

A protocol is part of a run's identity, so verdicts made under different protocols are never
pooled or mistaken for one another.

* ``authors`` (the default) reproduces the EUDAIMONIA authors' judge calls and their pipeline
  (``benchmark.authors.AUTHORS_CONVENTIONS``, recorded with every run): the system message is
  the authors' rubric verbatim (downloaded and hash-checked, see ``authors_rubrics``), the one
  user message is ``"USER: " + prompt + "\nASSISTANT: " + response.strip()`` (the stored
  response keeps its raw text), a reply with empty content but reasoning text is judged as the
  repr they judged (``authors_parser.authors_reply_text``), no ``response_format`` is sent, the
  answer is read by their parser exactly (``authors_parser``; ``keep: true`` means
  **violation**) with a ``parse_path`` and flags for a doubtful reading, and an unparseable
  answer is asked again (3 attempts in all, each after the first bypassing the request cache).
  Where the authors then counted "no violation", the suite records an error with the raw reply;
  the analysis's ``authors`` errors convention (the default for this protocol) counts it so.
* ``suite`` is this project's hardened framing (``judge.py``: untrusted conversation delimited
  as one JSON line, structured output) with the suite's own rubrics (``rubrics/*.md``). It
  departs from the authors; docs/judging.md tables how.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from ..benchmark.authors import AUTHORS_CONVENTIONS, RUBRIC_SHA256
from ..benchmark.design_code import REQUIREMENT_KEYS, requirement
from ..store.results import JUDGE_FAILED, UNPARSEABLE, VerdictRecord
from ..store.verdict_flags import join_flags, split_flags
from . import authors_rubrics
from .authors_parser import authors_reply_text, parse_authors_verdict
from .client import ChatClient, ChatRequest, ChatResponse
from .judge import VERDICT_SCHEMA, Verdict, VerdictParseError, parse_verdict, system_message, template_version, user_message

DEFAULT_PROTOCOL = "authors"
EMPTY_RESPONSE = "the model returned an empty response"
"""Response error of an empty (or whitespace-only) answer: never sent to the judge."""

AUTHORS_JUDGE_MODEL = "anthropic/claude-opus-4.6"
"""The authors' judge: Claude Opus 4.6 through OpenRouter, temperature 0, 1,024 tokens, no thinking."""


@dataclass(frozen=True)
class Protocol:
    """How one judge call is built and its reply read."""

    name: str
    """Recorded with the run: ``authors`` or ``suite``."""
    description: str
    """One line for tables and notes."""
    messages: Callable[[str, str, str], tuple[tuple[str, str], ...]]
    """(requirement key, prompt, response) -> the judge's (role, content) messages."""
    parse: Callable[[str, str | None], Verdict]
    """(reply text, finish reason) -> verdict; raises ``VerdictParseError``."""
    parse_attempts: int
    """Judge calls made for one check while the reply cannot be parsed."""
    sends_response_format: bool
    """Whether a structured-output ``response_format`` is requested (when the run allows it)."""
    rubric_sha256: Callable[[], dict[str, str]]
    """Requirement key -> full SHA-256 of the rubric, recorded with the run."""
    template_version: Callable[[], str]
    """Hash of everything fixed in a call besides the rubric."""
    prepare: Callable[[], None]
    """Makes the rubrics available before a run (the authors': fetch when missing)."""
    reasoning_only_reply: Callable[[str | None, str], str] | None
    """(content ``''``/None, reasoning) -> the text judged for a reply that has only reasoning
    text; None: such a reply is an empty response, never judged."""
    conventions: Mapping[str, str]
    """What was judged, how replies were read and what errors count as: recorded with the run."""
    errors_convention: str
    """The analysis's default errors convention for this protocol (``analysis.conventions``)."""
    rubric_version_of: Callable[[str], str]
    """Requirement key -> short rubric version, recorded with every verdict (one key at a time:
    the whole table per call was a tenth of the client's CPU)."""

    def rubric_versions(self) -> dict[str, str]:
        """Requirement key -> short rubric version of every requirement, recorded with the run."""
        return {key: self.rubric_version_of(key) for key in REQUIREMENT_KEYS}


# -- authors ---------------------------------------------------------------------------------

def authors_user_message(prompt: str, response: str) -> str:
    """The authors' user message: the prompt verbatim, the response as they judged it (stripped)."""
    return "USER: " + prompt + "\nASSISTANT: " + response.strip()


def authors_messages(key: str, prompt: str, response: str) -> tuple[tuple[str, str], ...]:
    return (("system", authors_rubrics.load_rubric(key).prompt), ("user", authors_user_message(prompt, response)))


def _authors_template_version() -> str:
    # The conventions are part of it: a run made before them (raw response, strict repr refusal,
    # the earlier parser) is a different run.
    fixed = json.dumps(["authors", authors_user_message("", ""), 3, "keep=true is a violation",
                        sorted(AUTHORS_CONVENTIONS.items())])
    return hashlib.sha256(fixed.encode("utf-8")).hexdigest()[:12]


AUTHORS = Protocol(
    name="authors",
    description="the authors' judge calls: their rubrics verbatim, USER/ASSISTANT text, keep=true is a violation",
    messages=authors_messages,
    parse=parse_authors_verdict,
    parse_attempts=3,
    sends_response_format=False,
    rubric_sha256=lambda: dict(RUBRIC_SHA256),
    template_version=_authors_template_version,
    prepare=authors_rubrics.ensure_rubrics,
    reasoning_only_reply=authors_reply_text,
    conventions=AUTHORS_CONVENTIONS,
    errors_convention="authors",
    rubric_version_of=lambda key: RUBRIC_SHA256[key][:12],
)


# -- suite -----------------------------------------------------------------------------------

def suite_messages(key: str, prompt: str, response: str) -> tuple[tuple[str, str], ...]:
    return (("system", system_message(key)), ("user", user_message(prompt, response)))


def _suite_sha256() -> dict[str, str]:
    return {k: hashlib.sha256(requirement(k).rubric.encode("utf-8")).hexdigest() for k in REQUIREMENT_KEYS}


SUITE = Protocol(
    name="suite",
    description="the suite's hardened framing and own rubrics (a departure from the authors)",
    messages=suite_messages,
    parse=parse_verdict,
    parse_attempts=1,
    sends_response_format=True,
    rubric_sha256=_suite_sha256,
    template_version=template_version,
    prepare=lambda: None,
    reasoning_only_reply=None,
    conventions=MappingProxyType({"judged_response": "as received", "reasoning_only_reply": "empty response",
                                  "parser": "suite (strict)", "errors": "apart"}),
    errors_convention="apart",
    rubric_version_of=lambda key: requirement(key).rubric_version,
)

PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (AUTHORS, SUITE)}
"""Every protocol by name; the first is the default."""
_SCHEMA_JSON = json.dumps(VERDICT_SCHEMA, sort_keys=True)


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown judging protocol {name!r}; expected one of {', '.join(PROTOCOLS)}") from None


def judge_request(protocol: Protocol, key: str, prompt: str, response: str, *, model: str, temperature: float,
                  max_tokens: int, structured: bool, extra_body: str | None = None) -> ChatRequest:
    """The judge call of one check under ``protocol``."""
    fmt = _SCHEMA_JSON if protocol.sends_response_format and structured else None
    return ChatRequest(model=model, messages=protocol.messages(key, prompt, response), temperature=temperature,
                       max_tokens=max_tokens, response_format=fmt, extra_body=extra_body)


async def judge_check(client: ChatClient, protocol: Protocol, request: ChatRequest, key: str, *,
                      use_cache: bool = True, response: str | None = None) -> VerdictRecord:
    """Judge one check: up to ``protocol.parse_attempts`` calls while the reply cannot be parsed
    (each call after the first bypasses the cache, so it is really asked again). A failed call
    or a reply still unparseable after the last attempt is an error that keeps the raw reply.
    A verdict records how it was read; one read from text that also occurs in the judged
    ``response`` is flagged (the response may have chosen its own verdict)."""
    replies: list[ChatResponse] = []
    while True:
        replies.append(await client.complete(request, use_cache=use_cache and not replies))
        record = read_replies(protocol, key, replies, response=response)
        if record is not None:
            return record


def read_replies(protocol: Protocol, key: str, replies: Sequence[ChatResponse], *,
                 response: str | None = None) -> VerdictRecord | None:
    """The check's record after the judge's ``replies`` to it, in order (tokens, latency and
    attempts summed over them), or None when the last one was unparseable and the protocol asks
    again. Live (``judge_check``) and batched runs read their replies through this one function;
    ``response`` is the judged text, for the ``verdict_in_response`` flag."""
    last = replies[-1]
    violation: bool | None = None
    reasoning: str | None = None
    error: str | None = None
    verdict: Verdict | None = None
    if not last.ok:
        error = f"{JUDGE_FAILED}: {last.error}"
    else:
        try:
            verdict = protocol.parse(last.text or "", last.finish_reason)
        except VerdictParseError as exc:
            if len(replies) < protocol.parse_attempts:
                return None
            tries = f" after {len(replies)} attempts" if protocol.parse_attempts > 1 else ""
            error = f"{UNPARSEABLE}{tries}: {exc}"
        else:
            violation, reasoning = verdict.violation, verdict.reasoning
    flags = ""
    if error is None and verdict is not None:
        quoted = bool(verdict.span) and response is not None and verdict.span in response
        flags = join_flags([*split_flags(verdict.flags), *(["verdict_in_response"] if quoted else [])])
    return VerdictRecord(
        prompt_id="", requirement=key, violation=violation, reasoning=reasoning, raw=last.text,
        prompt_tokens=sum(r.usage.prompt_tokens for r in replies), completion_tokens=sum(r.usage.completion_tokens for r in replies),
        latency_s=sum(r.latency_s for r in replies), attempts=sum(r.attempts for r in replies), cached=last.cached,
        error=error, rubric_version=protocol.rubric_version_of(key),
        parse_path=verdict.parse_path if error is None and verdict else None, verdict_flags=flags,
    )


def is_empty_response(text: str | None) -> bool:
    """An answer with nothing to judge (the authors record it as an error and skip it)."""
    return not (text or "").strip()


def reply_text(protocol: Protocol, content: str | None, reasoning: str | None) -> tuple[str | None, bool]:
    """The response text a run stores and judges for a model reply, and whether it was built
    from the reply's reasoning (the authors' repr of a reply with empty or null content)."""
    if not content and reasoning and protocol.reasoning_only_reply is not None:
        return protocol.reasoning_only_reply(content, reasoning), True
    return content, False


def parse_extra_body(text: str | None, flag: str) -> dict | None:
    """A provider-fields JSON object from a flag or a text box; the error names ``flag``."""
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{flag}: expected a JSON object such as '{{\"reasoning\": {{\"effort\": \"medium\"}}}}' ({exc})") from None
    return check_extra_body(value, flag)


RESERVED_BODY_FIELDS = ("model", "messages", "temperature", "max_tokens", "response_format", "stream")
"""Fields a run sets itself: an extra body may not override them (use the run's own settings)."""


def check_extra_body(value: object, name: str) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"{name}: expected a JSON object, got {type(value).__name__}")
    clash = [k for k in value if k in RESERVED_BODY_FIELDS]
    if clash:
        raise ValueError(f"{name}: {', '.join(clash)} cannot be set here; use the run's own setting")
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: not JSON-serialisable ({exc})") from None
    return value


def extra_body_json(value: dict | None) -> str | None:
    """The canonical JSON of an extra body (for ``ChatRequest.extra_body``)."""
    return None if not value else json.dumps(value, sort_keys=True)
