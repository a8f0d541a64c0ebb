"""Where the dashboard's and the report's judgments come from, and the selection made of them.

A ``DataSource`` is the embedded simulated demo, a results store (with its run records, which
feed the protocol summary and the comparability labels) or a results file; ``filter_frame``
keeps the chosen models, requirements and principles and carries the frame's ``attrs`` along.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..analysis.comparability import COMPARABILITY_ATTR, run_comparability
from ..benchmark.design_code import REQUIREMENTS
from ..paths import user_path
from ..plots import PRINCIPLE_LABELS
from .runs import RUNS_ATTR, protocol_records

SOURCE_ENV = "EUDAIMONIA_DASHBOARD_SOURCE"
"""Data source of the dashboard at start-up: ``demo``, ``store:PATH[#RUN,RUN]`` or ``file:PATH``."""
STORE_ATTR = "store_path"
"""``frame.attrs`` key of the results store the data came from (its labels feed Judge validity)."""


@dataclass(frozen=True)
class DataSource:
    """Where the judgments come from."""

    kind: str
    """``demo`` (embedded simulated data), ``store`` (SQLite results store) or ``file``."""
    path: Path | None = None
    """The store or results file; None for the demo."""
    run_ids: tuple[str, ...] = ()
    """Runs to read from a store; empty means every run in it."""

    def __post_init__(self) -> None:
        if self.kind not in ("demo", "store", "file"):
            raise ValueError(f"data source kind {self.kind!r}: expected demo, store or file")
        if self.kind != "demo" and self.path is None:
            raise ValueError(f"a {self.kind} data source needs a path")

    @classmethod
    def parse(cls, spec: str) -> DataSource:
        """``demo``, ``store:/x.sqlite``, ``store:/x.sqlite#run1,run2`` or ``file:/x.csv``."""
        spec = spec.strip()
        if spec in ("", "demo"):
            return cls("demo")
        kind, sep, rest = spec.partition(":")
        if not sep or kind not in ("store", "file") or not rest:
            raise ValueError(f"{SOURCE_ENV}={spec!r}: expected 'demo', 'store:PATH[#RUN,...]' or 'file:PATH'")
        path, _, runs = rest.partition("#")
        run_ids = tuple(r.strip() for r in runs.split(",") if r.strip())
        return cls(kind, user_path(path), run_ids)

    @classmethod
    def from_environment(cls) -> DataSource:
        return cls.parse(os.environ.get(SOURCE_ENV, "demo"))

    def describe(self, *, public: bool = False) -> str:
        """In words; ``public`` (a shared report) names the file, never its local path."""
        if self.kind == "demo":
            return "embedded simulated demo (calibrated to the published figures)"
        runs = f", runs {', '.join(self.run_ids)}" if self.run_ids else ""
        where = self.path.name if public and self.path is not None else self.path
        return f"{'results store' if self.kind == 'store' else 'results file'} {where}{runs}"


def load_source(source: DataSource, *, texts: bool = True) -> pd.DataFrame:
    """The long judgments table from a data source (see the common table contract); ``texts``
    (a store only) adds each check's response and reasoning, which the dashboard reads only when
    its Responses tab opens: copied onto every check, they are most of a large store's load time."""
    if source.kind == "demo":
        from ..analysis.simulate import demo_judgments

        return demo_judgments()
    if source.kind == "store":
        from ..store.results import list_runs
        from ..store.results import load_judgments as load_store

        frame = load_store(source.path, list(source.run_ids) or None, texts=texts)
        runs = list_runs(source.path)
        runs = runs[runs["run_id"].isin(set(frame["run_id"]))]
        # Small (one dict per run) and carried through filters like ``simulated``.
        frame.attrs[RUNS_ATTR] = protocol_records(runs)
        frame.attrs[COMPARABILITY_ATTR] = run_comparability(frame, runs).to_dict("records")
        frame.attrs[STORE_ATTR] = str(source.path)
        return frame
    from ..analysis.frames import load_judgments

    frame = load_judgments(source.path)
    frame.attrs[COMPARABILITY_ATTR] = run_comparability(frame).to_dict("records")
    return frame


def filter_frame(frame: pd.DataFrame, *, models: Sequence[str] | None = None,
                 requirements: Sequence[str] | None = None,
                 principles: Sequence[int] | None = None) -> pd.DataFrame:
    """Rows for the chosen models, requirements and principles (None = all; empty = none)."""
    mask = pd.Series(True, index=frame.index)
    if models is not None:
        mask &= frame["model"].isin(list(models))
    if requirements is not None:
        mask &= frame["requirement"].isin(list(requirements))
    if principles is not None:
        keys = [r.key for r in REQUIREMENTS if r.principle in set(principles)]
        mask &= frame["requirement"].isin(keys)
    out = frame[mask]
    out.attrs = dict(frame.attrs)
    return out


def principle_options() -> list[tuple[str, int]]:
    """(label, number) pairs of the design code's principles, for a selector."""
    return [(label, number) for number, label in PRINCIPLE_LABELS.items()]
