"""The static report as a paper appendix: a summary at the top, and an optional sample of responses.

The summary says in a few lines what was run, under which protocol, how far it compares with
the published figures, the headline rates with their intervals and the main real-versus-modified
finding in one sentence, all read off sections already computed for the report. The sample
(off by default: responses may be sensitive) shows a few items per model with their verdicts
and the judge's reasoning, every piece of text escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..analysis.frames import is_simulated
from ..analysis.responses import VERDICT_LABELS, ResponseIndex
from ..benchmark.design_code import requirement
from ..formatting import fmt_interval, fmt_p, fmt_pct

SAMPLE_RESPONSE_CHARS = 4_000
"""Characters of a sampled response shown in the report (about 900 tokens; the protocol allows
2,048): longer ones are cut, so a sample of 22 models stays within the report's 6 MB budget.
The whole text is in the Responses tab and the exports."""
SAMPLE_REASONING_CHARS = 500
"""Characters of the judge's reasoning shown per verdict of a sampled item, likewise."""


def _shown(text: str, limit: int) -> str:
    """``text``, escaped, cut at ``limit`` characters with a note of how much was left out."""
    if len(text) <= limit:
        return html.escape(text)
    return (html.escape(text[:limit])
            + f" … [{len(text) - limit:,} more characters: the whole text is in the Responses tab and the exports]")


def _headline(rates: pd.DataFrame) -> str:
    data = rates.sort_values("rate")
    shown = data if len(data) <= 6 else pd.concat([data.head(3), data.tail(3)])
    parts = [f"{html.escape(str(r.model))} {fmt_pct(r.rate)} {fmt_interval(r.ci_low, r.ci_high)}"
             for r in shown.itertuples(index=False)]
    lead = (f"{len(data)} models, from {fmt_pct(data['rate'].min())} to {fmt_pct(data['rate'].max())}; "
            "lowest and highest three: " if len(data) > 6 else "")
    return lead + "; ".join(parts)


def _gap_sentence(comparison: pd.DataFrame, params: pd.DataFrame | None) -> str:
    """The real-versus-modified finding, counted on the requirement-adjusted gap (``diff_adj``,
    ``p_holm_adj``): the raw gap also moves with the requirement mix (with no source effect at
    all it named at least one model in 16% of simulated datasets), so it appears only as such."""
    finite = comparison[np.isfinite(comparison["diff_adj"].to_numpy(float))]
    if finite.empty:
        return "Real versus modified prompts: not estimable in this selection."
    significant = finite["p_holm_adj"] < 0.05
    higher = int((significant & (finite["diff_adj"] > 0)).sum())
    lower = int((significant & (finite["diff_adj"] < 0)).sum())
    text = (f"at a common requirement mix, modified prompts drew significantly more violations than real ones for "
            f"{higher} of {len(finite)} models and fewer for {lower} (Holm-adjusted p < 0.05; median adjusted gap "
            f"{np.median(finite['diff_adj']) * 100:+.1f} points; the raw gap, which also compares different "
            f"requirement mixes, has median {np.median(finite['diff']) * 100:+.1f} points)")
    if params is not None and "source[T.modified]" in params["term"].to_numpy():
        row = params.set_index("term").loc["source[T.modified]"]
        text += (f"; mixed-model odds ratio {row['odds_ratio']:.2f} {fmt_interval(row['or_ci_low'], row['or_ci_high'], 'num')}, "
                 f"p {'< 0.001' if row['p_value'] < 0.001 else '= ' + fmt_p(row['p_value'])}")
    return text[0].upper() + text[1:] + "."


def _comparability_sentence(frame: pd.DataFrame) -> str:
    """Which runs were made the way the published leaderboard was, and why the others were not."""
    from ..analysis.comparability import by_model

    table = by_model(frame)
    table = table[table.index.isin(frame["model"].unique())]  # the records cover every loaded run
    marked = table[~table["comparable"].astype(bool)]
    if marked.empty:
        return (f"all {len(table)} run(s) comparable with the published leaderboard (the authors' recipe, judge, "
                "protocol and conventions, the whole benchmark, judge errors for at most 1% of checks).")
    reasons = "; ".join(f"{model}: {why}" for model, why in marked["reasons"].items())
    return (f"{len(table) - len(marked)} of {len(table)} run(s) comparable with the published leaderboard; "
            f"not comparable: {reasons}.")


