"""The dialects by name: ``open_dialect("openai" | "anthropic" | "openrouter", base_url, key_env)``."""

from __future__ import annotations

from .protocol import DIALECTS, LIVE, Dialect


def open_dialect(name: str, base_url: str, api_key_env: str | None) -> Dialect:
    """The dialect ``name`` on ``base_url`` with the key in ``api_key_env``."""
    if name == "openai":
        from .openai import OpenAIBatches

        return OpenAIBatches(base_url, api_key_env)
    if name == "anthropic":
        from .anthropic import AnthropicBatches

        return AnthropicBatches(base_url, api_key_env)
    if name == "openrouter":
        from .openrouter import OpenRouterBatches

        return OpenRouterBatches(base_url, api_key_env)
    raise ValueError(f"unknown batch dialect {name!r}; expected one of {', '.join(DIALECTS)} (or {LIVE})")
