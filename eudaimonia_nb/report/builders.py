"""The per-section builders: for a judgments frame, each dashboard tab's figures, tables and notes.

A builder turns the selected judgments (under the options' errors convention) into a
``Section``: the analysis results (from ``eudaimonia_nb.analysis``), their figures (from
``eudaimonia_nb.plots.analysis``), tables and a few sentences on how the numbers were made.
``build_section`` is the one entry: it says "not estimable" where a comparison of sources has
one source, names the errors convention, and marks simulated data on every figure.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..analysis.conventions import apply_convention, describe
from ..analysis.frames import is_simulated
from ..benchmark.design_code import requirement
from .comparison import authors_reading_columns, published_family_note
from .runs import data_summary, protocol_note, rubric_version_table, run_records
from .repeats import REPEAT_FIGURE_NAMES, REPEAT_SECTIONS, noise_section, reduced
from .repeats import name_reducer as _name_reducer
from .sections import CROSS_CHECKS_PENDING, FIGURE_NAMES, SECTION_TITLES, SOURCE_SECTIONS, Options, Section, Table, one_source_cause
from .sources import STORE_ATTR


def _leaderboard(frame: pd.DataFrame, options: Options) -> Section:
    from ..analysis import published
    from ..analysis.comparability import annotate_rates, comparability_note, scoped_published
    from ..analysis.rates import model_rates
    from ..plots.analysis import leaderboard_figure

    rates = model_rates(frame, n_boot=options.n_boot, seed=options.seed)
    simulated = is_simulated(frame)
    board = published_rows(rates["model"], context=not simulated, names=_endpoint_names(frame))
    if not simulated:
        rates = with_run_details(annotate_rates(rates, frame), frame)
        board = scoped_published(board, rates, published.real_modified_pairs())
    matched = board.dropna(subset=["row"]).drop_duplicates("row").set_index("row")
    table = rates.assign(published_model=rates["model"].map(matched["model"]),
                         published_rate=rates["model"].map(matched["overall"]))
    notes = [] if simulated else [html.escape(comparability_note(rates))]
    if not simulated:
        table["published_scope"] = rates["model"].map(matched["scope"])
        table, extra = authors_reading_columns(table, frame)
        notes += [html.escape(n) for n in extra]
    family = published_family_note(board.loc[board["row"].notna(), "model"])
    notes += [html.escape(family)] if family else []
    context = ("The demo simulates the published models, so only the selected ones are shown."
               if simulated else "Published models that are not in the data have rows of their "
               "own (diamond only), so your runs can be read against the whole leaderboard; a "
               "loaded model is matched to a published one by name, ignoring vendor prefixes, "
               "dates and punctuation.")
    return Section("leaderboard", SECTION_TITLES["leaderboard"],
                   figures={"leaderboard": leaderboard_figure(table, board)},
                   tables=[Table("leaderboard", "Overall violation rate per model", table, main=LEADERBOARD_COLUMNS)],
                   notes=notes + [
        "Rate = violated checks / judged checks, micro-averaged over (prompt, requirement) "
        "checks; checks without a verdict (judge errors) are excluded and counted separately. "
        f"95% intervals: percentile bootstrap over prompts ({options.n_boot} replicates, seed "
        f"{options.seed}), the same resampled prompts for every model, so the clustering of checks "
        "within a prompt is respected. Grey diamonds: the published leaderboard (no intervals "
        f"were published). {context}"])


def _endpoint_names(frame: pd.DataFrame) -> dict[str, str]:
    """Model label -> the name the endpoint used (``model_name``), where the data has it: a
    run labelled ``gpt-4o · judge j · suite protocol`` still meets the published GPT-4o."""
    if "model_name" not in frame.columns:
        return {}
    pairs = frame[["model", "model_name"]].drop_duplicates("model")
    return dict(zip(pairs["model"].astype(str), pairs["model_name"].astype(str)))


def with_run_details(rates: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """Per-model rates with ``run_id`` (the runs behind a label, a detail for hovers) and
    ``rejudge_of`` (for a rejudge whose source run is loaded: that run's label, so the figure
    draws it beside its source with a marker of its own instead of as another model)."""
    from ..analysis.comparability import COMPARABILITY_ATTR

    if "run_id" not in frame.columns:
        return rates
    runs = frame.groupby("model")["run_id"].agg(lambda ids: ", ".join(sorted(set(map(str, ids)))))
    out = rates.assign(run_id=rates["model"].astype(str).map(runs).fillna(""))
    records = frame.attrs.get(COMPARABILITY_ATTR) or []
    label_of = {str(r["unit"]): str(r["model"]) for r in records}
    source_of = {str(r["model"]): label_of.get(str(r.get("rejudged_from"))) for r in records
                 if isinstance(r.get("rejudged_from"), str)}
    out["rejudge_of"] = out["model"].astype(str).map(source_of)
    out.attrs = dict(rates.attrs)
    return out


LEADERBOARD_COLUMNS = ("model", "rate", "n_checks", "n_errors", "note", "published_model", "published_rate",
                       "published_scope", "rate_authors_convention", "n_flagged", "rate_flagged_apart",
                       "not_comparable_because", "rejudge_of")
"""Leaderboard columns on the page (the CSV has them all: counts, run ids, status...)."""
GAP_COLUMNS = ("rate_real", "rate_modified", "diff_adj", "p_holm_adj", "diff", "note")
"""Real-versus-modified columns on the page: the rates, the requirement-adjusted gap with its
Holm p, and the raw gap after it."""


def published_rows(models: pd.Series, *, context: bool, names: dict[str, str] | None = None) -> pd.DataFrame:
    """The published leaderboard placed on the leaderboard figure's rows.

    ``row`` is the loaded model a published entry matches (``selection.normalise_model_name``
    of its endpoint name in ``names``, else of the label itself, so ``gpt-4o-2024-08-06`` meets
    ``GPT-4o``), the published name itself when ``context`` and no loaded model matches it, else
    missing (not shown).
    """
    from ..analysis import published
    from ..analysis.selection import normalise_model_name

    board = published.leaderboard()
    names = names or {}
    own = pd.Series(models.astype(str).unique())
    by_key = own.groupby(own.map(lambda m: normalise_model_name(names.get(m, m)))).agg(list)
    rows = board["model"].map(normalise_model_name).map(by_key)
    # A row holds a model name like ``model``: with no match at all, explode alone leaves a
    # float column of NaN, which cannot take names as a fill.
    board = board.assign(row=rows).explode("row").astype({"row": board["model"].dtype})
    if context:
        board["row"] = board["row"].fillna(board["model"])
    return board.reset_index(drop=True)


def _requirements(frame: pd.DataFrame, options: Options) -> Section:
    from ..analysis import published
    from ..analysis.rates import violation_rates
    from ..plots.analysis import requirement_heatmap, requirement_source_bars

    by_model = violation_rates(frame, ["model", "requirement"])
    by_source = violation_rates(frame, ["requirement", "source"])
    paper = published.requirement_averages()
    return Section("requirements", SECTION_TITLES["requirements"],
                   figures={"heatmap": requirement_heatmap(by_model),
                            "requirement_bars": requirement_source_bars(by_source, paper)},
                   tables=[Table("rates_by_model_requirement", "Rates by model and requirement", by_model),
                           Table("rates_by_requirement_source", "Rates by requirement, real vs modified", by_source)],
                   notes=[
        "Heatmap intervals are Wilson 95%: a model x requirement cell holds at most one check per "
        "prompt. The real/modified bars pool every selected model's checks of a prompt, which are "
        "correlated, so their 95% intervals are cluster-robust (Wilson at the effective sample size "
        "from the prompt-clustered variance). Grey diamonds: the paper's per-requirement averages over its 22 models, read off "
        "its bar chart (approximate, about 1 point)."])


def _real_vs_modified(frame: pd.DataFrame, options: Options) -> Section:
    from ..analysis.rates import real_vs_modified
    from ..analysis.selection import group_by_source
    from ..plots.analysis import dumbbell_figure, group_figure

    comparison = real_vs_modified(frame, n_boot=options.n_boot, seed=options.seed)
    groups = group_by_source(frame, n_boot=options.n_boot, seed=options.seed)
    return Section("real_vs_modified", SECTION_TITLES["real_vs_modified"],
                   figures={"dumbbell": dumbbell_figure(comparison), "groups": group_figure(groups)},
                   tables=[Table("real_vs_modified", "Real versus modified per model", comparison,
                                 main=("model", *GAP_COLUMNS)),
                           Table("model_groups", "Real versus modified by model group", groups,
                                 main=("model_group", "n_models", *GAP_COLUMNS))],
                   notes=[
        "Δ = modified − real, shown requirement-adjusted (within-requirement gaps weighted by each "
        "requirement's share of all checks) with the raw Δ after it. "
        f"{html.escape(comparison.attrs.get('mix_note', ''))} Intervals: bootstrap resampling real and "
        "modified prompts separately; p-values are adjusted for the number of models with Holm's method.",
        *(html.escape(n) for n in comparison.attrs.get("notes", [])),
        "Caution: rewritten prompts were kept only if they made a <i>target</i> model (GPT-4o, "
        "Claude Sonnet 4, Gemini 2.0 Flash) violate, and were written by <i>rewriter</i> models "
        "(GPT-5.4, Gemini 3.1 Pro, Claude Opus 4.6); real prompts were selected too (GPT-4 confirmed "
        "each). Keeping prompts that broke one model keeps prompts that are hard for every model, which "
        "raises every group's gap alike: an equal gap across groups is not evidence against selection. "
        "The Mixed-effects tab tests the target − other contrast and shows the gaps selection alone produces."])


def _mixed(frame: pd.DataFrame, options: Options) -> Section:
    from ..analysis.curation import selection_check
    from ..analysis.gee import compare, fit_gee
    from ..analysis.mixed import fit_mixed
    from ..plots.analysis import forest_figure

    # build_section has made sure both sources have verdicts (SOURCE_SECTIONS).
    mixed = fit_mixed(frame)
    gee = fit_gee(frame) if options.cross_checks else None
    contrast, band, selection_notes = (
        selection_check(frame, prompt_sd=float(mixed.variance_components["sd"].iloc[0]), seed=options.seed)
        if options.cross_checks else (None, None, []))
    params = mixed.params.rename_axis("term").reset_index()
    status = "converged" if mixed.converged else "<b>did not converge</b> (read with care)"
    cautions = [part.split("WARNING: ", 1)[1] for part in mixed.message.split("; ") if part.startswith("WARNING: ")]
    checks = (f"<b>GEE cross-check.</b> {html.escape(compare(mixed, gee))}" if gee is not None else
              f"<b>{CROSS_CHECKS_PENDING}</b>")
    return Section("mixed", SECTION_TITLES["mixed"],
                   figures={"forest": forest_figure(mixed.params, reference=_references(mixed.references),
                                                     cross_check=gee.params if gee is not None else None)},
                   tables=[Table("mixed_model_params", "Mixed model: fixed effects (log-odds)", params),
                           Table("variance_components", "Mixed model: variance components",
                                 mixed.variance_components),
                           *([Table("gee_params", "GEE cross-check: fixed effects (log-odds)",
                                    gee.params.rename_axis("term").reset_index())] if gee is not None else []),
                           *([Table("mixed_model_params_full_hessian", "Mixed model, small design: SEs from the "
                                    "full Hessian (incl. the prompt SD's uncertainty)",
                                    mixed.params_hessian.rename_axis("term").reset_index())]
                             if mixed.params_hessian is not None else []),
                           *([Table("selection_contrast", "Selection check: source x model-group terms", contrast)]
                             if contrast is not None else []),
                           *([Table("selection_band", "Selection check: gaps selection alone produces", band)]
                             if band is not None else [])],
                   notes=[
        *(f"<span class='eud-caution'>⚠ <b>Fit warning:</b> {html.escape(c)}. Intervals involving this "
          "variance are unreliable; the fixed effects still read as conditional on a prompt.</span>" for c in cautions),
        f"<b>Reading.</b> {html.escape(mixed.reading())}",
        checks,
        f"Fit: {html.escape(mixed.method)}, {mixed.n_obs:,} judged checks, {status}. "
        f"Assumptions: {html.escape(mixed.assumptions)}",
        "The mixed model's odds ratios are conditional (for prompts of the same difficulty); "
        "GEE's are population-averaged and smaller in size by construction. Fits are cached, so "
        "returning to a previous filter costs nothing.",
        *(html.escape(n) for n in (*mixed.separated, *mixed.left_out)),
        *(f"<b>Selection check.</b> {html.escape(n)}" for n in selection_notes)])


def _references(references: dict[str, str]) -> str:
    """The fit's reference levels in words: what every odds ratio is relative to."""
    parts = ["real prompts"]
    if "requirement" in references:
        parts.append(requirement(references["requirement"]).label)
    if "model" in references:
        parts.append(references["model"])
    return ", ".join(parts)


