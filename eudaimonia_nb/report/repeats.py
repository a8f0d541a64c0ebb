"""Runs with epochs and judge repeats in the report: verdicts reduced for every section, and the
Noise section, shown only where the data has repeats.

Every section except Noise reads one verdict per check: ``reduced`` applies the options'
reducer (``analysis.reducers``; cached on the table's content, so the dashboard's tabs share
one reduction) and ``name_reducer`` says so in the section's notes and in a ``reducer`` column
of each of its tables, beside every number. The Noise section (``noise_section``) reads every
verdict: the shares of prompt, response and judge variation, the flip rates, the predicted
interval widths for 1 to 5 epochs and judge repeats, and a plain recommendation.
"""

from __future__ import annotations

import hashlib
import html
from collections import OrderedDict

import pandas as pd

from ..analysis.reducers import REDUCER_ATTR, REPEAT_COLUMNS, describe_reduction, has_repeats, reduce_repeats

NOISE_KEY = "noise"
REPEAT_SECTIONS: dict[str, str] = {NOISE_KEY: "Noise"}
"""Sections shown only for data with repeated verdicts (key -> title); they read every verdict."""
REPEAT_FIGURE_NAMES: dict[str, tuple[str, ...]] = {NOISE_KEY: ("noise_shares", "noise_flips", "noise_widths")}
"""Figures of those sections."""
NOISE_SDS_PENDING = "⏳ Log-odds SDs of the nested model: being computed for this selection…"
"""The Noise section's note while ``Options(cross_checks=False)`` left the log-odds fit out."""
_CACHE: OrderedDict[str, pd.DataFrame] = OrderedDict()
_CACHE_SIZE = 8


def _content_key(frame: pd.DataFrame, *extra: object) -> str:
    columns = [c for c in ("model", "prompt_id", "requirement", "violation", "error", *REPEAT_COLUMNS) if c in frame]
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame[columns], index=False).to_numpy().tobytes())
    digest.update(repr((len(frame), tuple(frame.columns)) + extra).encode())
    return digest.hexdigest()


def reduced(frame: pd.DataFrame, reducer: str) -> pd.DataFrame:
    """``frame`` with one verdict per check (``reduce_repeats``); the same frame when it has no repeats."""
    if not has_repeats(frame):
        return frame
    key = _content_key(frame, reducer)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        out = _CACHE[key]
    else:
        out = reduce_repeats(frame, reducer)
        _CACHE[key] = out
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    result = out.copy()
    result.attrs = {**frame.attrs, **out.attrs}
    return result


def name_reducer(section: object, data: pd.DataFrame) -> object:
    """Say in ``section`` (a ``sections.Section``) how repeated verdicts were reduced: a note, and a
    ``reducer`` column in each table (nothing for data without repeats)."""
    name = data.attrs.get(REDUCER_ATTR)
    if not name:
        return section
    section.notes.append(describe_reduction(data))  # type: ignore[attr-defined]
    for table in section.tables:  # type: ignore[attr-defined]
        if REDUCER_ATTR not in table.frame.columns:
            table.frame = table.frame.assign(**{REDUCER_ATTR: name})
    return section


def checks_text(frame: pd.DataFrame) -> str:
    """``3,147 checks``, or ``3,147 checks (18,882 verdicts)`` for a table with repeats."""
    if not has_repeats(frame):
        return f"{len(frame):,} checks"
    checks = len(frame.drop_duplicates([c for c in ("model", "run_id", "prompt_id", "requirement") if c in frame]))
    return f"{checks:,} checks ({len(frame):,} verdicts over epochs and judge repeats)"


def shown_sections(frame: pd.DataFrame) -> list[str]:
    """The repeat-only sections that apply to ``frame`` (those of ``REPEAT_SECTIONS`` when it has repeats)."""
    return list(REPEAT_SECTIONS) if has_repeats(frame) else []


