"""The request cache is keyed on everything that determines the answer, and nothing secret."""

from __future__ import annotations

import asyncio

from fault_server import FaultServer, Script

from eudaimonia_nb.judging.client import ChatRequest, RequestCache, cache_scope, open_client


def _ask(base_url: str, cache: RequestCache, request: ChatRequest) -> bool:
    async def go() -> bool:
        client = open_client(base_url, None, cache=cache)
        try:
            response = await client.complete(request)
        finally:
            await client.provider.aclose()  # its pooled connection, before asyncio.run closes the loop
        assert response.ok, response.error
        return response.cached

    return asyncio.run(go())


def test_query_string_separates_cached_answers_but_is_not_stored(tmp_path):
    cache = RequestCache(tmp_path / "cache.sqlite")
    request = ChatRequest(model="m", messages=({"role": "user", "content": "hello"},), temperature=0.0, max_tokens=5)
    secret = "QUERYSECRET" + "x" * 12
    with FaultServer(Script()) as server:
        plain = server.base_url
        versioned = f"{server.base_url}?api-version=2024-06-01&key={secret}"
        assert _ask(plain, cache, request) is False
        assert _ask(plain, cache, request) is True          # identical call: free
        assert _ask(versioned, cache, request) is False     # another api-version: asked again
        assert _ask(versioned, cache, request) is True
        changed = ChatRequest(model="m", messages=request.messages, temperature=0.7, max_tokens=5)
        assert _ask(plain, cache, changed) is False         # a parameter changed: asked again
        assert server.requests["respond"] == 3
    cache.close()
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert secret.encode() not in stored and b"api-version" not in stored


def test_cache_scope_ignores_query_order_and_credentials_and_hides_values():
    a = cache_scope("https://h.example/v1?b=2&a=1")
    assert a == cache_scope("https://h.example/v1?a=1&b=2")
    assert a != cache_scope("https://h.example/v1?a=1&b=3")
    assert "a=1" not in a and cache_scope("https://h.example/v1/") == "https://h.example/v1"
    # a rotated key is not a different endpoint
    assert cache_scope("https://h.example/v1?api-version=1&key=OLD") == cache_scope("https://h.example/v1?api-version=1&api_key=NEW")
    assert cache_scope("https://h.example/v1?token=x") == "https://h.example/v1"


def test_run_id_follows_the_api_version_not_the_key(benchmark):
    from dataclasses import replace

    from eudaimonia_nb.judging.config import RunConfig
    from eudaimonia_nb.judging.plan import run_id_for

    config = RunConfig(model="m", base_url="https://h.example/v1?api-version=1&key=OLD", judge_model="j",
                       judge_base_url="https://h.example/v1")
    base = run_id_for(config, benchmark)
    assert run_id_for(replace(config, base_url="https://h.example/v1?key=NEW&api-version=1"), benchmark) == base
    assert run_id_for(replace(config, base_url="https://h.example/v1?api-version=2&key=OLD"), benchmark) != base