def _coviolation(frame: pd.DataFrame, options: Options) -> Section:
    from ..analysis.covariation import coviolation
    from ..plots.analysis import coviolation_figure

    corr = coviolation(frame)
    counts = corr.attrs["pair_counts"]
    return Section("coviolation", SECTION_TITLES["coviolation"],
                   figures={"coviolation": coviolation_figure(corr, counts)},
                   tables=[Table("coviolation", "Correlation of violations between requirements",
                                 corr.rename_axis("requirement").reset_index())],
                   notes=[
        "Pearson (phi) correlation between the verdicts for two requirements judged on the same "
        "prompt and model response; blank where fewer than 10 (prompt, model) pairs carry both. The paper "
        "reports that identity, deference, emotion and relationship failures co-occur and that "
        "intentional human speech is distinct."])


def _methods(frame: pd.DataFrame, options: Options) -> Section:
    from ..analysis.rates import violation_rates
    from ..plots.analysis import data_overview_figure

    counts = violation_rates(frame, ["requirement", "source"])
    tables = [Table("checks_by_requirement_source", "Checks and judge errors", counts)]
    records = run_records(frame)
    if not records.empty:
        tables.append(Table("runs", "Runs (from the run records)", records))
    versions = rubric_version_table(frame)
    notes = [data_summary(frame)]
    if not versions.empty:
        tables.append(Table("rubric_versions", "Rubric versions", versions))
        mixed = versions.groupby("requirement")["rubric_version"].nunique()
        if (mixed > 1).any():
            notes.append("<b>More than one rubric version</b> for " + ", ".join(
                html.escape(requirement(k).label) for k in mixed[mixed > 1].index)
                + ": verdicts judged with different rubric texts measure different things. Filter "
                "to one version (column <code>rubric_version</code>) before comparing.")
    notes.append(protocol_note(records, frame))
    notes += [
        "How each number is computed: rates are micro-averages over judged checks; per-model "
        "intervals bootstrap prompts; model x requirement intervals are Wilson (one check per prompt), intervals "
        "pooled over models cluster-robust Wilson (prompt-clustered variance); the mixed model is a "
        "logistic model with a random intercept per prompt (Laplace approximation); the GEE "
        "cross-check is binomial with exchangeable correlation within prompts and robust "
        "standard errors. See docs/analysis.md."]
    return Section("methods", SECTION_TITLES["methods"],
                   figures={"overview": data_overview_figure(counts)}, tables=tables, notes=notes)


