"""How fast the prompt browser reacts to a control change, against a naive baseline.

Run: ``python benchmarks/bench_explore.py [path/to/final_dataset.jsonl]`` (without a path the
file is found as ``load_benchmark()`` finds it). Prints median milliseconds per update.

Browser: one ``PromptBrowser.refresh()`` (vectorised filter over the precomputed index, then
HTML for the first page only). Baseline, measured in the same run: the obvious loop that
lower-cases every prompt and renders every match on each change.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from eudaimonia_nb import load_benchmark
from eudaimonia_nb.widgets.browser import PromptBrowser, render_prompt

QUERIES = ["you", "?", "lonely", "(", "i feel"]


def median_ms(fn: Callable[[], object], repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    bench = load_benchmark(sys.argv[1] if len(sys.argv) > 1 else None)
    browser = PromptBrowser(bench)
    browser.requirements.value = ("2B_emotion_expression", "3A_engagement_hooks")

    def browser_updates() -> None:
        for q in QUERIES:
            browser.search.value = q  # the observer refilters and renders page 1

    def baseline_updates() -> None:
        keys = set(browser.requirements.value)
        for q in QUERIES:
            hits = [row for _, row in bench.prompts.iterrows() if keys & set(row["requirements"]) and q in row["text"].lower()]
            "".join(render_prompt(row, q) for row in hits)

    build = median_ms(lambda: PromptBrowser(bench), repeat=3)
    fast = median_ms(browser_updates) / len(QUERIES)
    slow = median_ms(baseline_updates, repeat=3) / len(QUERIES)
    print(f"prompts: {len(bench.prompts)}")
    print(f"build PromptBrowser:           {build:8.1f} ms")
    print(f"browser update (filter+page):  {fast:8.2f} ms")
    print(f"baseline update (loop+all):    {slow:8.2f} ms")
    print(f"speed-up:                      {slow / fast:8.1f}x")


if __name__ == "__main__":
    main()
