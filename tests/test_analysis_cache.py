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


def test_a_fit_kept_on_disk_is_read_by_another_process_without_refitting(tmp_path):
    """The Mixed-effects tab fits once per machine: a new kernel reads the fit from disk."""
    import subprocess
    import sys

    script = """
import sys
from eudaimonia_nb.analysis import mixed
from eudaimonia_nb.analysis.simulate import demo_judgments
frame = demo_judgments()
frame = frame[frame["model"].isin(["GPT-4o", "Grok 3"])]
if sys.argv[1] == "second":
    def refuse(*args, **kwargs):
        raise AssertionError("refitted although the fit is on disk")
    mixed._fit = refuse
print(mixed.fit_mixed(frame).params.loc["source[T.modified]", "estimate"])
"""
    env = {**__import__("os").environ, "EUDAIMONIA_DATA_DIR": str(tmp_path)}
    first = subprocess.run([sys.executable, "-c", script, "first"], env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    files = list((tmp_path / "cache" / "fits" / "mixed").glob("*.pickle"))
    assert len(files) == 1
    second = subprocess.run([sys.executable, "-c", script, "second"], env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    env["EUDAIMONIA_FIT_CACHE"] = "off"  # off: fitted again (the refusing stub fails)
    off = subprocess.run([sys.executable, "-c", script, "second"], env=env, capture_output=True, text=True, timeout=600)
    assert off.returncode != 0 and "refitted although" in off.stderr


def test_a_damaged_or_stale_file_is_never_used(tmp_path, monkeypatch):
    from eudaimonia_nb.analysis import cache as C

    monkeypatch.setenv("EUDAIMONIA_DATA_DIR", str(tmp_path))
    calls: list[int] = []
    first: FitCache[dict] = FitCache(disk="unit")
    assert first.get_or_fit("k", lambda: calls.append(1) or {"fit": 1}) == {"fit": 1}
    (path,) = (tmp_path / "cache" / "fits" / "unit").glob("*.pickle")
    assert FitCache(disk="unit").get_or_fit("k", lambda: calls.append(2) or {"fit": 2}) == {"fit": 1}
    path.write_bytes(b"not a pickle")  # a truncated or foreign file: recomputed, never an error
    assert FitCache(disk="unit").get_or_fit("k", lambda: calls.append(3) or {"fit": 3}) == {"fit": 3}
    # Edited analysis code (or another library version): another file, so the old fit is not read.
    monkeypatch.setattr(C, "code_version", lambda: "edited")
    assert FitCache(disk="unit").get_or_fit("k", lambda: calls.append(4) or {"fit": 4}) == {"fit": 4}
    assert calls == [1, 3, 4]
    assert FitCache(disk="unit").get_or_fit("k", lambda: 5, use_cache=False) == 5
