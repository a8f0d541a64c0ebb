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


def test_the_selection_check_is_computed_once_per_data_and_a_caller_cannot_spoil_the_cache(monkeypatch):
    """The Mixed-effects tab recomputed its selection check (200 simulations, the slowest part of the
    tab on 22 models) on every return to a filter; now it is cached like the fits, by content."""
    from eudaimonia_nb.analysis import curation
    from eudaimonia_nb.analysis.simulate import demo_judgments

    frame = demo_judgments()
    frame = frame[frame["model"].isin(["GPT-4o", "GPT-5.5", "Grok 3", "Qwen3 8B"])]
    calls: list[int] = []
    real = curation._selection_check
    monkeypatch.setattr(curation, "_selection_check", lambda f, *a: calls.append(len(f)) or real(f, *a))
    monkeypatch.setattr(curation, "_checks", FitCache(8))
    contrast, band, notes = curation.selection_check(frame, prompt_sd=1.0, n_sims=20)
    contrast["edited"] = 1  # a caller editing its copy
    notes.append("edited")
    again, band_again, notes_again = curation.selection_check(frame.copy(), prompt_sd=1.0, n_sims=20)
    assert calls == [len(frame)]  # same content, another frame object: from the cache
    assert "edited" not in again.columns and "edited" not in notes_again
    assert band is not None and band_again is not None and band.equals(band_again)
    other_curator = frame.copy()
    other_curator["responder_model"] = other_curator["responder_model"].where(
        other_curator["source"] != "modified", "someone else")
    curation.selection_check(other_curator, prompt_sd=1.0, n_sims=20)
    curation.selection_check(frame, prompt_sd=2.0, n_sims=20)
    assert len(calls) == 3  # other curation models or another prompt SD: computed again
