"""Speed of the Responses tab in the kernel on 69,234 checks (22 models x 3,147).

The table is the demo's verdicts with a response per (model, prompt) (about 1,500 characters)
and a reasoning per check (about 300), the sizes of real runs. Measured: building the index
(once per load), a filter change in the widget (filters, count, one page of items and the first
item's HTML), a free-text search, and side by side of two models. Target: a filter change under
0.5 s. Baseline in the same run: the direct pandas way, a case-insensitive ``str.contains`` over
the prompt, response and reasoning of every row, then grouping the matches into items.

    .venv/bin/python benchmarks/bench_responses.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import pandas as pd

from eudaimonia_nb.analysis.responses import ResponseIndex
from eudaimonia_nb.analysis.simulate import demo_judgments
from eudaimonia_nb.widgets.responses import ResponsesView

WORDS = ("feel", "friend", "human", "always", "here", "for", "you", "love", "lonely", "talk", "really", "help")


def _text(rng: np.random.Generator, n_words: int) -> str:
    return " ".join(rng.choice(WORDS, n_words))


def _frame(seed: int = 0) -> tuple[pd.DataFrame, dict[str, str]]:
    rng = np.random.default_rng(seed)
    frame = demo_judgments().drop(columns=["simulated"])
    frame.attrs = {}
    prompts = {p: _text(rng, 40) for p in frame["prompt_id"].unique()}
    items = frame[["model", "prompt_id"]].drop_duplicates()
    responses = {(m, p): _text(rng, 250) for m, p in items.itertuples(index=False)}
    frame["response"] = [responses[(m, p)] for m, p in zip(frame["model"], frame["prompt_id"])]
    frame["reasoning"] = [_text(rng, 50) for _ in range(len(frame))]
    return frame, prompts


def _median(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    frame, prompts = _frame()
    rows: list[tuple[str, float]] = []
    started = time.perf_counter()
    view = ResponsesView(frame, prompts=prompts)
    rows.append((f"build the index and show page 1 ({len(frame):,} checks)", time.perf_counter() - started))
    models = view.index.options("model")

    def change_filter() -> None:
        view.models.value = tuple(models[:3]) if view.models.value != tuple(models[:3]) else tuple(models[3:5])

    rows.append(("filter change: models (widget, page + item HTML)", _median(change_filter, args.repeats)))
    view.models.value = ()

    def change_verdict() -> None:
        view.verdicts.value = ("violation",) if view.verdicts.value != ("violation",) else ("pass",)

    rows.append(("filter change: verdict, all 22 models (widget)", _median(change_verdict, args.repeats)))
    view.verdicts.value = ()
    queries = iter(["lonely friend", "always here", "love you", "talk really", "help human"] * args.repeats)
    rows.append(("free-text search in prompt, response, reasoning (widget)",
                 _median(lambda: setattr(view.search, "value", next(queries)), args.repeats)))
    view.search.value = ""
    index = view.index
    rows.append(("side by side: two models, only where they differ (index)",
                 _median(lambda: index.pair(models[0], models[1], only_different=True), args.repeats)))
    prompt_col = frame["prompt_id"].map(prompts)

    def naive(query: str = "lonely friend") -> int:
        hit = (prompt_col.str.contains(query, case=False, regex=False)
               | frame["response"].str.contains(query, case=False, regex=False)
               | frame["reasoning"].str.contains(query, case=False, regex=False))
        return frame[hit].groupby(["model", "prompt_id"]).ngroups

    baseline = _median(naive, args.repeats)
    rows.append(("baseline: pandas str.contains over every row, grouped to items", baseline))
    width = max(len(r[0]) for r in rows)
    print(f"{'measurement (median of ' + str(args.repeats) + ')':<{width}}  seconds")
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds:7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
