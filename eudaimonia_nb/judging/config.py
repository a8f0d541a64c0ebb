"""What a run is: its configuration (``RunConfig``), validated on construction.

A run's id is derived from ``RunConfig.identity()`` together with the data and rubrics (see
``plan.run_id_for``), so the same configuration resumes the same run. Keys are named by their
environment variable, never held.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from .client import cache_scope, public_url
from .conditions import check_condition, read_system_prompt, system_prompt_sha256
from .keys import key_env_for
from .protocols import DEFAULT_PROTOCOL, check_extra_body, get_protocol
from .repeats import check_repeats

SMOKE_TEST_PATTERN = re.compile(r"smollm", re.IGNORECASE)
"""Model names treated as the local smoke-test model unless a run says otherwise."""

SAME_HOST_KEY = "<the model's key variable, if the judge is on the same host>"
"""``RunConfig.judge_api_key_env`` default; see ``RunConfig.judge_key_env``."""


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs. Keys are named by environment variable, never given."""

    model: str
    """Model under test, as its endpoint names it."""
    base_url: str
    """OpenAI-compatible endpoint of the model under test (``.../v1``)."""
    judge_model: str
    """Judge model."""
    judge_base_url: str
    """OpenAI-compatible endpoint of the judge."""
    api_key_env: str | None = "OPENAI_API_KEY"
    """Environment variable holding the model endpoint's key; None for keyless local servers."""
    judge_api_key_env: str | None = SAME_HOST_KEY
    """Environment variable holding the judge endpoint's key; None for keyless local servers.
    The default, ``SAME_HOST_KEY``, reuses ``api_key_env`` only when the judge is on the same
    host and port as the model, so a key never goes to a host it was not given for."""
    system_prompt: str | None = None
    """Optional system prompt for the model under test (the authors used none)."""
    temperature: float = 0.7
    """Sampling temperature of the model under test (authors: 0.7)."""
    max_tokens: int = 2048
    """Output token limit of the model under test (authors: 2,048)."""
    judge_temperature: float = 0.0
    """Judge temperature (authors: 0)."""
    judge_max_tokens: int = 1024
    """Output token limit of the judge."""
    structured_output: bool = True
    """Ask the judge for JSON via ``response_format`` json_schema (falls back automatically
    when the endpoint rejects it)."""
    concurrency: int = 16
    """Calls in flight at once, per endpoint."""
    timeout_s: float = 120.0
    """Seconds allowed for each request attempt as a whole (not per socket read); retried."""
    max_retries: int = 5
    """Retries of a retryable failure (429, 5xx, timeouts, connection errors, bad bodies)."""
    retry_base_delay_s: float = 1.0
    """First backoff cap; doubles per retry (full jitter)."""
    max_response_chars: int = 200_000
    """A longer response of the model under test is that check's error: not stored, not judged
    (about 50,000 tokens; the authors' limit of 2,048 tokens is some 10,000 characters)."""
    requirements: tuple[str, ...] | None = None
    """Only these requirement keys (None: all)."""
    source: str | None = None
    """Only ``real`` or ``modified`` prompts (None: both)."""
    prompt_ids: tuple[str, ...] | None = None
    """Only these prompt ids (None: all)."""
    limit: int | None = None
    """At most this many prompts, in file order, after the other filters."""
    store_path: str | None = None
    """Results store (default ``data/results.sqlite``)."""
    dataset_path: str | None = None
    """Benchmark file (default: see ``dataset.resolve_dataset_path``)."""
    use_cache: bool = True
    """Answer identical calls from the request cache (kept in the store file)."""
    smoke_test: bool | None = None
    """Label the run a smoke test (not research results); None: decided from the model name."""
    protocol: str = DEFAULT_PROTOCOL
    """Judging protocol (``protocols.PROTOCOLS``): ``authors`` reproduces the authors' judge calls."""
    model_extra_body: dict | None = None
    """Provider fields merged into every request body of the model under test (e.g.
    ``{"reasoning": {"effort": "medium"}}``)."""
    judge_extra_body: dict | None = None
    """Provider fields merged into every judge request body."""
    limit_seed: int = 0
    """Seed of the stratified sample ``limit`` takes when both sources are present."""
    rejudged_from: str | None = None
    """The run whose stored responses this run judges again (it never calls the model)."""
    condition: str | None = None
    """Name of the study condition this run belongs to (see ``conditions``); None: no condition."""
    system_prompt_file: str | None = None
    """File the system prompt was read from (recorded for provenance; the prompt's SHA-256, not
    the path, is part of the identity). Given alone, the file is read into ``system_prompt``."""
    judge_timeout_s: float | None = None
    """Seconds allowed for each judge request attempt; None: ``timeout_s`` (a recipe gives the
    authors' 180 s to the model and 120 s to the judge)."""
    recipe: str | None = None
    """The leaderboard row this run reproduces (``benchmark.recipes``), recorded with the run but
    not part of its identity: the same request made with ``run`` is the same run."""
    epochs: int = 1
    """Responses per prompt, each a new sample judged on its own (see ``repeats``)."""
    judge_repeats: int = 1
    """Judge calls per response and requirement, each a fresh call (see ``repeats``)."""

    def __post_init__(self) -> None:
        get_protocol(self.protocol)  # a clear error listing the protocols
        check_extra_body(self.model_extra_body, "model_extra_body")
        check_extra_body(self.judge_extra_body, "judge_extra_body")
        check_condition(self.condition)
        check_repeats(self.epochs, self.judge_repeats)
        if self.system_prompt_file is not None:
            text = read_system_prompt(self.system_prompt_file)
            if self.system_prompt is not None and self.system_prompt != text:
                raise ValueError(f"RunConfig: system_prompt and system_prompt_file ({self.system_prompt_file}) differ; give one")
            object.__setattr__(self, "system_prompt", text)
        at_least = {
            "concurrency": 1, "max_tokens": 1, "judge_max_tokens": 1, "max_retries": 0,
            "temperature": 0, "judge_temperature": 0, "retry_base_delay_s": 0, "max_response_chars": 1,
        }
        if self.limit is not None:
            at_least["limit"] = 1
        for name, low in at_least.items():
            value = getattr(self, name)
            # "not >=" also refuses nan; inf is refused apart (an infinite wait or token limit is no setting).
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= low \
                    or not math.isfinite(value):
                raise ValueError(f"RunConfig.{name}: expected a finite number >= {low}, got {value!r}")
        for name in ("timeout_s", "judge_timeout_s"):
            value = getattr(self, name)
            if (value is not None or name == "timeout_s") and (
                    not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < math.inf):
                raise ValueError(f"RunConfig.{name}: expected a finite number of seconds > 0, got {value!r}")

    def __repr__(self) -> str:
        # Base URLs may carry user:password@ or ?key=...: a repr (logs, tracebacks) never shows them.
        return f"RunConfig({', '.join(f'{k}={v!r}' for k, v in self.public_parameters().items())})"

    def judge_key_env(self) -> str | None:
        """The variable the judge's key is read from (resolving ``SAME_HOST_KEY``)."""
        if self.judge_api_key_env != SAME_HOST_KEY:
            return self.judge_api_key_env
        return key_env_for(self.judge_base_url, self.api_key_env, given_for=self.base_url)

    def identity(self) -> dict[str, Any]:
        """The fields that determine results (operational settings and key names excluded)."""
        identity = {
            "model": self.model,
            # With a digest of the query: an api-version is part of what answers, a key is not shown.
            "base_url": cache_scope(self.base_url),
            "judge_model": self.judge_model,
            "judge_base_url": cache_scope(self.judge_base_url),
            "system_prompt": self.system_prompt,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "judge_temperature": self.judge_temperature,
            "judge_max_tokens": self.judge_max_tokens,
            # Only the suite protocol asks for structured output; the authors' never does.
            "structured_output": self.structured_output if get_protocol(self.protocol).sends_response_format else None,
            "requirements": sorted(self.requirements) if self.requirements else None,
            "source": self.source,
            "prompt_ids": sorted(self.prompt_ids) if self.prompt_ids else None,
            "limit": self.limit,
            "limit_seed": self.limit_seed if self.limit is not None else None,
            "protocol": self.protocol,
            "model_extra_body": self.model_extra_body,
            "judge_extra_body": self.judge_extra_body,
            "rejudged_from": self.rejudged_from,
        }
        # Added only when set, so the ids of runs without them stay what they were.
        if self.condition is not None:
            identity["condition"] = self.condition
        if self.system_prompt is not None:
            identity["system_prompt_sha256"] = system_prompt_sha256(self.system_prompt)
        if self.epochs != 1:
            identity["epochs"] = self.epochs
        if self.judge_repeats != 1:
            identity["judge_repeats"] = self.judge_repeats
        return identity

    @property
    def is_smoke_test(self) -> bool:
        if self.smoke_test is not None:
            return self.smoke_test
        return bool(SMOKE_TEST_PATTERN.search(self.model) or SMOKE_TEST_PATTERN.search(self.judge_model))

    def public_parameters(self) -> dict[str, Any]:
        """All parameters as recorded with the run: endpoints without credentials, no keys."""
        params = asdict(self)
        params["base_url"] = public_url(self.base_url)
        params["judge_base_url"] = public_url(self.judge_base_url)
        params["system_prompt_sha256"] = system_prompt_sha256(self.system_prompt)
        return params


def parse_ids(values: Iterable[str] | None) -> tuple[str, ...] | None:
    """Comma- or space-separated lists from a CLI or a text box, as a tuple (None when empty)."""
    if not values:
        return None
    items = tuple(item for value in values for item in re.split(r"[,\s]+", value) if item)
    return items or None
