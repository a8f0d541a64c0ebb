from __future__ import annotations

from eudaimonia_nb.analysis.cache import FitCache


def test_least_recently_used_fit_is_evicted_and_hits_do_not_refit():
    calls: list[str] = []
    cache: FitCache[str] = FitCache(size=2)

    def fit(name: str):
        return lambda: calls.append(name) or f"fit-{name}"

    assert cache.get_or_fit("a", fit("a")) == "fit-a"
    assert cache.get_or_fit("b", fit("b")) == "fit-b"
    assert cache.get_or_fit("a", fit("a")) == "fit-a"  # hit; "a" becomes most recent
    cache.get_or_fit("c", fit("c"))  # evicts "b", the least recently used
    cache.get_or_fit("a", fit("a"))
    cache.get_or_fit("b", fit("b"))
    assert calls == ["a", "b", "c", "b"]
    assert len(cache) == 2


def test_use_cache_false_always_fits_and_stores_nothing():
    cache: FitCache[int] = FitCache(size=4)
    results = [cache.get_or_fit("k", lambda: 1, use_cache=False) for _ in range(3)]
    assert results == [1, 1, 1] and len(cache) == 0
