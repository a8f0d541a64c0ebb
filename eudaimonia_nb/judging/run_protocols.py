"""A run's protocol in a few words, safe to share.

A run record keeps every parameter (``RunConfig.public_parameters``), including local paths,
the names of key variables and a list of up to 969 prompt ids: right for rerunning, wrong for a
slide or a shared report. ``protocol_summary`` says what matters for reading the numbers (the
settings that differ from the authors', the subset judged); ``shareable_settings`` keeps the
rest for a folded details line, with endpoints reduced to their host, and without paths, key
variable names or operational knobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

AUTHORS_SETTINGS: dict[str, Any] = {
    "system_prompt": None, "temperature": 0.7, "max_tokens": 2048, "judge_temperature": 0.0,
}
"""The published protocol's generation and judging settings (see ``report.PUBLISHED_PROTOCOL``)."""
_NAMES = {"system_prompt": "system prompt", "temperature": "temperature", "max_tokens": "max tokens",
          "judge_temperature": "judge temperature"}
PRIVATE = ("api_key_env", "judge_api_key_env", "store_path", "dataset_path")
"""Never shared: key variable names and local paths."""
OPERATIONAL = ("concurrency", "timeout_s", "judge_timeout_s", "max_retries", "retry_base_delay_s", "use_cache")
"""How a run was executed, not what it measured: left out of summaries."""
ENDPOINTS = ("base_url", "judge_base_url")


def host(url: object) -> str:
    """The host name of an endpoint URL ("" when there is none): never its path or query."""
    return urlsplit(str(url or "")).hostname or ""


def _value(value: object) -> str:
    return "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def protocol_summary(parameters: Mapping[str, Any], *, smoke_test: bool = False) -> str:
    """``authors' settings; subset: first 24 prompts`` or ``temperature 0 (authors 0.7)``;
    ``smoke_test`` (the run record's flag, which the parameters may leave undecided) leads."""
    from ..benchmark.recipes import flatten_body, recipe_book

    lead = ["smoke test (not research results)"] if smoke_test else []
    if not parameters:
        return "; ".join(lead + ["not recorded"])
    # A model of the leaderboard is held to its own recipe (a thinking variant runs at temperature 1).
    recipe = recipe_book().for_run(str(parameters.get("model") or ""), parameters.get("model_extra_body"),
                                   parameters.get("recipe"))
    expected = dict(AUTHORS_SETTINGS)
    if recipe is not None:
        expected.update(temperature=recipe.temperature, max_tokens=recipe.max_tokens)
    parts = []
    for key, authors in expected.items():
        if key not in parameters or parameters[key] == authors:
            continue
        if key == "system_prompt":
            parts.append("system prompt set (authors: none)")
        else:
            parts.append(f"{_NAMES[key]} {_value(parameters[key])} (authors {_value(authors)})")
    if recipe is not None and (parameters.get("model_extra_body") or None) != (recipe.extra_body or None):
        parts.append(f"extra body {flatten_body(parameters.get('model_extra_body'))} "
                     f"(authors {flatten_body(recipe.extra_body)})")
    if not parameters.get("structured_output", True):
        parts.append("judge without structured output")
    parts = parts or ([f"the authors' recipe ({recipe.name})"] if recipe is not None else ["authors' settings"])
    subset = []
    if parameters.get("prompt_ids"):
        subset.append(f"{len(parameters['prompt_ids'])} chosen prompts")
    if parameters.get("limit"):
        subset.append(f"first {parameters['limit']} prompts")
    if parameters.get("source"):
        subset.append(f"{parameters['source']} prompts only")
    if parameters.get("requirements"):
        subset.append(f"{len(parameters['requirements'])} of 9 requirements")
    return "; ".join(lead + parts + (["subset: " + ", ".join(subset)] if subset else []))


def shareable_settings(parameters: Mapping[str, Any]) -> str:
    """The recorded settings for a folded details line: endpoints as hosts; no paths, key
    variable names or execution knobs; a prompt-id list as its length."""
    out = []
    for key in sorted(parameters):
        value = parameters[key]
        # smoke_test is the record's own flag (the parameter may be None: "decide from the name").
        if key in PRIVATE or key in OPERATIONAL or key == "smoke_test" or value is None:
            continue
        if key in ENDPOINTS:
            value = host(value)
        elif key == "prompt_ids":
            value = f"{len(value)} ids"
        elif isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value))
        out.append(f"{key}={_value(value)}")
    return ", ".join(out)
