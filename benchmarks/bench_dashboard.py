"""Dashboard speed in a real browser (Debian's Chromium via Playwright, Voila on 127.0.0.1).

Measures, for the embedded demo (22 models, 69,234 checks):
- first figure visible after opening the page (target: 10 s), Voila as the Makefile starts it
  with a cold kernel and with ``--preheat_kernel=True`` (as ``make dashboard`` serves it);
- a control change until the figure shows it (target: 2 s);
- opening the Requirements tab, the Mixed-effects tab (first fit), and the Mixed-effects tab
  again after a filter round trip (cached fit).
Baseline in the same run: the same Voila and browser opening a one-widget notebook, so the
ratio shows what the dashboard adds over Voila's own start-up.

    .venv/bin/python benchmarks/bench_dashboard.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from test_dashboard_helpers import chromium, voila_server  # noqa: E402

FIRST = ".js-plotly-plot"


def _open(browser, url: str, selector: str) -> tuple[object, float]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    started = time.perf_counter()
    page.goto(url, timeout=180_000)
    page.wait_for_selector(selector, timeout=180_000)
    return page, time.perf_counter() - started


def _tick_count_is(page, n: int) -> str:
    return (f"() => document.querySelector('.js-plotly-plot').querySelectorAll('.ytick text').length === {n}")


def _timed(action, page, condition: str) -> float:
    started = time.perf_counter()
    action()
    page.wait_for_function(condition, timeout=300_000)
    return time.perf_counter() - started


def _tab(page, title: str):
    return lambda: page.locator(".lm-TabBar-tab", has_text=re.compile(f"^{re.escape(title)}$")).click()


def _visible_figures_ready(n: int) -> str:
    return ("() => { const p = [...document.querySelectorAll('.js-plotly-plot')].filter(e => e.offsetParent);"
            f" return p.length >= {n} && p.every(e => e.querySelector('.trace, .hm')) &&"
            " !document.body.innerText.includes('Fitting the mixed-effects'); }")


def _baseline_notebook(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import ipywidgets\nipywidgets.HTML('<div class=\"ready\">ready</div>')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "baseline.ipynb"
    nbformat.write(nb, path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows: list[tuple[str, float, float | None]] = []
    with chromium() as browser, tempfile.TemporaryDirectory() as tmp:
        with voila_server("demo", notebook=_baseline_notebook(Path(tmp))) as url:
            base = [(_open(browser, url, ".ready"))[1] for _ in range(args.repeats)]
        baseline = statistics.median(base)
        rows.append(("baseline: one-widget notebook, first widget visible", baseline, None))
        with voila_server("demo") as url:
            firsts = []
            for _ in range(args.repeats):
                page, seconds = _open(browser, url, FIRST)
                firsts.append(seconds)
                page.close()
            rows.append(("first figure visible (voila, cold kernel)", statistics.median(firsts), baseline))
            page, _ = _open(browser, url, FIRST)
            models = page.locator(".widget-select-multiple:has(label:text-is('Models')) select")
            changes = [
                _timed(lambda: models.select_option(label=["GPT-4o", "Grok 3", "Qwen3 8B"]), page, _tick_count_is(page, 3)),
                _timed(lambda: models.select_option(label=["GPT-4o", "Grok 3"]), page, _tick_count_is(page, 2)),
                _timed(lambda: models.select_option(label=["GPT-4o", "Grok 3", "GPT-5.5", "Grok 4"]), page,
                       _tick_count_is(page, 4)),
            ]
            rows.append(("control change -> leaderboard updated (median of 3)", statistics.median(changes), None))
            rows.append(("open Requirements tab (2 figures)",
                         _timed(_tab(page, "Requirements"), page, _visible_figures_ready(2)), None))
            rows.append(("open Mixed-effects tab, first fit (4 models)",
                         _timed(_tab(page, "Mixed-effects model"), page, _visible_figures_ready(1)), None))
            models.select_option(label=["GPT-4o", "Grok 3"])
            page.wait_for_function(_visible_figures_ready(1), timeout=300_000)
            rows.append(("Mixed-effects tab, back to a previous filter (cached fit)",
                         _timed(lambda: models.select_option(label=["GPT-4o", "Grok 3", "GPT-5.5", "Grok 4"]),
                                page, _visible_figures_ready(1)), None))
            page.close()
        with voila_server("demo", extra_args=("--preheat_kernel=True",)) as url:
            page, _ = _open(browser, url, FIRST)  # the first page may come before the pool is warm
            page.close()
            time.sleep(20)  # let the pool pre-execute the notebook again
            warm = []
            for _ in range(args.repeats):
                page, seconds = _open(browser, url, FIRST)
                warm.append(seconds)
                page.close()
                time.sleep(20)
            rows.append(("first figure visible (preheated kernel, as make dashboard)", statistics.median(warm), baseline))
    width = max(len(r[0]) for r in rows)
    print(f"{'measurement':<{width}}  seconds  x baseline")
    for name, seconds, ref in rows:
        ratio = f"{seconds / ref:8.2f}" if ref else ""
        print(f"{name:<{width}}  {seconds:7.2f}  {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
