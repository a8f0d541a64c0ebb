"""eudaimonia-nb: explore, judge and analyse the EUDAIMONIA social-harm benchmark.

The package is laid out by stage, and a run flows through them in this order (docs/architecture.md):

- ``benchmark``: the prompts, the design code's nine requirements, the download;
- ``store``: the results store (runs, responses, verdicts, labels) in one SQLite file;
- ``judging``: calling the model under test and the judge, resumably, into the store;
- ``analysis``: rates, intervals and models, on frames read from the store;
- ``plots``: Plotly figures of analysis results;
- ``validity``: the judge checked against human labels;
- ``report``: the dashboard's sections and the static HTML report;
- ``widgets`` and ``cli``: the notebook front ends and the ``eudaimonia-nb`` command.

``paths``, ``credentials``, ``linebreaks`` and ``formatting`` are shared ground any stage may use.
This module is the facade notebooks and scripts import from; nothing inside the package imports
it. Light names are imported eagerly; the heavy analysis stack (statsmodels) loads on first use,
so ``import eudaimonia_nb`` stays fast in a CLI or a dashboard kernel.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .benchmark.dataset import Benchmark, DatasetError, DatasetNotFoundError, load_benchmark
from .benchmark.design_code import PRINCIPLES, REQUIREMENT_KEYS, REQUIREMENTS, Requirement, requirement
from .benchmark.fetch import FetchError, fetch_benchmark

# name -> (module that defines it, attribute or None for the module itself); resolved lazily.
_LAZY: dict[str, tuple[str, str | None]] = {
    "fit_mixed": ("eudaimonia_nb.analysis.mixed", "fit_mixed"),
    "fit_gee": ("eudaimonia_nb.analysis.gee", "fit_gee"),
    # ``from eudaimonia_nb import explore`` (notebook 1) names the benchmark's explorer tables.
    "explore": ("eudaimonia_nb.benchmark.explore", None),
    "__version__": ("eudaimonia_nb.paths", "package_version"),
}


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'eudaimonia_nb' has no attribute {name!r}")
    module = import_module(target[0])
    if target[1] is None:
        return module
    value = getattr(module, target[1])
    return value() if name == "__version__" else value


__all__ = [
    "Benchmark", "DatasetError", "DatasetNotFoundError", "FetchError", "PRINCIPLES",
    "REQUIREMENTS", "REQUIREMENT_KEYS", "Requirement", "explore", "fetch_benchmark", "fit_gee",
    "fit_mixed", "load_benchmark", "requirement",
]
