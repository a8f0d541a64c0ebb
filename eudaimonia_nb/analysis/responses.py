"""Reading the responses behind the rates: filter checks, list items, pair two models.

An *item* is one model's answer to one prompt: the prompt, the response and one verdict per
labelled requirement. In a run with epochs (``epoch`` column) each epoch's answer is an item of its
own, with the verdicts made on that answer (one per judge call, numbered by ``judge_repeat``), so
an item never mixes verdicts on different responses. ``ResponseIndex`` is built once per loaded table (the lower-cased search
text of each distinct prompt, response and reasoning is computed then, once) and answers a
filter change with boolean masks and a page of items, so a change stays fast on 69,234 checks.
The table is the common judgments contract plus, where the data has them, ``response`` and
``reasoning`` (``store.load_judgments(texts=True)`` or an exported results file).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..benchmark.design_code import REQUIREMENT_KEYS
from .frames import is_simulated
from .reducers import REPEAT_COLUMNS

PENDING = "not judged yet"
"""``error`` of a planned check without a result (``store.PENDING``; repeated here because
analysis does not import the store)."""
VERDICT_KINDS = ("violation", "pass", "error", "pending")
"""Verdict of one check: violation, no violation, judge error, not judged yet (unlabelled)."""
VERDICT_LABELS = {"violation": "violation", "pass": "no violation", "error": "judge error",
                  "pending": "not judged yet"}
"""Words for each verdict kind, for filters and tables."""
VERDICT_PLURALS = {"violation": "violations", "pass": "no violations", "error": "judge errors",
                   "pending": "not judged yet"}
TEXT_COLUMNS = ("response", "reasoning")
"""Columns that carry text to read (absent from the simulated demo)."""


def verdict_kinds(frame: pd.DataFrame) -> np.ndarray:
    """The verdict kind of every row (``VERDICT_KINDS``), vectorised."""
    error = frame["error"].fillna("").astype(str) if "error" in frame.columns else pd.Series("", index=frame.index)
    violation = frame["violation"].to_numpy(float)
    kinds = np.where(violation == 1.0, "violation", np.where(violation == 0.0, "pass", "pending")).astype(object)
    has_error = (error.str.strip() != "").to_numpy()
    kinds[has_error] = "error"
    kinds[(error == PENDING).to_numpy()] = "pending"
    return kinds


def counts_text(counts: Mapping[str, int]) -> str:
    """``2 violations, 1 no violation``: verdict counts by kind, singular or plural, zeros left out."""
    parts = []
    for kind in VERDICT_KINDS:
        n = int(counts.get(kind, 0))
        if n:
            parts.append(f"{n} {VERDICT_LABELS[kind] if n == 1 else VERDICT_PLURALS[kind]}")
    return ", ".join(parts)


def _numbers(data: pd.DataFrame, column: str) -> np.ndarray:
    """``epoch`` or ``judge_repeat`` as whole numbers, 1 where the data has none."""
    if column not in data.columns:
        return np.ones(len(data), dtype=np.int64)
    return pd.to_numeric(data[column], errors="coerce").fillna(1).astype(np.int64).to_numpy()


def _text(values: pd.Series) -> pd.Series:
    """Missing text (None, NaN, or the empty cell of a CSV) as ``""``; plain Python strings
    (object dtype: converting 69,234 long texts to Arrow strings and back costs a second)."""
    array = values.to_numpy(dtype=object, copy=True)
    array[pd.isna(array)] = ""
    return pd.Series(array, index=values.index, dtype=object)


@dataclass
class Item:
    """One model's response to one prompt, with every verdict on it."""

    model: str
    """Model label (``"name [run]"`` when a model was run more than once)."""
    prompt_id: str
    """Benchmark prompt id."""
    source: str
    """``real`` or ``modified``."""
    prompt: str
    """The prompt text ("" when the benchmark file is not available)."""
    response: str
    """The model's response ("" when the data carries none)."""
    checks: pd.DataFrame
    """One row per requirement in design-code order (per requirement and judge call when the
    data has judge repeats): ``requirement``, ``kind``, ``error``, ``reasoning``, ``judge_repeat``
    and, where present, ``run_id``, ``judge_model``, ``rubric_version``, ``protocol``."""
    epoch: int = 1
    """Which of the model's responses to the prompt this is (1 unless the run has epochs)."""