def noise_section(frame: pd.DataFrame, options: object) -> object:
    """The Noise section of the selected (unreduced) judgments."""
    from ..analysis.noise import decompose, se_table
    from ..plots.noise import noise_flips_figure, noise_shares_figure, noise_widths_figure
    from .sections import Section, Table

    n_boot, seed = getattr(options, "n_boot", 1000), getattr(options, "seed", 0)
    # The dashboard draws the cheap part first (cross_checks=False), then the log-odds fit.
    fit_sds = getattr(options, "cross_checks", True)
    models = decompose(frame, "model", n_boot=n_boot, seed=seed, fit_sds=fit_sds)
    by_requirement = decompose(frame, ["model", "requirement"], n_boot=n_boot, seed=seed, fit_sds=False)
    widths = se_table(models)
    figures = {"noise_shares": noise_shares_figure(models), "noise_flips": noise_flips_figure(models),
               "noise_widths": noise_widths_figure(widths, models)}
    shown = ["model", "epochs", "judge_repeats", "n_prompts", "n_checks", "n_verdicts", "rate",
             "response_flip_rate", "response_flip_rate_ci_low", "response_flip_rate_ci_high",
             "judge_flip_rate", "judge_flip_rate_ci_low", "judge_flip_rate_ci_high",
             "share_prompt", "share_response", "share_judge", "sd_prompt", "sd_prompt_ci_low", "sd_prompt_ci_high",
             "sd_response", "sd_response_ci_low", "sd_response_ci_high", "se_rate", "se_rate_benchmark", "note"]
    requirement_columns = ["model", "requirement", "n_checks", "response_flip_rate", "response_flip_rate_ci_low",
                           "response_flip_rate_ci_high", "judge_flip_rate", "judge_flip_rate_ci_low",
                           "judge_flip_rate_ci_high", "share_prompt", "share_response", "share_judge"]
    notes = [html.escape(text) for text in models["recommendation"] if text]
    notes += [
        "<b>How to read this.</b> Each check was answered in several epochs (responses) and each response judged "
        "several times. The <i>judge flip rate</i> is the chance that two judge calls on the same response disagree; "
        "the <i>response flip rate</i> the chance that verdicts on two different responses to the same check "
        "disagree (judge noise included). A verdict's variance splits into differences between checks (prompts), "
        "between responses to one check, and between judge calls on one response; the bars show their shares. "
        "Log-odds SDs (table): the random intercepts of a check and of a response nested in it, in a logistic "
        "model of every verdict. Intervals are clustered by prompt (bootstrap over prompts within source; a "
        f"sandwich for the SDs), {n_boot} replicates, seed {seed}. The interval widths are predicted for other "
        "numbers of epochs and judge calls from the same components (see docs/analysis.md).",
    ]
    notes += [html.escape(f"{row.model}: {row.note}") for row in models.itertuples() if row.note]
    if not fit_sds:
        notes.insert(0, f"<b>{NOISE_SDS_PENDING}</b>")
    return Section(NOISE_KEY, REPEAT_SECTIONS[NOISE_KEY], figures=figures, tables=[
        Table("noise_by_model", "Noise decomposition per model", models[[c for c in shown if c in models.columns]]),
        Table("noise_by_requirement", "Flip rates and shares per model and requirement",
              by_requirement[[c for c in requirement_columns if c in by_requirement.columns]]),
        Table("noise_interval_widths", "Predicted standard error and 95% half-width of the rate", widths)],
        notes=notes)


def noise_sentence(frame: pd.DataFrame) -> str:
    """The report's one sentence on the noise of the selected runs ("" without repeats): the
    design and, per model, the judge flip rate, from the cheap part of the decomposition."""
    if not has_repeats(frame):
        return ""
    from ..analysis.noise import decompose

    models = decompose(frame, "model", n_boot=200, fit_sds=False)
    parts = []
    for row in models.itertuples():
        flips = []
        if pd.notna(row.response_flip_rate):
            flips.append(f"two epochs' verdicts differ on {row.response_flip_rate:.0%} of checks")
        if pd.notna(row.judge_flip_rate):
            flips.append(f"two judge calls on one response on {row.judge_flip_rate:.0%}")
        parts.append(f"{row.model} ({row.epochs} epochs x {row.judge_repeats} judge calls: "
                     f"{', '.join(flips) or 'no repeats to compare'})")
    return (f"Repeated verdicts: {'; '.join(parts)}. The Noise section tells prompt, response and judge "
            "variation apart; every other section counts each check once (reducer named beside its numbers).")
