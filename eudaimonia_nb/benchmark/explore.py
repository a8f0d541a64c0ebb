"""Descriptive tables over the benchmark prompts, and the filter behind the prompt browser.

Every function takes a ``Benchmark`` (or its ``prompts`` table) and returns a pandas
DataFrame; the figures in ``eudaimonia_nb.plots.explore`` and the widget in
``eudaimonia_nb.widgets.browser`` only present these tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from .dataset import SOURCES, Benchmark
from .design_code import REQUIREMENT_KEYS, REQUIREMENTS, requirement

Match = Literal["any", "all"]


def requirement_table() -> pd.DataFrame:
    """The nine requirements in design-code order, with code, name, label and principle."""
    return pd.DataFrame(
        {
            "requirement": [r.key for r in REQUIREMENTS],
            "code": [r.code for r in REQUIREMENTS],
            "name": [r.name for r in REQUIREMENTS],
            "label": [r.label for r in REQUIREMENTS],
            "principle": [r.principle for r in REQUIREMENTS],
            "principle_name": [r.principle_name for r in REQUIREMENTS],
        }
    )


def checks_by_requirement(bench: Benchmark) -> pd.DataFrame:
    """Checks per requirement and source: one row per requirement in design-code order
    (so grouped by principle), columns ``real``, ``modified`` and ``total`` beside the
    requirement's metadata."""
    counts = pd.crosstab(bench.checks["requirement"], bench.checks["source"])
    counts = counts.reindex(index=list(REQUIREMENT_KEYS), columns=list(SOURCES), fill_value=0)
    counts.columns.name = None
    counts["total"] = counts.sum(axis=1)
    return requirement_table().merge(counts, left_on="requirement", right_index=True, how="left")


def requirement_indicators(prompts: pd.DataFrame) -> pd.DataFrame:
    """Boolean prompt x requirement matrix (columns in design-code order, index as ``prompts``)."""
    exploded = prompts["requirements"].explode()
    matrix = pd.crosstab(exploded.index, exploded).reindex(columns=list(REQUIREMENT_KEYS), fill_value=0)
    matrix = matrix.reindex(index=prompts.index, fill_value=0).astype(bool)
    matrix.index.name = prompts.index.name
    matrix.columns.name = "requirement"
    return matrix


def cooccurrence(bench: Benchmark, source: str | None = None) -> pd.DataFrame:
    """9x9 counts of prompts labelled with both requirements (rows and columns in
    design-code order). The diagonal is the number of prompts carrying each requirement.
    ``source`` restricts to ``real`` or ``modified`` prompts."""
    prompts = bench.prompts if source is None else bench.prompts[bench.prompts["source"] == _check_source(source)]
    m = requirement_indicators(prompts).astype(int)
    counts = m.T @ m
    counts.index.name = "requirement"
    counts.columns.name = "with"
    return counts


def labels_per_prompt(bench: Benchmark) -> pd.DataFrame:
    """How many requirements prompts carry: index 1..9 (``n_requirements``), columns
    ``real``, ``modified`` and ``total`` (numbers of prompts)."""
    counts = pd.crosstab(bench.prompts["n_requirements"], bench.prompts["source"])
    counts = counts.reindex(index=range(1, len(REQUIREMENT_KEYS) + 1), columns=list(SOURCES), fill_value=0)
    counts.columns.name = None
    counts["total"] = counts.sum(axis=1)
    return counts


def length_by_source(bench: Benchmark) -> pd.DataFrame:
    """Prompt length in characters by source: ``count``, ``mean``, ``std``, ``min``,
    ``q25``, ``median``, ``q75``, ``max`` (index ``real``, ``modified``)."""
    grouped = bench.prompts.groupby("source")["length_chars"]
    stats = pd.DataFrame(
        {
            "count": grouped.count(),
            "mean": grouped.mean(),
            "std": grouped.std(),
            "min": grouped.min(),
            "q25": grouped.quantile(0.25),
            "median": grouped.median(),
            "q75": grouped.quantile(0.75),
            "max": grouped.max(),
        }
    )
    return stats.reindex(list(SOURCES))