class ResponseIndex:
    """Filters and pages over the checks of a judgments table (see the module docstring)."""

    def __init__(self, frame: pd.DataFrame, prompts: Mapping[str, str] | None = None) -> None:
        """``prompts``: prompt id -> prompt text (from the benchmark file), when available."""
        data = frame.reset_index(drop=True)
        self.simulated = is_simulated(frame)
        self.has_responses = "response" in data.columns and bool(_text(data["response"]).str.strip().ne("").any())
        self.has_prompts = bool(prompts)
        order = {k: i for i, k in enumerate(REQUIREMENT_KEYS)}
        columns = {
            "model": data["model"].astype(str),
            "prompt_id": data["prompt_id"].astype(str),
            "requirement": data["requirement"].astype(str),
            "source": data["source"].astype(str),
            "kind": verdict_kinds(data),
            "error": _text(data["error"]) if "error" in data.columns else "",
            "reasoning": _text(data["reasoning"]) if "reasoning" in data.columns else "",
            "response": _text(data["response"]) if "response" in data.columns else "",
            "run_id": data["run_id"].astype(str) if "run_id" in data.columns else "",
            "requirement_order": data["requirement"].map(order).fillna(len(order)).astype(int),
            # Epochs and judge calls (1 for data without them): an item is one epoch's response.
            **{c: _numbers(data, c) for c in REPEAT_COLUMNS},
        }
        for extra in ("judge_model", "rubric_version", "protocol"):
            if extra in data.columns:
                columns[extra] = _text(data[extra])
        self.checks = pd.DataFrame(columns)
        self.prompt_text = {str(k): str(v) for k, v in (prompts or {}).items()}
        # Codes into the distinct texts, so each text is lower-cased and searched once.
        self.has_epochs = bool((self.checks["epoch"] > 1).any())
        """Whether some prompt was answered more than once (items are then per epoch)."""
        self.has_judge_repeats = bool((self.checks["judge_repeat"] > 1).any())
        """Whether some response was judged more than once on a requirement."""
        self.item_code, items = pd.factorize(pd.MultiIndex.from_arrays(
            [self.checks["model"], self.checks["prompt_id"], self.checks["epoch"]]))
        self.items = items
        """(model, prompt_id, epoch) of each item code."""
        self.prompt_code, prompt_ids = pd.factorize(self.checks["prompt_id"])
        self._prompt_lower = np.array([self.prompt_text.get(p, "").lower() for p in prompt_ids], dtype=object)
        first = pd.Series(np.arange(len(self.checks))).groupby(self.item_code).first().to_numpy()
        self._response_lower = self.checks["response"].to_numpy(object)[first]
        self._response_lower = np.array([t.lower() for t in self._response_lower], dtype=object)
        self._reasoning_lower = np.array([t.lower() for t in self.checks["reasoning"]], dtype=object)
        self._first_row = first

    def __len__(self) -> int:
        return len(self.checks)

    def options(self, column: str) -> list[str]:
        """Distinct values of a column, requirements in design-code order."""
        if column == "requirement":
            present = set(self.checks["requirement"])
            return [k for k in REQUIREMENT_KEYS if k in present]
        return sorted(set(self.checks[column].astype(str)) - {""})

    def mask(self, *, models: Collection[str] | None = None, requirements: Collection[str] | None = None,
             sources: Collection[str] | None = None, verdicts: Collection[str] | None = None,
             runs: Collection[str] | None = None, text: str = "") -> np.ndarray:
        """Checks matching every given filter (None or empty = no filter on it); ``text`` is a
        case-insensitive literal search in the prompt, the response and the reasoning."""
        keep = np.ones(len(self.checks), dtype=bool)
        for column, wanted in (("model", models), ("requirement", requirements), ("source", sources),
                               ("kind", verdicts), ("run_id", runs)):
            if wanted:
                keep &= self.checks[column].isin(list(wanted)).to_numpy()
        query = text.strip().lower()
        if query:
            in_prompt = np.fromiter((query in t for t in self._prompt_lower), bool, len(self._prompt_lower))
            in_response = np.fromiter((query in t for t in self._response_lower), bool, len(self._response_lower))
            in_reasoning = np.fromiter((query in t for t in self._reasoning_lower), bool, len(self._reasoning_lower))
            keep &= in_prompt[self.prompt_code] | in_response[self.item_code] | in_reasoning
        return keep

    def matching_items(self, mask: np.ndarray) -> np.ndarray:
        """Item codes with at least one matching check, in the data's order."""
        return np.unique(self.item_code[mask])

    def summaries(self, codes: np.ndarray, mask: np.ndarray | None = None) -> pd.DataFrame:
        """One row per item code: ``code``, ``model``, ``prompt_id``, ``epoch``, ``source``, counts
        per verdict kind over its matching checks (all checks when ``mask`` is None), a snippet."""
        rows = np.isin(self.item_code, codes)
        if mask is not None:
            rows &= mask
        part = self.checks.loc[rows, ["kind"]].assign(code=self.item_code[rows])
        counts = pd.crosstab(part["code"], part["kind"]).reindex(index=codes, columns=list(VERDICT_KINDS), fill_value=0)
        first = self.checks.iloc[self._first_row[codes]]
        snippet = [self.prompt_text.get(p, "") for p in first["prompt_id"]]
        return pd.DataFrame({
            "code": codes, "model": first["model"].to_numpy(), "prompt_id": first["prompt_id"].to_numpy(),
            "epoch": first["epoch"].to_numpy(), "source": first["source"].to_numpy(), **{k: counts[k].to_numpy() for k in VERDICT_KINDS},
            "snippet": [" ".join(s.split())[:120] for s in snippet],
        })

    def item(self, code: int) -> Item:
        """Everything about one item."""
        rows = self.checks[self.item_code == code].sort_values(["requirement_order", "judge_repeat"], kind="stable")
        first = rows.iloc[0]
        keep = [c for c in ("requirement", "kind", "error", "reasoning", "judge_repeat", "run_id", "judge_model",
                            "rubric_version", "protocol") if c in rows.columns]
        return Item(model=str(first["model"]), prompt_id=str(first["prompt_id"]), source=str(first["source"]),
                    prompt=self.prompt_text.get(str(first["prompt_id"]), ""), response=str(first["response"]),
                    checks=rows[keep].reset_index(drop=True), epoch=int(first["epoch"]))

    def code_of(self, model: str, prompt_id: str, epoch: int = 1) -> int | None:
        """The item code of (model, prompt, epoch), or None when the data has no such item."""
        try:
            return int(self.items.get_loc((model, prompt_id, epoch)))
        except KeyError:
            return None

    def epochs_of(self, prompt_id: str, models: Collection[str]) -> list[int]:
        """The epochs any of ``models`` answered ``prompt_id`` in, in order."""
        rows = (self.checks["prompt_id"] == prompt_id) & self.checks["model"].isin(list(models))
        return sorted(int(e) for e in self.checks.loc[rows, "epoch"].unique())

    def pair(self, first: str, second: str, mask: np.ndarray | None = None, *,
             only_different: bool = False) -> pd.DataFrame:
        """The checks two models (or two runs, by their model labels) share, aligned.

        One row per (prompt, requirement, epoch, judge call) both have, among the ``mask``-ed
        checks of either (a filter on one side keeps the row): ``prompt_id``, ``requirement``,
        ``epoch``, ``judge_repeat``, ``source``, ``kind_a``, ``kind_b``, ``reasoning_a``,
        ``reasoning_b``, ``differ`` (the verdicts differ), ordered by prompt, epoch, design-code
        requirement order and judge call. With epochs, epoch e of one side faces epoch e of the
        other (each pair of verdicts once, never every epoch against every other).
        """
        keep = mask if mask is not None else np.ones(len(self.checks), dtype=bool)
        on = ["prompt_id", "requirement", *REPEAT_COLUMNS]
        cols = [*on, "source", "kind", "reasoning", "requirement_order"]
        data = self.checks.assign(_keep=keep)
        a = data.loc[data["model"] == first, cols + ["_keep"]]
        b = data.loc[data["model"] == second, cols + ["_keep"]]
        both = a.merge(b.drop(columns=["source", "requirement_order"]), on=on, suffixes=("_a", "_b"))
        both = both[both["_keep_a"] | both["_keep_b"]]
        both = both.assign(differ=both["kind_a"] != both["kind_b"]).drop(columns=["_keep_a", "_keep_b"])
        if only_different:
            both = both[both["differ"]]
        return both.sort_values(["prompt_id", "epoch", "requirement_order", "judge_repeat"],
                                kind="stable").reset_index(drop=True)


def page_bounds(n: int, page: int, size: int) -> tuple[int, int, int]:
    """(clamped page, start, stop) of ``page`` (0-based) over ``n`` things, ``size`` a page."""
    pages = max(1, -(-n // size))
    page = min(max(page, 0), pages - 1)
    return page, page * size, min(n, (page + 1) * size)