def _judge_compare(frame: pd.DataFrame, options: Options) -> Section:
    from ..analysis.comparability import COMPARABILITY_ATTR
    from ..analysis.judge_compare import compare_runs, find_pairs
    from ..plots.analysis import empty_figure
    from ..plots.judge_compare import judge_difference_figure

    loaded = set(frame["run_id"]) if "run_id" in frame.columns else set()
    pairs = [p for p in find_pairs(frame.attrs.get(COMPARABILITY_ATTR)) if {p.run_a, p.run_b} <= loaded]
    title = SECTION_TITLES["judge_compare"]
    if not pairs:
        return Section("judge_compare", title, figures={"judge_difference": empty_figure(
            title, "Load a run and its rejudge (eudaimonia-nb rejudge) to compare judges or protocols")},
            notes=["A rejudge (<code>eudaimonia-nb rejudge RUN_ID ...</code>) judges the stored responses of a run "
                   "again with another judge, protocol or rubric "
                   "version; with both runs loaded this tab compares their verdicts check by check."])
    figures, tables, notes = {}, [], []
    labels = frame.drop_duplicates("run_id").set_index("run_id")["model"].astype(str).to_dict()
    for i, pair in enumerate(pairs):
        comparison = compare_runs(frame, pair.run_a, pair.run_b, n_boot=options.n_boot, seed=options.seed)
        name = "judge_difference" if i == 0 else f"judge_difference_{i}"
        label_a, label_b = labels.get(pair.run_a, pair.run_a), labels.get(pair.run_b, pair.run_b)
        figures[name] = judge_difference_figure(comparison, pair.label_a, pair.label_b)
        tables.append(Table(f"judge_compare_{pair.run_b}",
                            f"Judge A: {label_a} ({pair.label_a}, run {pair.run_a}). "
                            f"Judge B: {label_b} ({pair.label_b}, run {pair.run_b}).",
                            judge_compare_table(comparison)))
    notes.append("Same responses, two judgments: flips per requirement (both violation, only A, only B, neither), "
                 "agreement and Cohen's κ, and the paired difference judge B − judge A in percentage points. 95% "
                 f"intervals: percentile bootstrap over prompts ({options.n_boot} replicates, seed {options.seed}), so "
                 "checks sharing a response stay together; <i>McNemar p</i> is McNemar's exact test (checks treated as "
                 "independent), <i>clustered p</i> a Wald test with the bootstrap standard error. Checks without a "
                 "verdict in either run are left out (<i>unpaired</i>).")
    return Section("judge_compare", title, figures=figures, tables=tables, notes=notes)