def summary_html(frame: pd.DataFrame, sections: Mapping[str, object], *, protocol: str) -> str:
    """The report's opening summary (``sections``: computed ``report.Section``s by key)."""
    simulated = is_simulated(frame)
    judged = int(frame["violation"].notna().sum())
    errors = int((frame["error"].fillna("") != "").sum())
    checks = len(frame) if "epoch" not in frame.columns else len(frame.drop_duplicates(["model", "prompt_id", "requirement"]))
    # With epochs or judge repeats a check has several verdicts: both counts are given.
    counted = (f"{checks:,} checks ({judged:,} with a verdict" if checks == len(frame) else
               f"{checks:,} checks, {len(frame):,} verdict slots over epochs and judge repeats ({judged:,} with a verdict")
    items = [f"<li><b>What was run:</b> {frame['model'].nunique():,} model(s), {frame['prompt_id'].nunique():,} prompts, "
             f"{counted}, {errors:,} judge errors or not judged).</li>",
             f"<li><b>Protocol:</b> {protocol}</li>"]
    items.append("<li><b>Comparability:</b> "
                 + ("simulated data calibrated to the published figures: an illustration, not a finding."
                    if simulated else html.escape(_comparability_sentence(frame))) + "</li>")

    def table(key: str, name: str) -> pd.DataFrame | None:
        section = sections.get(key)
        for t in getattr(section, "tables", []):
            if t.name == name:
                return t.frame
        return None

    rates = table("leaderboard", "leaderboard")
    if rates is not None and not rates.empty:
        items.append(f"<li><b>Violation rates</b> (95% bootstrap intervals, %): {_headline(rates)}.</li>")
    comparison = table("real_vs_modified", "real_vs_modified")
    if comparison is not None and not comparison.empty:
        items.append(f"<li><b>Real versus modified:</b> {_gap_sentence(comparison, table('mixed', 'mixed_model_params'))}</li>")
    elif "real_vs_modified" in sections:
        notes = getattr(sections["real_vs_modified"], "notes", [])
        if notes:
            items.append(f"<li><b>Real versus modified:</b> {notes[0]}</li>")
    return f"<section id='summary'><h2>Summary</h2><ul>{''.join(items)}</ul></section>"


def sample_html(frame: pd.DataFrame, prompts: Mapping[str, str] | None, *, per_model: int, seed: int = 0) -> str:
    """``per_model`` items of each model, drawn with a fixed seed among those with a response;
    long responses and reasoning are cut (``SAMPLE_RESPONSE_CHARS``, ``SAMPLE_REASONING_CHARS``)."""
    if per_model <= 0:
        return ""
    index = ResponseIndex(frame, prompts)
    if not index.has_responses:
        return ("<section id='responses'><h2>Sample of responses</h2><p>This data carries no response "
                "text (simulated data, or a results file without it).</p></section>")
    rng = np.random.default_rng(seed)
    parts = []
    rubrics: dict[tuple[str, str], str] = {}
    has_text = index.checks["response"].str.strip().ne("").to_numpy()
    for model in index.options("model"):
        codes = index.matching_items(index.mask(models=[model]) & has_text)
        chosen = np.sort(rng.choice(codes, size=min(per_model, len(codes)), replace=False)) if len(codes) else []
        for code in chosen:
            item = index.item(int(code))
            # With repeats: which epoch's response this is, and which judge call each verdict was.
            epoch = f", epoch {item.epoch}" if index.has_epochs else ""
            lines = []
            for c in item.checks.to_dict("records"):
                version = str(c.get("rubric_version") or "")
                rubrics.setdefault((c["requirement"], version), str(c.get("protocol") or ""))
                reasoning = f" · {_shown(c['reasoning'], SAMPLE_REASONING_CHARS)}" if c.get("reasoning") else ""
                call = f" (judge call {c['judge_repeat']})" if index.has_judge_repeats else ""
                lines.append(f"<li>{html.escape(requirement(c['requirement']).label)}{call}: "
                             f"<b>{VERDICT_LABELS[c['kind']]}</b>"
                             f"{reasoning} <span class='eud-rubric-ref'>(rubric {html.escape(version or 'not recorded')})"
                             "</span></li>")
            prompt = f"<pre class='eud-text'>{html.escape(item.prompt)}</pre>" if item.prompt else ""
            parts.append(f"<article><h3>{html.escape(item.model)} · prompt {html.escape(item.prompt_id)} "
                         f"({html.escape(item.source)}{epoch})</h3>{prompt}<pre class='eud-text'>{_shown(item.response, SAMPLE_RESPONSE_CHARS)}</pre>"
                         f"<ul>{''.join(lines)}</ul></article>")
    return (f"<section id='responses'><h2>Sample of responses</h2><p>{per_model} item(s) per model, drawn at "
            f"random (seed {seed}) among items with a response.</p>{''.join(parts)}{rubrics_html(rubrics)}</section>")


def rubrics_html(used: Mapping[tuple[str, str], str]) -> str:
    """The rubrics behind the sampled verdicts, each once, found by its recorded version: the
    suite's text folded; the authors' named with its pinned location but not embedded (their
    repository has no licence, so a shared report does not carry their text)."""
    from ..judging.authors_rubrics import OFFICIAL_BASE_URL, RUBRIC_FILENAME
    from ..judging.rubric_lookup import AUTHORS, find_rubric

    if not used:
        return ""
    rows = []
    for (key, version), protocol in sorted(used.items()):
        shown = find_rubric(key, version, protocol or None)
        head = f"<b>{html.escape(requirement(key).label)}</b>: {html.escape(shown.title)}"
        if shown.protocol == AUTHORS:
            url = f"{OFFICIAL_BASE_URL}/{key}/{RUBRIC_FILENAME}"
            rows.append(f"<li>{head}. Text not embedded (the authors' repository has no licence): "
                        f"<a href='{html.escape(url)}'>{html.escape(url)}</a>, SHA-256 checked by "
                        "<code>eudaimonia-nb fetch-rubrics</code>.</li>")
        elif shown.text is not None:
            rows.append(f"<li>{head}, from {html.escape(shown.source)}.<details><summary>Text</summary>"
                        f"<pre class='eud-text'>{html.escape(shown.text)}</pre></details></li>")
        else:
            rows.append(f"<li>{head}. {html.escape(shown.missing)}</li>")
    return f"<h3 id='rubrics'>Rubrics the judge saw</h3><ul class='eud-rubrics'>{''.join(rows)}</ul>"
