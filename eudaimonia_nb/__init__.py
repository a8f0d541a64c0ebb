"""eudaimonia-nb: explore, judge and analyse the EUDAIMONIA social-harm benchmark.

Light names are imported eagerly; the heavy analysis stack (statsmodels) loads on first use,
so ``import eudaimonia_nb`` stays fast in a CLI or a dashboard kernel.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .dataset import Benchmark, DatasetError, DatasetNotFoundError, load_benchmark
from .design_code import PRINCIPLES, REQUIREMENT_KEYS, REQUIREMENTS, Requirement, requirement
from .fetch import FetchError, fetch_benchmark

__version__ = "0.1.0"

# name -> module that defines it; resolved lazily by __getattr__.
_LAZY = {
    "fit_mixed": "eudaimonia_nb.analysis.mixed",
    "fit_gee": "eudaimonia_nb.analysis.gee",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'eudaimonia_nb' has no attribute {name!r}")
    return getattr(import_module(module), name)


__all__ = [
    "Benchmark", "DatasetError", "DatasetNotFoundError", "FetchError", "PRINCIPLES",
    "REQUIREMENTS", "REQUIREMENT_KEYS", "Requirement", "fetch_benchmark", "fit_gee",
    "fit_mixed", "load_benchmark", "requirement",
]