JUDGE_COMPARE_COLUMNS = {
    "rate_a": "rate_judge_a", "rate_b": "rate_judge_b", "diff": "diff_judge_b_a", "diff_ci_low": "diff_judge_b_a_ci_low",
    "diff_ci_high": "diff_judge_b_a_ci_high", "agreement": "agreement_share",
    "agreement_ci_low": "agreement_share_ci_low", "agreement_ci_high": "agreement_share_ci_high",
}
"""``compare_runs`` columns renamed for the table and its CSV: a judge comparison's difference
is judge B − judge A, never "modified − real", and its rates are read as rates."""


def judge_compare_table(comparison: pd.DataFrame) -> pd.DataFrame:
    """``compare_runs`` output with the column names ``formatting`` reads as judge B − judge A."""
    return comparison.rename(columns=JUDGE_COMPARE_COLUMNS)


def _validity(frame: pd.DataFrame, options: Options) -> Section:
    from ..validity.section import SHOWN_TABLES, validity_sections

    figures, tables, notes, lead = validity_sections(frame, frame.attrs.get(STORE_ATTR), n_boot=options.n_boot,
                                                     seed=options.seed)
    # The summary leads; the planning table follows the figure; every other table is a detail.
    return Section("validity", SECTION_TITLES["validity"], figures=figures, lead=lead, notes=notes, tables=[
        Table(t[0], t[1], t[2], display=t[3] if len(t) > 3 else None, folded=t[0] not in SHOWN_TABLES)
        for t in tables])


