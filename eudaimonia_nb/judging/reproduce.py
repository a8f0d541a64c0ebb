"""A leaderboard row reproduced: the run configuration a recipe describes.

``recipe_config`` is the one place a recipe (``benchmark.recipes``) becomes a ``RunConfig``: the
recipe's model id, route, temperature, token limit, provider fields and model timeout, the
authors' judge (``anthropic/claude-opus-4.6`` on OpenRouter, temperature 0, 1,024 tokens, 120 s),
the ``authors`` protocol, every prompt of the benchmark. The result goes through the same run
path as ``eudaimonia-nb run`` (``runner.run``, ``dry_run.dry_run``), so a reproduction resumes,
caches and costs like any run, and a ``run`` with the same request is the same run.

Only what does not change the request may be overridden (``REPRODUCE_OVERRIDES``): where the
routes point (another gateway, a local server), key variables, a partial subset, concurrency,
the store, the benchmark copy, epochs and judge repeats (the same requests sent more times).
Anything else raises ``RecipeFieldError`` naming the recipe's value: a variant of a recipe is a
``run``.
"""

from __future__ import annotations

from typing import Any

from ..benchmark.recipes import Recipe, recipe_book
from ..paths import DATASET_COPIES, default_dataset_path
from .config import RunConfig

REPRODUCE_OVERRIDES = frozenset({
    "base_url", "judge_base_url", "api_key_env", "judge_api_key_env", "limit", "limit_seed", "source", "requirements",
    "concurrency", "store_path", "dataset_path", "use_cache", "max_retries", "retry_base_delay_s", "smoke_test",
    "epochs", "judge_repeats",
})
"""``RunConfig`` fields a reproduction may set: none of them changes what a request sends (``epochs``
and ``judge_repeats`` send the recipe's requests more times: more samples of the same protocol)."""

RECIPE_FIELDS = {
    "model": "the model id", "temperature": "the temperature", "max_tokens": "max_tokens",
    "model_extra_body": "the model's extra body", "timeout_s": "the model timeout", "judge_model": "the judge",
    "judge_temperature": "the judge temperature", "judge_max_tokens": "the judge's max_tokens",
    "judge_extra_body": "the judge's extra body", "judge_timeout_s": "the judge timeout", "protocol": "the protocol",
    "system_prompt": "the system prompt (none)", "system_prompt_file": "the system prompt (none)",
    "structured_output": "structured output (the authors' protocol sends none)", "prompt_ids": "the prompts",
    "condition": "the study condition (none)",
}
"""Fields a reproduction fixes, with how a refusal names them."""


class RecipeFieldError(ValueError):
    """An override that would change what a recipe sends (use ``run`` for a variant)."""


def recipe_value(recipe: Recipe, field: str) -> object:
    """What the recipe sets ``field`` to (for refusals and for comparability's wording)."""
    judge = recipe_book().judge
    values = {
        "model": recipe.model, "temperature": recipe.temperature, "max_tokens": recipe.max_tokens,
        "model_extra_body": recipe.extra_body, "timeout_s": recipe.timeout_s, "judge_model": judge.model,
        "judge_temperature": judge.temperature, "judge_max_tokens": judge.max_tokens,
        "judge_extra_body": judge.extra_body, "judge_timeout_s": judge.timeout_s, "protocol": "authors",
    }
    return values.get(field)


def recipe_config(recipe: Recipe, *, copy: str = "site", **overrides: Any) -> RunConfig:
    """The run that reproduces ``recipe`` on the ``copy`` of the benchmark (``site`` or ``repo``).

    ``overrides`` may set ``REPRODUCE_OVERRIDES`` only; a ``base_url`` or ``judge_base_url``
    without its key variable means a keyless endpoint, as with ``run``."""
    refused = sorted(set(overrides) - REPRODUCE_OVERRIDES)
    if refused:
        name = refused[0]
        what = RECIPE_FIELDS.get(name, name)
        shown = recipe_value(recipe, name)
        value = f" ({shown!r} in the recipe)" if shown is not None else ""
        raise RecipeFieldError(f"reproduce {recipe.name}: {name} would change {what}{value}; a variant of the recipe "
                               f"is a run: use `eudaimonia-nb run` with the settings you want")
    if copy not in DATASET_COPIES:
        raise ValueError(f"benchmark copy {copy!r}: expected one of {', '.join(DATASET_COPIES)}")
    judge = recipe_book().judge
    base_url = overrides.pop("base_url", None)
    judge_base_url = overrides.pop("judge_base_url", None)
    api_key_env = overrides.pop("api_key_env", None if base_url else recipe.route.api_key_env)
    judge_key_env = overrides.pop("judge_api_key_env", None if judge_base_url else judge.route.api_key_env)
    overrides.setdefault("dataset_path", str(default_dataset_path(copy)) if copy != "site" else None)
    return RunConfig(
        model=recipe.model, base_url=base_url or recipe.route.base_url, api_key_env=api_key_env,
        judge_model=judge.model, judge_base_url=judge_base_url or judge.route.base_url, judge_api_key_env=judge_key_env,
        temperature=recipe.temperature, max_tokens=recipe.max_tokens, model_extra_body=recipe.extra_body,
        timeout_s=recipe.timeout_s, judge_temperature=judge.temperature, judge_max_tokens=judge.max_tokens,
        judge_extra_body=judge.extra_body, judge_timeout_s=judge.timeout_s, protocol="authors", recipe=recipe.name,
        **overrides,
    )
