"""Is the real-versus-modified gap a selection artefact?

The modified prompts were kept only when they broke one of three *target* models (GPT-4o,
Claude Sonnet 4, Gemini 2.0 Flash) and were written by three *rewriter* models (GPT-5.4,
Gemini 3.1 Pro, Claude Opus 4.6).

What the data can and cannot show. Selection aimed at the targets specifically would make the
source effect larger for them than for the other models: ``source_by_group`` tests that
contrast on the log-odds scale (a source x group term in the mixed model). But keeping a
prompt because it broke one model mostly keeps prompts that are hard for every model (shared
difficulty), which raises every group's gap alike; the contrast cannot see that, and an equal
gap across groups is no evidence against selection. ``analysis.curation`` simulates the
curation under no source effect to show the gaps selection alone produces. Real prompts were
selected too (GPT-4 confirmed each during curation).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .rates import bootstrap_rates, real_vs_modified_by

TARGETS = ("GPT-4o", "Claude Sonnet 4", "Gemini 2.0 Flash")
"""Models the rewritten prompts had to break to be kept."""
REWRITERS = ("GPT-5.4", "Gemini 3.1 Pro", "Claude Opus 4.6")
"""Models that wrote the modified prompts."""
GROUPS = ("target", "rewriter", "other")

_SUFFIX = re.compile(r"[-_@:.](\d{4}-?\d{2}-?\d{2}|latest|preview[-\w]*|exp[-\w]*|\d{3})$")


def normalise_model_name(name: str) -> str:
    """A matching key: no vendor prefix, date/version suffix, punctuation or "claude"
    (so ``claude-sonnet-4-20250514``, ``Sonnet4`` and ``Claude Sonnet 4`` coincide)."""
    text = str(name).strip().lower().split("/")[-1]
    while True:
        stripped = _SUFFIX.sub("", text)
        if stripped == text:
            break
        text = stripped
    key = re.sub(r"[^a-z0-9]", "", text).removeprefix("claude")
    # "claude-4-sonnet" style puts the version first.
    return re.sub(r"^(\d+)(sonnet|opus|haiku)$", r"\2\1", key)


_GROUP_OF = {normalise_model_name(m): "target" for m in TARGETS} | {
    normalise_model_name(m): "rewriter" for m in REWRITERS}


def model_group(model_name: str) -> str:
    """``target``, ``rewriter`` or ``other`` for a model name (tolerant matching)."""
    return _GROUP_OF.get(normalise_model_name(model_name), "other")


def _with_groups(frame: pd.DataFrame) -> pd.DataFrame:
    names = pd.Series(frame["model"].unique())
    return frame.assign(model_group=frame["model"].map(dict(zip(names, names.map(model_group)))))


def group_by_source(frame: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Per model group: real and modified rates, the raw and requirement-adjusted gaps
    (modified - real) with prompt-bootstrap intervals, p-values (Holm across groups) and
    ``n_models`` (the ``real_vs_modified`` columns and attrs). Groups absent from the data are
    left out. An equal gap in every group is no evidence against selection: see
    ``source_by_group`` and ``analysis.curation.selection_only_band``."""
    data = _with_groups(frame)
    out = real_vs_modified_by(data, "model_group", n_boot=n_boot, seed=seed)
    own = dict(out.attrs)
    counts = data.groupby("model_group")["model"].nunique()
    out.insert(1, "n_models", out["model_group"].map(counts).astype(int))
    order = {g: i for i, g in enumerate(GROUPS)}
    out = out.sort_values("model_group", key=lambda s: s.map(order)).reset_index(drop=True)
    out.attrs = dict(data.attrs) | own
    return out


def by_prompt_origin(frame: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Rates by the prompt's origin: one block for the rewriter (``kind == "rewriter"``) and
    one for the responder that confirmed the violation during curation (``kind ==
    "responder"``; GPT-4 for real prompts), split by the tested model's group and by whether
    the tested model *is* that origin model (``tested_is_origin``), with prompt-bootstrap
    intervals."""
    needed = [c for c in ("rewriter_model", "responder_model") if c not in frame.columns]
    if needed:
        raise KeyError(f"by_prompt_origin needs the prompt metadata column(s) {', '.join(needed)} "
                       "(carried by simulated tables and by runs recorded with the benchmark)")
    data = _with_groups(frame)
    tested = data["model"].map(normalise_model_name)
    blocks = []
    for kind in ("rewriter", "responder"):
        origin = data[f"{kind}_model"].fillna("none (real prompt)").astype(str)
        same = tested.to_numpy() == origin.map(normalise_model_name).to_numpy()
        unit = origin + "\x1f" + data["model_group"] + "\x1f" + np.where(same, "1", "0")
        rates = bootstrap_rates(data.assign(_unit=unit), "_unit", n_boot=n_boot, seed=seed)
        parts = rates["_unit"].str.split("\x1f", expand=True)
        rates.insert(0, "kind", kind)
        rates.insert(1, "origin_model", parts[0])
        rates.insert(2, "model_group", parts[1])
        rates.insert(3, "tested_is_origin", parts[2].eq("1"))
        blocks.append(rates.drop(columns="_unit"))
    out = pd.concat(blocks, ignore_index=True)
    out.attrs["simulated"] = bool(blocks[0].attrs.get("simulated"))
    return out


CONTRAST_CAN_AND_CANNOT = (
    "The source x group terms test whether the modified-versus-real effect (log-odds, for prompts of "
    "the same difficulty) differs between the targets of the curation, the rewriters and the other "
    "models: selection aimed at the target models specifically shows up there. They cannot detect "
    "selection of prompts that are hard for every model (shared difficulty), which raises every "
    "group's gap alike; the selection-only band (analysis.curation) is the reference for that.")
"""What ``source_by_group`` can and cannot show, in words."""


def source_by_group(frame: pd.DataFrame) -> pd.DataFrame:
    """The target - other and rewriter - other differences in the source effect, on the
    log-odds scale: the ``source:model_group`` terms of the mixed model
    ``violation ~ source + requirement + model + source:model_group + (1 | prompt)`` with
    ``other`` as reference (the first present of other, target, rewriter). One row per
    contrast with the ``params`` columns, ``contrast`` in words and ``reading``;
    ``attrs["notes"]`` says what the test can and cannot detect."""
    from .mixed import fit_mixed

    data = _with_groups(frame)
    order = [g for g in ("other", "target", "rewriter") if g in set(data["model_group"])]
    data["model_group"] = pd.Categorical(data["model_group"], categories=order)
    result = fit_mixed(data, source_by="model_group")
    rows = result.params[result.params.index.str.contains(":model_group[T.", regex=False)]
    out = rows.rename_axis("term").reset_index()
    reference = result.references.get("model_group", order[0])
    out.insert(0, "contrast", [f"{t.split('[T.')[-1].rstrip(']')} - {reference}" for t in out["term"]])
    out["reading"] = [_contrast_reading(r) for r in out.itertuples(index=False)]
    out.attrs["notes"] = [CONTRAST_CAN_AND_CANNOT, result.message]
    out.attrs["simulated"] = result.simulated
    return out


def _contrast_reading(row: object) -> str:
    low, high = row.ci_low, row.ci_high  # type: ignore[attr-defined]
    verdict = ("excludes 0: the source effect differs between these groups" if low > 0 or high < 0
               else "includes 0: no detectable difference in the source effect between these groups")
    return (f"{row.contrast}: difference in the modified-versus-real log-odds ratio {row.estimate:+.3f} "  # type: ignore[attr-defined]
            f"(95% CI {low:+.3f} to {high:+.3f}), {verdict}.")