SECTION_BUILDERS: dict[str, Callable[[pd.DataFrame, Options], Section]] = {
    "leaderboard": _leaderboard,
    "requirements": _requirements,
    "real_vs_modified": _real_vs_modified,
    "mixed": _mixed,
    "coviolation": _coviolation,
    "judge_compare": _judge_compare,
    "validity": _validity,
    "methods": _methods,
    # Shown only for data with repeated verdicts (report.repeats).
    "noise": noise_section,
}


def build_section(key: str, frame: pd.DataFrame, options: Options = Options()) -> Section:
    """Compute one section (``key`` from ``SECTION_TITLES``) for a judgments frame, under the
    options' errors convention, which its notes name; a comparison of sources on one source
    says so instead of failing."""
    cause = one_source_cause(frame) if key in SOURCE_SECTIONS else None
    if cause:
        return _not_estimable(key, cause, cause.split(";")[0])
    # The convention is about each verdict; repeated verdicts then become one per check (the noise
    # section reads them all), as in `rates` (analysis.run_rates).
    counted = apply_convention(frame, options.errors)
    data = counted if key in REPEAT_SECTIONS else reduced(counted, options.reducer)
    section = SECTION_BUILDERS[key](data, options)
    section.notes.append(describe(options.errors))
    return _simulated_labels(_name_reducer(section, data), is_simulated(frame))


def section_or_reason(key: str, frame: pd.DataFrame, options: Options) -> Section:
    """The section, or, when this selection cannot be fitted (a singular model on a few prompts,
    say), a section that says so: one section never sinks the whole report."""
    try:
        return build_section(key, frame, options)
    except (ValueError, np.linalg.LinAlgError) as exc:
        cause = f"Not estimable for this selection ({exc}); a wider selection (more prompts or models) may be."
        return _not_estimable(key, cause, "Not estimable for this selection")


def _not_estimable(key: str, cause: str, short: str) -> Section:
    """A section that says why it has no numbers: ``cause`` as its note, ``short`` on each figure."""
    from ..plots.analysis import empty_figure

    title = SECTION_TITLES.get(key) or REPEAT_SECTIONS[key]
    return Section(key, title, notes=[html.escape(cause)], figures={
        name: empty_figure(title, short) for name in FIGURE_NAMES.get(key) or REPEAT_FIGURE_NAMES[key]})


def _simulated_labels(section: Section, simulated: bool) -> Section:
    """Simulated data says so on every figure: in the title and in the legend."""
    if simulated:
        for fig in section.figures.values():
            title = fig.layout.title.text or ""
            if not title.startswith("Simulated demo"):
                fig.update_layout(title_text=f"Simulated demo · {title}")
            for trace in fig.data:
                if trace.name and trace.name.startswith("This data"):
                    trace.name = "Simulated demo" + trace.name[len("This data"):]
    return section