def rewrites_by_model(bench: Benchmark) -> pd.DataFrame:
    """Rewritten prompts per (rewriter, responder) pair: columns ``rewriter_model``,
    ``responder_model``, ``prompts`` and ``checks``; in-the-wild prompts are left out
    because they have no rewriter."""
    modified = bench.prompts[bench.prompts["source"] == "modified"]
    table = (
        modified.groupby(["rewriter_model", "responder_model"])
        .agg(prompts=("prompt_id", "size"), checks=("n_requirements", "sum"))
        .reset_index()
    )
    return table.sort_values(["rewriter_model", "responder_model"], ignore_index=True)


def _check_source(source: str) -> str:
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    return source


def _as_set(value: str | Iterable[str] | None) -> set[str] | None:
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


@dataclass(frozen=True)
class PromptIndex:
    """The prompts table with what filtering needs precomputed once, so that each filter
    is a handful of vectorised column operations."""

    prompts: pd.DataFrame
    """The benchmark's prompts table, unchanged."""
    indicators: pd.DataFrame
    """Boolean prompt x requirement matrix from ``requirement_indicators``."""
    lower_text: pd.Series
    """Each prompt's text in lower case, for case-insensitive search."""

    @classmethod
    def build(cls, prompts: pd.DataFrame) -> PromptIndex:
        return cls(prompts=prompts, indicators=requirement_indicators(prompts), lower_text=prompts["text"].str.lower())

    def mask(
        self,
        requirements: Iterable[str] | None = None,
        match: Match = "any",
        source: str | Iterable[str] | None = None,
        rewriter: str | Iterable[str] | None = None,
        responder: str | Iterable[str] | None = None,
        text: str | None = None,
    ) -> pd.Series:
        """Boolean Series over the prompts; see ``filter_prompts`` for the arguments."""
        keep = pd.Series(True, index=self.prompts.index)
        keys = [requirement(k).key for k in requirements or ()]
        if keys:
            selected = self.indicators[keys]
            if match == "any":
                keep &= selected.any(axis=1)
            elif match == "all":
                keep &= selected.all(axis=1)
            else:
                raise ValueError(f"match must be 'any' or 'all', got {match!r}")
        sources = _as_set(source)
        if sources is not None:
            for s in sources:
                _check_source(s)
            keep &= self.prompts["source"].isin(sources)
        for column, wanted in (("rewriter_model", rewriter), ("responder_model", responder)):
            values = _as_set(wanted)
            if values is not None:
                keep &= self.prompts[column].isin(values)
        if text:
            # Literal, not a regex: researchers paste prompt fragments full of "?", "(" and "*".
            keep &= self.lower_text.str.contains(text.lower(), regex=False)
        return keep


def filter_prompts(
    prompts: pd.DataFrame | PromptIndex,
    requirements: Iterable[str] | None = None,
    match: Match = "any",
    source: str | Iterable[str] | None = None,
    rewriter: str | Iterable[str] | None = None,
    responder: str | Iterable[str] | None = None,
    text: str | None = None,
) -> pd.DataFrame:
    """The prompts that pass every given filter, in file order.

    ``requirements``: prompts labelled with any (``match="any"``) or all (``"all"``) of
    these keys; ``source``, ``rewriter``, ``responder``: one value or several (a prompt
    passes if it has one of them); ``text``: case-insensitive literal substring of the
    prompt. ``None`` or empty means no filter. Pass a ``PromptIndex`` to reuse its
    precomputed columns across calls.
    """
    index = prompts if isinstance(prompts, PromptIndex) else PromptIndex.build(prompts)
    keep = index.mask(requirements, match, source, rewriter, responder, text)
    return index.prompts[keep]


__all__ = [
    "Match", "PromptIndex", "checks_by_requirement", "cooccurrence", "filter_prompts",
    "labels_per_prompt", "length_by_source", "requirement_indicators", "requirement_table",
    "rewrites_by_model",
]
