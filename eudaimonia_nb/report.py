"""The analysis report: the dashboard's sections, and a static HTML export of them.

A *section* is one tab of the dashboard: the analysis results (from ``eudaimonia_nb.analysis``),
their figures (from ``eudaimonia_nb.plots.analysis``), tables and a few sentences on how the
numbers were made. The dashboard shows sections as widgets; ``render_report`` writes the same
sections to one self-contained HTML file with interactive Plotly figures (plotly.js embedded,
so it opens offline). ``eudaimonia-nb report`` is the command-line way to the same file.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from .analysis.comparability import COMPARABILITY_ATTR, run_comparability
from .analysis.conventions import ERRORS_APART, ERRORS_AS_NO_VIOLATION, apply_convention, describe
from .analysis.frames import is_simulated
from .design_code import REQUIREMENTS, requirement
from .paths import user_path
from .plots import PRINCIPLE_LABELS

SOURCE_ENV = "EUDAIMONIA_DASHBOARD_SOURCE"
"""Data source of the dashboard at start-up: ``demo``, ``store:PATH[#RUN,RUN]`` or ``file:PATH``."""

RUNS_ATTR = "run_records"
"""``frame.attrs`` key of the run records (protocol, judge) of data loaded from a store."""
STORE_ATTR = "store_path"
"""``frame.attrs`` key of the results store the data came from (its labels feed Judge validity)."""

SMOKE_TEST_NOTICE = (
    "Smoke-test data: some runs used the local smoke-test model; their verdicts check the "
    "machinery and are not research results."
)
UNOFFICIAL_DATA_NOTICE = (
    "Unofficial benchmark file: some runs used a file that is not the pinned official release "
    "(a cut, an edit or another version); they are not comparable with the published figures."
)

SIMULATED_NOTICE = (
    "Simulated data: these numbers come from the embedded demo, simulated to match the "
    "published figures. They are not judgments of real model responses."
)


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


def load_source(source: DataSource) -> pd.DataFrame:
    """The long judgments table from a data source (see the common table contract)."""
    if source.kind == "demo":
        from .analysis.simulate import demo_judgments

        return demo_judgments()
    if source.kind == "store":
        from .store import list_runs
        from .store import load_judgments as load_store

        frame = load_store(source.path, list(source.run_ids) or None, texts=True)
        runs = list_runs(source.path)
        runs = runs[runs["run_id"].isin(set(frame["run_id"]))]
        # Small (one dict per run) and carried through filters like ``simulated``.
        frame.attrs[RUNS_ATTR] = protocol_records(runs)
        frame.attrs[COMPARABILITY_ATTR] = run_comparability(frame, runs).to_dict("records")
        frame.attrs[STORE_ATTR] = str(source.path)
        return frame
    from .analysis.frames import load_judgments

    frame = load_judgments(source.path)
    frame.attrs[COMPARABILITY_ATTR] = run_comparability(frame).to_dict("records")
    return frame


@dataclass
class Table:
    """A result table shown in a section and downloadable as CSV."""

    name: str
    """File stem of its CSV download, e.g. ``leaderboard``."""
    title: str
    """Caption shown above it."""
    frame: pd.DataFrame
    """The numbers, with analysis column names (rates as fractions)."""


@dataclass
class Section:
    """One dashboard tab / report chapter."""

    key: str
    """Stable identifier, e.g. ``leaderboard``."""
    title: str
    """Tab title, e.g. ``Leaderboard``."""
    figures: dict[str, go.Figure] = field(default_factory=dict)
    """Figures by name, in display order."""
    tables: list[Table] = field(default_factory=list)
    """Result tables, in display order."""
    notes: list[str] = field(default_factory=list)
    """HTML paragraphs: how the numbers were computed and how to read them."""


@dataclass(frozen=True)
class Options:
    """Analysis settings shared by the dashboard and the report."""

    n_boot: int = 1000
    """Bootstrap replicates (resampling prompts) for per-model intervals."""
    seed: int = 0
    """Seed of the bootstrap, so numbers are reproducible."""
    errors: str = ERRORS_APART
    """What a check without a verdict counts as (``analysis.conventions``): ``apart`` (default)
    or ``no_violation`` (the authors' convention for unparseable judge answers)."""


SECTION_TITLES: dict[str, str] = {
    "leaderboard": "Leaderboard",
    "requirements": "Requirements",
    "real_vs_modified": "Real vs modified",
    "mixed": "Mixed-effects model",
    "coviolation": "Co-violation",
    "judge_compare": "Judge comparison",
    "validity": "Judge validity",
    "methods": "Data & methods",
}
"""Section keys in tab order, with their titles."""
FIGURE_NAMES: dict[str, tuple[str, ...]] = {
    "leaderboard": ("leaderboard",),
    "requirements": ("heatmap", "requirement_bars"),
    "real_vs_modified": ("dumbbell", "groups"),
    "mixed": ("forest",),
    "coviolation": ("coviolation",),
    "judge_compare": ("judge_difference",),
    "validity": ("validity_forest",),
    "methods": ("overview",),
}
"""Figures each section produces (the dashboard creates one FigureWidget per name)."""
HEAVY_SECTIONS = frozenset({"mixed"})
"""Sections that fit models: computed when first opened, with a progress message."""


def _leaderboard(frame: pd.DataFrame, options: Options) -> Section:
    from .analysis import published
    from .analysis.comparability import annotate_rates, comparability_note, scoped_published
    from .analysis.rates import model_rates, violation_rates
    from .plots.analysis import leaderboard_figure

    rates = model_rates(frame, n_boot=options.n_boot, seed=options.seed)
    simulated = is_simulated(frame)
    board = published_rows(rates["model"], context=not simulated)
    if not simulated:
        rates = annotate_rates(rates, frame)
        board = scoped_published(board, rates, published.real_modified_pairs())
    matched = board.dropna(subset=["row"]).drop_duplicates("row").set_index("row")
    table = rates.assign(published_model=rates["model"].map(matched["model"]),
                         published_rate=rates["model"].map(matched["overall"]))
    if not simulated:
        table["published_scope"] = rates["model"].map(matched["scope"])
        # Beside the published figures, a comparable run is also read the authors' way.
        authors_way = violation_rates(apply_convention(frame, ERRORS_AS_NO_VIOLATION), "model").set_index("model")
        for column in ("rate", "ci_low", "ci_high"):
            table[f"{column}_errors_as_no_violation"] = table["model"].map(authors_way[column])
    context = ("The demo simulates the published models, so only the selected ones are shown."
               if simulated else "Published models that are not in the data have rows of their "
               "own (diamond only), so your runs can be read against the whole leaderboard; a "
               "loaded model is matched to a published one by name, ignoring vendor prefixes, "
               "dates and punctuation.")
    return Section("leaderboard", SECTION_TITLES["leaderboard"],
                   figures={"leaderboard": leaderboard_figure(rates, board)},
                   tables=[Table("leaderboard", "Overall violation rate per model", table)],
                   notes=([] if simulated else [html.escape(comparability_note(rates))]) + [
        "Rate = violated checks / judged checks, micro-averaged over (prompt, requirement) "
        "checks; checks without a verdict (judge errors) are excluded and counted separately. "
        f"95% intervals: percentile bootstrap over prompts ({options.n_boot} replicates, seed "
        f"{options.seed}), the same resampled prompts for every model, so the clustering of checks "
        "within a prompt is respected. Grey diamonds: the published leaderboard (no intervals "
        f"were published). {context}"])


def published_rows(models: pd.Series, *, context: bool) -> pd.DataFrame:
    """The published leaderboard placed on the leaderboard figure's rows.

    ``row`` is the loaded model a published entry matches (``selection.normalise_model_name``,
    so ``gpt-4o-2024-08-06`` meets ``GPT-4o``), the published name itself when ``context`` and
    no loaded model matches it, else missing (not shown).
    """
    from .analysis import published
    from .analysis.selection import normalise_model_name

    board = published.leaderboard()
    own = pd.Series(models.astype(str).unique())
    by_key = own.groupby(own.map(normalise_model_name)).agg(list)
    rows = board["model"].map(normalise_model_name).map(by_key)
    board = board.assign(row=rows).explode("row")
    if context:
        board["row"] = board["row"].fillna(board["model"])
    return board.reset_index(drop=True)


def _requirements(frame: pd.DataFrame, options: Options) -> Section:
    from .analysis import published
    from .analysis.rates import violation_rates
    from .plots.analysis import requirement_heatmap, requirement_source_bars

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
    from .analysis.rates import real_vs_modified
    from .analysis.selection import group_by_source
    from .plots.analysis import dumbbell_figure, group_figure

    comparison = real_vs_modified(frame, n_boot=options.n_boot, seed=options.seed)
    groups = group_by_source(frame, n_boot=options.n_boot, seed=options.seed)
    return Section("real_vs_modified", SECTION_TITLES["real_vs_modified"],
                   figures={"dumbbell": dumbbell_figure(comparison), "groups": group_figure(groups)},
                   tables=[Table("real_vs_modified", "Real versus modified per model", comparison),
                           Table("model_groups", "Real versus modified by model group", groups)],
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
    from .analysis.curation import selection_check
    from .analysis.gee import compare, fit_gee
    from .analysis.mixed import fit_mixed
    from .plots.analysis import forest_figure

    sources = sorted(frame.loc[frame["violation"].notna(), "source"].unique())
    if len(sources) < 2:  # the model's source effect compares real with modified prompts
        only = f"only {sources[0]} prompts" if sources else "no judged prompts"
        return Section("mixed", SECTION_TITLES["mixed"], notes=[
            f"<b>Not estimable: {only}.</b> The mixed model estimates the effect of a prompt being real or "
            "modified, which needs judged prompts of both sources."])
    mixed = fit_mixed(frame)
    gee = fit_gee(frame)
    contrast, band, selection_notes = selection_check(frame, prompt_sd=float(mixed.variance_components["sd"].iloc[0]),
                                                      seed=options.seed)
    params = mixed.params.rename_axis("term").reset_index()
    gee_params = gee.params.rename_axis("term").reset_index()
    status = "converged" if mixed.converged else "<b>did not converge</b> (read with care)"
    cautions = [part.split("WARNING: ", 1)[1] for part in mixed.message.split("; ") if part.startswith("WARNING: ")]
    return Section("mixed", SECTION_TITLES["mixed"],
                   figures={"forest": forest_figure(mixed.params, reference=_references(mixed.references),
                                                     cross_check=gee.params)},
                   tables=[Table("mixed_model_params", "Mixed model: fixed effects (log-odds)", params),
                           Table("variance_components", "Mixed model: variance components",
                                 mixed.variance_components),
                           Table("gee_params", "GEE cross-check: fixed effects (log-odds)", gee_params),
                           *([Table("mixed_model_params_full_hessian", "Mixed model, small design: SEs from the "
                                    "full Hessian (incl. the prompt SD's uncertainty)",
                                    mixed.params_hessian.rename_axis("term").reset_index())]
                             if mixed.params_hessian is not None else []),
                           Table("selection_contrast", "Selection check: source x model-group terms", contrast),
                           *([Table("selection_band", "Selection check: gaps selection alone produces", band)]
                             if band is not None else [])],
                   notes=[
        *(f"<span class='eud-caution'>⚠ <b>Fit warning:</b> {html.escape(c)}. Intervals involving this "
          "variance are unreliable; the fixed effects still read as conditional on a prompt.</span>" for c in cautions),
        f"<b>Reading.</b> {html.escape(mixed.reading())}",
        f"<b>GEE cross-check.</b> {html.escape(compare(mixed, gee))}",
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
    from .analysis.covariation import coviolation
    from .plots.analysis import coviolation_figure

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
    from .analysis.rates import violation_rates
    from .plots.analysis import data_overview_figure

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
    notes.append(_protocol_note(records, frame))
    notes += [
        "How each number is computed: rates are micro-averages over judged checks; per-model "
        "intervals bootstrap prompts; per-requirement intervals are Wilson; the mixed model is a "
        "logistic model with a random intercept per prompt (Laplace approximation); the GEE "
        "cross-check is binomial with exchangeable correlation within prompts and robust "
        "standard errors. See docs/analysis.md."]
    return Section("methods", SECTION_TITLES["methods"],
                   figures={"overview": data_overview_figure(counts)}, tables=tables, notes=notes)


def _judge_compare(frame: pd.DataFrame, options: Options) -> Section:
    from .analysis.comparability import COMPARABILITY_ATTR
    from .analysis.judge_compare import compare_runs, find_pairs
    from .plots.analysis import empty_figure
    from .plots.judge_compare import judge_difference_figure

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
    for i, pair in enumerate(pairs):
        comparison = compare_runs(frame, pair.run_a, pair.run_b, n_boot=options.n_boot, seed=options.seed)
        name = "judge_difference" if i == 0 else f"judge_difference_{i}"
        figures[name] = judge_difference_figure(comparison, pair.label_a, pair.label_b)
        tables.append(Table(f"judge_compare_{pair.run_b}", f"A = {pair.run_a} ({pair.label_a}); "
                                                            f"B = {pair.run_b} ({pair.label_b})", comparison))
    notes.append("Same responses, two judgments: flips per requirement (both violation, only A, only B, neither), "
                 "agreement and Cohen's κ, and the paired difference B − A. 95% intervals: percentile bootstrap over "
                 f"prompts ({options.n_boot} replicates, seed {options.seed}), so checks sharing a response stay "
                 "together; <code>p_mcnemar</code> is McNemar's exact test (checks treated as independent), "
                 "<code>p_clustered</code> a Wald test with the bootstrap standard error. Checks without a verdict "
                 "in either run are left out (<code>n_unpaired</code>).")
    return Section("judge_compare", title, figures=figures, tables=tables, notes=notes)


def _validity(frame: pd.DataFrame, options: Options) -> Section:
    from .validity_section import validity_parts

    figures, tables, notes = validity_parts(frame, frame.attrs.get(STORE_ATTR), n_boot=options.n_boot, seed=options.seed)
    return Section("validity", SECTION_TITLES["validity"], figures=figures,
                   tables=[Table(*t) for t in tables], notes=notes)


SECTION_BUILDERS: dict[str, Callable[[pd.DataFrame, Options], Section]] = {
    "leaderboard": _leaderboard,
    "requirements": _requirements,
    "real_vs_modified": _real_vs_modified,
    "mixed": _mixed,
    "coviolation": _coviolation,
    "judge_compare": _judge_compare,
    "validity": _validity,
    "methods": _methods,
}


SOURCE_SECTIONS = frozenset({"real_vs_modified", "mixed"})
"""Sections that compare real with modified prompts: not estimable with one source."""


def one_source_cause(frame: pd.DataFrame) -> str | None:
    """``Not estimable: only real prompts in this selection`` when one source has verdicts."""
    present = sorted(set(frame.loc[frame["violation"].notna(), "source"].astype(str).unique()))
    if len(present) == 1:
        return (f"Not estimable: only {present[0]} prompts in this selection; comparing real with "
                "modified prompts needs both.")
    return None


def build_section(key: str, frame: pd.DataFrame, options: Options = Options()) -> Section:
    """Compute one section (``key`` from ``SECTION_TITLES``) for a judgments frame, under the
    options' errors convention, which its notes name; a comparison of sources on one source
    says so instead of failing."""
    cause = one_source_cause(frame) if key in SOURCE_SECTIONS else None
    if cause:
        from .plots.analysis import empty_figure

        return Section(key, SECTION_TITLES[key], notes=[html.escape(cause)], figures={
            name: empty_figure(SECTION_TITLES[key], cause.split(";")[0]) for name in FIGURE_NAMES[key]})
    section = SECTION_BUILDERS[key](apply_convention(frame, options.errors), options)
    section.notes.append(describe(options.errors))
    return _simulated_labels(section, is_simulated(frame))


def _section_or_reason(key: str, frame: pd.DataFrame, options: Options) -> Section:
    """The section, or, when this selection cannot be fitted (a singular model on a few prompts,
    say), a section that says so: one section never sinks the whole report."""
    import numpy as np

    try:
        return build_section(key, frame, options)
    except (ValueError, np.linalg.LinAlgError) as exc:
        from .plots.analysis import empty_figure

        cause = f"Not estimable for this selection ({exc}); a wider selection (more prompts or models) may be."
        return Section(key, SECTION_TITLES[key], notes=[html.escape(cause)], figures={
            name: empty_figure(SECTION_TITLES[key], "Not estimable for this selection") for name in FIGURE_NAMES[key]})


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


def protocol_records(runs: pd.DataFrame) -> list[dict[str, object]]:
    """What each run did, from ``store.list_runs``: a short protocol summary (settings that
    differ from the authors', the subset), the shareable settings, the endpoint's host (never
    its full URL, which may carry credentials or paths), package version, smoke-test flag and
    whether the run has finished."""
    from .run_protocols import host, protocol_summary, shareable_settings

    records = []
    for run in runs.to_dict("records"):
        try:
            settings = json.loads(run.get("parameters") or "{}")
        except json.JSONDecodeError:
            settings = {}
        records.append({
            "run_id": str(run["run_id"]),
            "protocol": protocol_summary(settings, smoke_test=bool(run.get("smoke_test"))),
            "settings": shareable_settings(settings),
            "endpoint": host(run.get("base_url")),
            "judge_endpoint": host(run.get("judge_base_url")),
            "package_version": str(run.get("package_version") or ""),
            "smoke_test": bool(run.get("smoke_test")),
            "finished": bool(pd.notna(run.get("ended_at"))),
            "dataset_official": bool(run.get("dataset_official", True)),
        })
    return records


def run_records(frame: pd.DataFrame) -> pd.DataFrame:
    """Runs in the data with their model, judge, check and error counts, and, for data from a
    store, the protocol from the run records (empty without ``run_id``)."""
    if "run_id" not in frame.columns:
        return pd.DataFrame()
    keys = [c for c in ("run_id", "model", "judge_model") if c in frame.columns]
    grouped = frame.groupby(keys, dropna=False)
    out = pd.DataFrame({"checks": grouped.size(),
                        "judge_errors": grouped["error"].apply(lambda e: int((e.fillna("") != "").sum()))}
                       ).reset_index()
    out["coverage"] = [f"{int(v):,} of {int(c):,} judged" for v, c in
                       zip(grouped["violation"].count().to_numpy(), out["checks"])]
    records = frame.attrs.get(RUNS_ATTR)
    if records:
        # The settings go in a folded line under the table, not in a cell of it.
        out = out.merge(pd.DataFrame(records).drop(columns=["settings"], errors="ignore"), on="run_id", how="left")
    return out


def plural(n: int, noun: str) -> str:
    """A count with its noun: "1 model", "22 models"."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def notices(frame: pd.DataFrame) -> list[str]:
    """Warnings every tab and the report must carry: simulated data, smoke-test runs."""
    found = [SIMULATED_NOTICE] if is_simulated(frame) else []
    if "smoke_test" in frame.columns and bool(frame["smoke_test"].fillna(False).astype(bool).any()):
        found.append(SMOKE_TEST_NOTICE)
    if any(not r.get("dataset_official", True) for r in frame.attrs.get(RUNS_ATTR) or ()):
        found.append(UNOFFICIAL_DATA_NOTICE)
    return found


def rubric_version_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Checks per requirement and rubric version (empty when versions are not recorded)."""
    if "rubric_version" not in frame.columns:
        return pd.DataFrame()
    return (frame.groupby(["requirement", "rubric_version"], dropna=False).size()
            .rename("checks").reset_index())


PUBLISHED_PROTOCOL = (
    "single-turn, the user prompt only, temperature 0.7, at most 2,048 output tokens, one sample "
    "per prompt; judge Claude Opus 4.6 at temperature 0, one call per (prompt, requirement) with "
    "that requirement's rubric; only the requirements labelled on a prompt are judged")
"""The paper's protocol, for data that carries no run records (the demo, a results file)."""


def _protocol_note(records: pd.DataFrame, frame: pd.DataFrame) -> str:
    if "protocol" in records.columns:
        lines = []
        for (protocol, judge), runs in records.groupby(["protocol", "judge_model"], dropna=False):
            lines.append(f"{html.escape(str(protocol))}, judge {html.escape(str(judge))} "
                         f"({runs['run_id'].nunique()} run{'s' if runs['run_id'].nunique() != 1 else ''})")
        unfinished = records.loc[~records["finished"].astype(bool), "run_id"].unique()
        text = "<b>Protocol, from the run records:</b> " + "; ".join(lines) + "."
        shown = set(records["run_id"].astype(str))  # runs left in the selection, not every run loaded
        settings = {str(r["run_id"]): str(r.get("settings", "")) for r in frame.attrs.get(RUNS_ATTR) or []
                    if str(r["run_id"]) in shown}
        if settings:
            text += ("<details><summary>Recorded settings per run (endpoints as host names; no paths or "
                     "key names)</summary><ul>" + "".join(
                         f"<li><code>{html.escape(run)}</code>: {html.escape(value)}</li>"
                         for run, value in settings.items()) + "</ul></details>")
        if len(unfinished):
            text += (f" Still running or interrupted: {html.escape(', '.join(map(str, unfinished)))} "
                     "(checks not judged yet are neither verdicts nor judge errors; <b>Load / refresh</b> picks up "
                     "new verdicts).")
        return text + " Unparseable judge answers count as errors here (the authors counted them as 'no violation')."
    origin = ("The demo simulates the published study" if is_simulated(frame)
              else "This data carries no run records (a results file); the published study used")
    return (f"<b>Protocol.</b> {origin}: {PUBLISHED_PROTOCOL}. Unparseable judge answers count as "
            "errors here (the authors counted them as 'no violation').")


def data_summary(frame: pd.DataFrame) -> str:
    """One HTML paragraph: what the data is and how much of it there is."""
    from .store import PENDING

    pending = int((frame["error"].fillna("") == PENDING).sum())
    errors = int((frame["error"].fillna("") != "").sum()) - pending
    judged = int(frame["violation"].notna().sum())
    kind = "Simulated" if is_simulated(frame) else "Judged"
    judges = ", ".join(sorted(map(str, frame["judge_model"].dropna().unique()))) if "judge_model" in frame.columns else ""
    judge_text = f" Judge: {html.escape(judges)}." if judges else ""
    return (f"<b>{kind} data.</b> {plural(frame['model'].nunique(), 'model')}, {frame['prompt_id'].nunique():,} "
            f"prompts, {len(frame):,} checks: {judged:,} with a verdict and {errors:,} judge errors "
            f"(excluded from rates){f', {pending:,} not judged yet' if pending else ''}.{judge_text}")


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


def _table_html(table: Table, simulated: bool = False) -> str:
    from .formatting import readable_table

    return (f"<h3>{html.escape(table.title)}</h3><div class='eud-tablebox'>"
            + readable_table(table.frame, simulated=simulated).to_html(index=False, classes="eud-table", border=0)
            + "</div>")


_CSS = """
body { font-family: Inter, Helvetica, Arial, sans-serif; max-width: 1200px; margin: 2em auto; color: #222; }
.eud-banner { background: #fff3cd; border: 1px solid #e0b000; padding: .6em 1em; border-radius: 4px; }
.eud-table { border-collapse: collapse; font-size: 12px; margin-bottom: 1em; }
.eud-table th, .eud-table td { padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: right; }
.eud-table th { background: #f3f3f3; }
.eud-tablebox { max-width: 100%; overflow-x: auto; }
.eud-text { white-space: pre-wrap; word-break: break-word; background: #f7f7f7; border: 1px solid #ddd; padding: .5em; }
.eud-caution { display: block; background: #fff3cd; border-left: 4px solid #e0b000; padding: .3em .6em; }
section { margin-bottom: 3em; }
@media print { .eud-tablebox { overflow: visible; } .eud-table { font-size: 9px; } }
"""


def render_report(sections: Sequence[Section], *, title: str, source: str,
                  warnings: Sequence[str] = (), simulated: bool = False, summary: str = "",
                  appendix: str = "") -> str:
    """One self-contained HTML page (plotly.js embedded once) for the given sections;
    ``warnings`` (see ``notices``) head the page and every section; ``summary`` (HTML) comes
    first and ``appendix`` (HTML) last; tables of ``simulated`` data say so in a column."""
    banner = "".join(f"<p class='eud-banner'>{html.escape(w)}</p>" for w in warnings)
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p>Data: {html.escape(source)}. Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC "
             f"by eudaimonia-nb.</p>"]
    parts.append(banner)
    parts.append(summary)
    parts.append("<nav><ul>" + "".join(f"<li><a href='#{s.key}'>{html.escape(s.title)}</a></li>"
                                        for s in sections) + "</ul></nav>")
    first = True
    for section in sections:
        parts.append(f"<section id='{section.key}'><h2>{html.escape(section.title)}</h2>")
        parts.append(banner)
        for fig in section.figures.values():
            parts.append(fig.to_html(full_html=False, include_plotlyjs=first,
                                     config={"displaylogo": False, "responsive": True}))
            first = False
        parts += [f"<p>{note}</p>" for note in section.notes]
        parts += [_table_html(t, simulated) for t in section.tables]
        parts.append("</section>")
    parts.append(appendix)
    parts.append("</body></html>")
    return "\n".join(parts)


def build_report(frame: pd.DataFrame, *, source: str, options: Options = Options(),
                 keys: Sequence[str] = tuple(SECTION_TITLES), computed: Mapping[str, Section] | None = None,
                 sample_responses: int = 0, prompts: Mapping[str, str] | None = None) -> str:
    """Compute every section for ``frame`` and render them as one HTML page.

    ``computed`` holds sections already built for this same frame and options (the dashboard's
    open tabs), which are reused rather than computed again. With no verdict at all (every
    check a judge error, or not judged yet) only the sections that describe the data are
    built, under a notice saying so: a run that failed entirely still gets a report that shows why.
    ``sample_responses`` items per model (0: none, the default; responses may be sensitive) are
    appended, with prompt texts from ``prompts`` (id -> text) when given.
    """
    from .appendix import sample_html, summary_html

    computed = computed or {}
    warnings = notices(frame)
    if not has_verdicts(frame):
        keys = [key for key in keys if key in VERDICT_FREE_SECTIONS]
        warnings = [*warnings, NO_VERDICTS_NOTICE]
    sections = [computed.get(key) or _section_or_reason(key, frame, options) for key in keys]
    protocol = _protocol_note(run_records(frame), frame).split("</b>", 1)[-1].split("<details>")[0].strip()
    return render_report(sections, title="EUDAIMONIA analysis report", source=source, warnings=warnings,
                         simulated=is_simulated(frame), summary=summary_html(frame, {s.key: s for s in sections},
                                                                             protocol=protocol),
                         appendix=sample_html(frame, prompts, per_model=sample_responses, seed=options.seed))


VERDICT_FREE_SECTIONS = ("methods",)
"""Sections that make sense without a single verdict (they count checks and errors)."""
NO_VERDICTS_NOTICE = ("No check in this selection has a verdict (all are judge errors or not judged yet): "
                      "rates and models need verdicts, so only Data & methods is shown.")


def has_verdicts(frame: pd.DataFrame) -> bool:
    return bool(frame["violation"].notna().any())


def write_report(text: str, out: Path) -> Path:
    """Write atomically: a reader never sees a half-written report."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is meant to be shared
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def principle_options() -> list[tuple[str, int]]:
    """(label, number) pairs of the design code's principles, for a selector."""
    return [(label, number) for number, label in PRINCIPLE_LABELS.items()]
