"""Plotly figures for the analysis dashboard and the static report.

Every builder takes a DataFrame produced by ``eudaimonia_nb.analysis`` and returns a plain
``go.Figure``. The dashboard shows them through ``FigureWidget``s that it keeps for its whole
life: ``sync_figure`` copies a freshly built figure into an existing widget in place, so a
control change sends a small update to the browser instead of re-creating the widget. The
static report renders the same figures to HTML, so the two never drift apart.
"""

from __future__ import annotations

from copy import deepcopy

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..benchmark.dataset import SOURCES
from ..benchmark.design_code import REQUIREMENT_KEYS
from ..formatting import fmt_p, plural, term_label
from . import REQUIREMENT_LABELS, SOURCE_COLORS, SOURCE_LABELS, TEMPLATE

FEW_CHECKS = 30
"""Below this many checks a heatmap cell is marked as uncertain."""
ERROR_COLOR = "#4d4d4d"
"""Judge errors: dark grey with a hatch, never a red that reads as the orange of modified bars
under deuteranopia."""
PUBLISHED_COLOR = "#7f7f7f"
"""Published figures (paper / leaderboard) are grey so own results stand out."""
OWN_COLOR = "#2a3f5f"
"""Rates computed from the loaded data."""
NOT_COMPARABLE_COLOR = "#d9730d"
"""Own rates that cannot be read against the published leaderboard (open markers)."""
_FONT = dict(family="Inter, Helvetica, Arial, sans-serif", size=13)


def _pct(values: pd.Series | np.ndarray | float) -> np.ndarray:
    return np.asarray(values, dtype=float) * 100.0


def _req_label(key: str) -> str:
    return REQUIREMENT_LABELS.get(key, key)


def _base_layout(title: str, height: int, **extra: object) -> dict:
    layout = dict(
        title=dict(text=title, x=0.01, xanchor="left"),
        template=TEMPLATE,
        # Explicit: plotly.js only re-fits a figure to its container on resize when autosize
        # is set, and a figure drawn before its tab is laid out starts at the default width.
        autosize=True,
        height=height,
        margin=dict(l=10, r=20, t=60, b=50),
        font=_FONT,
        hoverlabel=dict(font_size=12),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
    )
    layout.update(extra)
    return layout


def _errors(center: np.ndarray, low: np.ndarray, high: np.ndarray) -> dict:
    return dict(type="data", symmetric=False, array=high - center, arrayminus=center - low,
                thickness=1.5, width=3)


def empty_figure(title: str, message: str, height: int = 320) -> go.Figure:
    """A figure that says why it is empty (e.g. a filter left no data) instead of a blank."""
    fig = go.Figure(layout=_base_layout(title, height))
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font=dict(size=15, color="#666"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def gap_label(diff: float, low: float, high: float, p_holm: float) -> str:
    """``Δ +8.1 pts [+3.1, +12.4], Holm p = 0.004``, from fractions; bold when Holm p < 0.05."""
    if not np.isfinite(diff):
        return "Δ not estimable"
    text = (f"Δ {diff * 100:+.1f} pts [{low * 100:+.1f}, {high * 100:+.1f}], "
            f"Holm p {'< 0.001' if p_holm < 0.001 else '= ' + fmt_p(p_holm)}" if np.isfinite(p_holm)
            else f"Δ {diff * 100:+.1f} pts")
    return f"<b>{text}</b>" if np.isfinite(p_holm) and p_holm < 0.05 else text


def _rows_height(n_rows: int, per_row: int = 26, minimum: int = 320) -> int:
    return max(minimum, 120 + per_row * n_rows)


def leaderboard_figure(rates: pd.DataFrame, published: pd.DataFrame | None = None) -> go.Figure:
    """Overall violation rate per model with its interval, beside the published leaderboard.

    ``rates``: ``analysis.rates.model_rates`` output (``model``, ``rate``, ``ci_low``,
    ``ci_high``, ``n_checks``, ``n_prompts``, ``n_errors``). ``published``:
    ``analysis.published.leaderboard()`` (``model``, ``overall`` as a fraction), or None. An
    optional ``row`` column places a published figure on a row: the loaded model it was
    matched to, or a row of its own for a published model that is not in the data (context for
    your own runs). Without ``row``, published figures are shown for the loaded models only.
    """
    title = "Overall violation rate per model (lower is better)"
    if rates.empty:
        return empty_figure(title, "No judged checks match the current filters")
    data = rates.sort_values("rate", ascending=False)
    own = data["model"].astype(str).tolist()
    shown = pd.DataFrame(columns=["model", "overall", "row"])
    if published is not None and not published.empty:
        shown = published.assign(row=published["row"] if "row" in published.columns else published["model"])
        shown = shown[shown["row"].notna()]
        if "row" not in published.columns:
            shown = shown[shown["row"].isin(own)]
    # One category per row, ordered by the row's rate (own rate, else the published one).
    order = pd.concat([data.set_index("model")["rate"],
                       shown[~shown["row"].isin(own)].set_index("row")["overall"]])
    rows = order[~order.index.duplicated()].sort_values(ascending=False).index.astype(str).tolist()
    fig = go.Figure(layout=_base_layout(title, _rows_height(len(rows))))
    # With comparability known (``analysis.comparability.annotate_rates``), runs that cannot be
    # read against the leaderboard get open orange markers and their reasons in the hover.
    marked = ~data["comparable"].astype(bool) if "comparable" in data.columns else pd.Series(False, index=data.index)
    # The hover says why a run is not comparable, then what is noted beside it (route, same-family judge).
    said = [data[c].fillna("").astype(str) for c in ("not_comparable_because", "comparability_notes", "same_family_judge")
            if c in data.columns]
    reasons = (pd.concat(said, axis=1).apply(lambda row: "<br>".join(v for v in row if v), axis=1) if said
               else pd.Series("", index=data.index))
    for part, name, marker in (
            (data[~marked], "This data (95% CI, bootstrap over prompts)", dict(color=OWN_COLOR, size=9)),
            (data[marked], "This data, not comparable with the leaderboard (see note)",
             dict(color=NOT_COMPARABLE_COLOR, size=10, symbol="circle-open", line=dict(width=2)))):
        if part.empty:
            continue
        rate, low, high = _pct(part["rate"]), _pct(part["ci_low"]), _pct(part["ci_high"])
        custom = np.column_stack([low, high, part["n_checks"], part["n_prompts"], part["n_errors"],
                                  reasons[part.index].astype(str)])
        fig.add_trace(go.Scatter(
            x=rate, y=part["model"].astype(str), mode="markers", name=name, marker=marker,
            error_x=_errors(rate, low, high), customdata=custom,
            hovertemplate=("<b>%{y}</b><br>violation rate %{x:.1f}%<br>95% CI %{customdata[0]:.1f}"
                           "–%{customdata[1]:.1f}%<br>%{customdata[2]:,} checks on %{customdata[3]:,}"
                           " prompts<br>%{customdata[4]:,} judge errors excluded<br>%{customdata[5]}<extra></extra>")))
    if not shown.empty:
        scope = shown["scope"] if "scope" in shown.columns else pd.Series("overall", index=shown.index)
        fig.add_trace(go.Scatter(
            x=_pct(shown["overall"]), y=shown["row"].astype(str), mode="markers",
            name="Published leaderboard", marker=dict(color=PUBLISHED_COLOR, symbol="diamond-open",
                                                      size=11, line=dict(width=2)),
            customdata=np.column_stack([shown["model"].astype(str), scope.astype(str)]),
            hovertemplate="<b>%{y}</b><br>published %{customdata[1]} rate %{x:.1f}% (as %{customdata[0]})<extra></extra>"))
    fig.update_xaxes(title_text="Violation rate (% of judged checks)", ticksuffix="%",
                     rangemode="tozero")
    fig.update_yaxes(title_text=None, categoryorder="array", categoryarray=rows, automargin=True)
    return fig


def requirement_heatmap(rates: pd.DataFrame) -> go.Figure:
    """Model x requirement violation rates (``violation_rates(frame, ["model", "requirement"])``)."""
    title = "Violation rate by model and requirement"
    if rates.empty:
        return empty_figure(title, "No judged checks match the current filters")
    order = rates.groupby("model")["rate"].mean().sort_values(ascending=False).index.tolist()
    keys = [k for k in REQUIREMENT_KEYS if k in set(rates["requirement"])]
    table = rates.pivot(index="model", columns="requirement", values="rate").reindex(index=order, columns=keys)
    counts = rates.pivot(index="model", columns="requirement", values="n_checks").reindex(index=order, columns=keys)
    low = rates.pivot(index="model", columns="requirement", values="ci_low").reindex(index=order, columns=keys)
    high = rates.pivot(index="model", columns="requirement", values="ci_high").reindex(index=order, columns=keys)
    custom = np.dstack([counts.to_numpy(float), _pct(low), _pct(high)])
    z = _pct(table)
    few = counts.to_numpy(float) < FEW_CHECKS
    text = np.where(np.isnan(z), "", np.vectorize(lambda v: f"{v:.0f}")(np.nan_to_num(z)))
    # A cell resting on few checks is marked (and its count is in the hover): its rate is uncertain.
    text = np.where(few & ~np.isnan(z), np.char.add(text.astype(str), "*"), text)
    fig = go.Figure(go.Heatmap(
        z=z, x=[_req_label(k) for k in keys], y=order, zmin=0, zmax=100, colorscale="Reds",
        text=text, texttemplate="%{text}", textfont=dict(size=11), customdata=custom,
        colorbar=dict(title=dict(text="Violation rate (%)", side="right"), ticksuffix="%", thickness=14),
        hovertemplate=("<b>%{y}</b><br>%{x}<br>violation rate %{z:.1f}%<br>95% Wilson CI "
                       "%{customdata[1]:.1f}–%{customdata[2]:.1f}%<br>%{customdata[0]:,} checks"
                       "<extra></extra>")),
        layout=_base_layout(title, _rows_height(len(order), 24, 360)))
    if few.any():
        fig.add_annotation(text=f"* fewer than {FEW_CHECKS} checks: an uncertain rate (hover for the count). "
                           "Click a cell to read its responses.", showarrow=False, xref="paper", yref="paper",
                           x=0, y=1.0, xanchor="left", yanchor="bottom", font=dict(size=11, color="#555"))
    fig.update_xaxes(tickangle=-30, automargin=True, side="bottom")
    fig.update_yaxes(automargin=True, autorange="reversed")
    return fig


def requirement_source_bars(rates: pd.DataFrame, published: pd.DataFrame | None = None) -> go.Figure:
    """Per-requirement real versus modified rates with intervals, as in the paper's bar chart.

    ``rates``: ``violation_rates(frame, ["requirement", "source"])``. ``published``:
    ``analysis.published.requirement_averages()`` (``requirement``, ``real``, ``modified`` as
    fractions; the paper's approximate averages), or None.
    """
    title = "Real versus modified prompts, per requirement (pooled over the selected models)"
    if rates.empty:
        return empty_figure(title, "No judged checks match the current filters")
    keys = [k for k in REQUIREMENT_KEYS if k in set(rates["requirement"])]
    labels = [_req_label(k) for k in keys]
    # scattermode="group" puts the paper's markers over their own bar of each pair.
    fig = go.Figure(layout=_base_layout(title, 460, barmode="group", scattermode="group"))
    for source in SOURCES:
        part = rates[rates["source"] == source].set_index("requirement").reindex(keys)
        rate, low, high = _pct(part["rate"]), _pct(part["ci_low"]), _pct(part["ci_high"])
        fig.add_trace(go.Bar(
            x=labels, y=rate, name=SOURCE_LABELS[source], marker_color=SOURCE_COLORS[source],
            error_y=_errors(rate, low, high), offsetgroup=source,
            customdata=np.column_stack([low, high, part["n_checks"].to_numpy(float)]),
            hovertemplate=(f"<b>%{{x}}</b><br>{SOURCE_LABELS[source]}: %{{y:.1f}}%<br>95% CI "
                           "%{customdata[0]:.1f}–%{customdata[1]:.1f}%<br>%{customdata[2]:,.0f} checks"
                           "<extra></extra>")))
    if published is not None and not published.empty:
        part = published.set_index("requirement").reindex(keys)
        for source in SOURCES:
            # Grey open diamonds, as on the leaderboard: published figures, not this data. A
            # tick shape here would be mistaken for the end of an error bar.
            fig.add_trace(go.Scatter(
                x=labels, y=_pct(part[source]), mode="markers", offsetgroup=source,
                name="Paper's average over its 22 models (approx.)", legendgroup="paper", showlegend=source == "real",
                marker=dict(symbol="diamond-open", size=11, color=PUBLISHED_COLOR, line=dict(width=2)),
                hovertemplate=(f"<b>%{{x}}</b><br>paper, {SOURCE_LABELS[source].lower()}: %{{y:.1f}}%"
                               " (read off its chart)<extra></extra>")))
    fig.update_yaxes(title_text="Violation rate (%)", ticksuffix="%", rangemode="tozero")
    fig.update_xaxes(tickangle=-30, automargin=True)
    return fig


def dumbbell_figure(comparison: pd.DataFrame) -> go.Figure:
    """Per-model real and modified rates joined by a line (``analysis.rates.real_vs_modified``)."""
    title = "Real versus modified prompts, per model (95% bootstrap CIs; Holm-adjusted p)"
    if comparison.empty:
        return empty_figure(title, "No model has both real and modified checks under the current filters")
    data = comparison.sort_values("rate_modified", ascending=False)
    models = data["model"].astype(str).tolist()
    # Grouped: real and modified sit just above and below each other, so both error bars show.
    fig = go.Figure(layout=_base_layout(title, _rows_height(len(models), 30), scattermode="group", scattergap=0.5))
    line_x: list[float | None] = []
    line_y: list[str | None] = []
    for model, real, modified in zip(models, _pct(data["rate_real"]), _pct(data["rate_modified"])):
        line_x += [real, modified, None]
        line_y += [model, model, None]
    fig.add_trace(go.Scatter(x=line_x, y=line_y, mode="lines", line=dict(color="#bbbbbb", width=3),
                             hoverinfo="skip", showlegend=False))
    stats = np.column_stack([_pct(data["diff"]), _pct(data["diff_ci_low"]), _pct(data["diff_ci_high"]),
                             data["p_value"].to_numpy(float), data["p_holm"].to_numpy(float)])
    for source in SOURCES:
        rate = _pct(data[f"rate_{source}"])
        low, high = _pct(data[f"{source}_ci_low"]), _pct(data[f"{source}_ci_high"])
        fig.add_trace(go.Scatter(
            x=rate, y=models, mode="markers", name=SOURCE_LABELS[source], orientation="h", offsetgroup=source,
            marker=dict(color=SOURCE_COLORS[source], size=9, symbol="circle" if source == "real" else "diamond"),
            error_x=dict(_errors(rate, low, high), color=SOURCE_COLORS[source]),
            customdata=np.column_stack([low, high, stats]),
            hovertemplate=(f"<b>%{{y}}</b><br>{SOURCE_LABELS[source]}: %{{x:.1f}}% "
                           "(95% CI %{customdata[0]:.1f}–%{customdata[1]:.1f}%)<br>modified − real "
                           "%{customdata[2]:+.1f} points (%{customdata[3]:+.1f} to %{customdata[4]:+.1f})"
                           "<br>p = %{customdata[5]:.3g}, Holm-adjusted p = %{customdata[6]:.3g}"
                           "<extra></extra>")))
    # The gap and its adjusted p beside each row, so they can be read without hovering.
    fig.update_layout(margin=dict(l=10, r=250, t=60, b=50), annotations=[
        dict(text=adjusted_gap_label(row), x=1.01, xref="paper", xanchor="left", y=model, yref="y",
             showarrow=False, font=dict(size=11, color="#333"), align="left")
        for model, (_, row) in zip(models, data.iterrows())])
    fig.update_xaxes(title_text="Violation rate (%)  ·  right: modified − real adjusted for the requirement mix, "
                     "95% CI, Holm-adjusted p (bold: < 0.05); raw Δ after it", ticksuffix="%")
    fig.update_yaxes(categoryorder="array", categoryarray=models, automargin=True)
    return fig


def group_figure(groups: pd.DataFrame) -> go.Figure:
    """Real versus modified rates by model group (``analysis.selection.group_by_source``:
    one row per ``model_group`` with the ``real_vs_modified`` columns and ``n_models``)."""
    title = "By model group: targets of the curation, rewriters, other models"
    if groups.empty:
        return empty_figure(title, "No data for the model groups under the current filters")
    labels = [f"{g} ({plural(n, 'model')})" for g, n in zip(groups["model_group"], groups["n_models"])]
    stats = np.column_stack([_pct(groups["diff"]), _pct(groups["diff_ci_low"]), _pct(groups["diff_ci_high"]),
                             groups["p_holm"].to_numpy(float)])
    fig = go.Figure(layout=_base_layout(title, 400, barmode="group"))
    for source in SOURCES:
        rate = _pct(groups[f"rate_{source}"])
        low, high = _pct(groups[f"{source}_ci_low"]), _pct(groups[f"{source}_ci_high"])
        fig.add_trace(go.Bar(
            x=labels, y=rate, name=SOURCE_LABELS[source], marker_color=SOURCE_COLORS[source],
            error_y=_errors(rate, low, high), customdata=np.column_stack([low, high, stats]),
            hovertemplate=(f"<b>%{{x}}</b><br>{SOURCE_LABELS[source]}: %{{y:.1f}}% (95% CI "
                           "%{customdata[0]:.1f}–%{customdata[1]:.1f}%)<br>modified − real "
                           "%{customdata[2]:+.1f} points (%{customdata[3]:+.1f} to %{customdata[4]:+.1f}), "
                           "Holm p = %{customdata[5]:.3g}<extra></extra>")))
    top = np.nanmax(_pct(groups[["real_ci_high", "modified_ci_high"]].to_numpy(float)), axis=1)
    fig.update_layout(annotations=[
        dict(text=adjusted_gap_label(row), x=label, y=t + 2, yref="y", yanchor="bottom",
             showarrow=False, font=dict(size=12, color="#333"))
        for label, t, (_, row) in zip(labels, top, groups.iterrows())])
    fig.update_yaxes(title_text="Violation rate (%)", ticksuffix="%", range=[0, np.nanmax(top) * 1.15 + 6])
    fig.update_xaxes(title_text="Model group (above the bars: modified − real adjusted for the requirement mix, "
                     "95% CI, Holm-adjusted p; raw Δ after it)")
    return fig


def forest_figure(params: pd.DataFrame, *, reference: str = "",
                  cross_check: pd.DataFrame | None = None) -> go.Figure:
    """Odds ratios with 95% intervals on a log axis (``MixedResult.params``).

    ``params`` is indexed by patsy term names with ``estimate``, ``ci_low``, ``ci_high``,
    ``std_error`` in log-odds; the intercept is left out (it is a baseline, not an effect).
    ``cross_check`` (``GEEResult.params``, same layout) adds the GEE estimates beside each term.
    """
    title = "Mixed-effects logistic model: odds ratios (95% CI)"
    if cross_check is not None:
        title += ", with the GEE cross-check"
    if reference:
        title += f"<br><sup>Reference levels: {reference}</sup>"
    terms = [t for t in params.index if t != "Intercept"]
    if not terms:
        return empty_figure(title, "The fit has no effects to show")
    # The source effect goes on top, then requirements, then models.
    rank = {t: (0 if t.startswith("source") else 1 if t.startswith("requirement") else 2, i)
            for i, t in enumerate(terms)}
    terms = sorted(terms, key=rank.__getitem__)
    labels = [term_label(t) for t in terms]
    per_row = 30 if cross_check is not None else 22
    # Grouped scatter (horizontal) puts the two estimates of a term side by side in its row.
    fig = go.Figure(layout=_base_layout(title, _rows_height(len(labels), per_row),
                                        margin=dict(l=10, r=20, t=90, b=50), scattermode="group",
                                        scattergap=0.4))
    fig.add_vline(x=1.0, line=dict(color="#999", dash="dash", width=1))
    fits = [("Mixed model (conditional)", params, None)]
    if cross_check is not None:
        fits.append(("GEE (population-averaged)", cross_check, PUBLISHED_COLOR))
    for name, table, color in fits:
        data = table.reindex(terms)
        odds, low, high = (np.exp(data[c].to_numpy(float)) for c in ("estimate", "ci_low", "ci_high"))
        colors = color or OWN_COLOR  # one colour per fit, so the legend shows the markers as drawn
        fig.add_trace(go.Scatter(
            x=odds, y=labels, mode="markers", orientation="h", name=name, offsetgroup=name,
            marker=dict(color=colors, size=9 if color is None else 8,
                        symbol="square" if color is None else "circle-open", line=dict(width=2)),
            error_x=dict(_errors(odds, low, high), color=color or "#444"), showlegend=cross_check is not None,
            customdata=np.column_stack([low, high, data["estimate"].to_numpy(float),
                                        data["std_error"].to_numpy(float)]),
            hovertemplate=(f"<b>%{{y}}</b><br>{name}<br>odds ratio %{{x:.2f}} (95% CI %{{customdata[0]:.2f}}–"
                           "%{customdata[1]:.2f})<br>log-odds %{customdata[2]:+.3f} ± SE "
                           "%{customdata[3]:.3f}<extra></extra>")))
    ticks = [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20]
    fig.update_xaxes(type="log", title_text="Odds ratio of a violation (log scale)", tickvals=ticks,
                     ticktext=[f"{t:g}" for t in ticks])
    fig.update_yaxes(categoryorder="array", categoryarray=labels[::-1], automargin=True)
    return fig


def coviolation_figure(correlation: pd.DataFrame, counts: pd.DataFrame | None = None) -> go.Figure:
    """Correlation of violations between requirements on the same prompt and model (9 x 9)."""
    title = "Co-violation: correlation between requirements (same prompt, same model)"
    if correlation.empty or correlation.isna().all().all():
        return empty_figure(title, "No prompt carries two of the selected requirements")
    present = correlation.notna().any(axis=1)
    keys = [k for k in REQUIREMENT_KEYS if k in correlation.index and present[k]]
    corr = correlation.reindex(index=keys, columns=keys).to_numpy(float, copy=True)
    # The diagonal is 1 by definition; blanking it lets the colour scale show the pairs.
    np.fill_diagonal(corr, np.nan)
    n = (counts.reindex(index=keys, columns=keys).to_numpy(float) if counts is not None
         else np.full_like(corr, np.nan))
    labels = [_req_label(k) for k in keys]
    text = np.where(np.isnan(corr), "", np.vectorize(lambda v: f"{v:.2f}")(np.nan_to_num(corr)))
    fig = go.Figure(go.Heatmap(
        z=corr, x=labels, y=labels, zmin=-1, zmax=1, colorscale="RdBu_r", zmid=0,
        text=text, texttemplate="%{text}", textfont=dict(size=11), customdata=n,
        colorbar=dict(title=dict(text="Correlation")),
        hovertemplate=("<b>%{y}</b> × <b>%{x}</b><br>correlation %{z:.2f}<br>"
                       "%{customdata:,.0f} (prompt, model) pairs judged on both<extra></extra>")),
        layout=_base_layout(title, 560))
    fig.update_xaxes(tickangle=-35, automargin=True)
    fig.update_yaxes(automargin=True, autorange="reversed")
    return fig


def data_overview_figure(counts: pd.DataFrame) -> go.Figure:
    """Checks per requirement and source, and judge errors (``violation_rates`` counts)."""
    title = "Judged checks per requirement (judge errors are excluded from rates)"
    if counts.empty:
        return empty_figure(title, "No checks match the current filters")
    keys = [k for k in REQUIREMENT_KEYS if k in set(counts["requirement"])]
    labels = [_req_label(k) for k in keys]
    fig = go.Figure(layout=_base_layout(title, 420, barmode="stack"))
    for source in SOURCES:
        part = counts[counts["source"] == source].set_index("requirement").reindex(keys)
        fig.add_trace(go.Bar(
            x=labels, y=part["n_checks"], name=f"{SOURCE_LABELS[source]}: judged",
            marker_color=SOURCE_COLORS[source],
            hovertemplate=f"<b>%{{x}}</b><br>{source}: %{{y:,}} judged checks<extra></extra>"))
    errors = counts.groupby("requirement")["n_errors"].sum().reindex(keys).fillna(0)
    fig.add_trace(go.Bar(
        x=labels, y=errors, name="Judge errors (no verdict)",
        marker=dict(color=ERROR_COLOR, pattern=dict(shape="/", fgcolor="#ffffff")),
        hovertemplate="<b>%{x}</b><br>%{y:,} checks without a verdict<extra></extra>"))
    fig.update_yaxes(title_text="Checks (model × prompt)")
    fig.update_xaxes(tickangle=-30, automargin=True)
    return fig


NARROW = 600
"""Below this width (a phone) legends go under the plot and long titles wrap."""


def fit_to_width(fig: go.Figure | go.FigureWidget, width: int | None) -> None:
    """Give a figure the page's width; on a narrow page, move the legend under the plot and
    wrap the title, so title and legend never overlap."""
    if not width:
        return
    title = (fig.layout.title.text or "").replace("<br>", " ")
    if width >= NARROW:
        fig.update_layout(width=width, title_text=title, title_font_size=None,
                          legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0))
        for annotation in fig.layout.annotations:
            if annotation.visible is False:
                annotation.visible = True
        return
    per_line = max(20, width // 8)
    lines, line = [], ""
    for word in title.split(" "):
        if line and len(line) + len(word) + 1 > per_line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    fig.update_layout(width=width, title_text="<br>".join(lines), title_font_size=13,
                      margin_t=30 + 18 * len(lines),
                      legend=dict(orientation="h", yanchor="top", y=-0.18, xanchor="left", x=0.0))
    fig.update_xaxes(title_font_size=11)
    # The gap labels beside or above the rows do not fit a phone: the hover and the table below
    # carry them, so the plot gets the width and the axis title stops promising them.
    gaps = [a for a in fig.layout.annotations if (a.text or "").lstrip("<b>").startswith("Δ")]
    if gaps:
        for annotation in gaps:
            annotation.visible = False
        title = fig.layout.xaxis.title.text or ""
        fig.update_layout(margin_r=20)
        fig.update_xaxes(title_text=title.split("  ·")[0].split(" (above")[0])


def sync_figure(target: go.FigureWidget, source: go.Figure) -> go.FigureWidget:
    """Make ``target`` show ``source`` in place (same widget, small update to the browser).

    Traces are updated one by one when their number and types are unchanged (the usual case
    for a filter change); otherwise they are replaced. Stale properties cannot linger because
    each builder always sets the same properties on the same traces.
    """
    new_types = [t.type for t in source.data]
    with target.batch_update():
        if [t.type for t in target.data] == new_types:
            for old, new in zip(target.data, source.data):
                props = new.to_plotly_json()
                props.pop("type", None)
                props.pop("uid", None)
                old.update(props, overwrite=True)
        else:
            target.data = ()
            target.add_traces(list(source.data))
        layout = source.layout.to_plotly_json()
        # Shapes and annotations are lists: replace, do not merge, so an empty-data message
        # disappears when data comes back.
        layout.setdefault("annotations", [])
        layout.setdefault("shapes", [])
        target.layout.update(layout, overwrite=True)
    refresh_synced_state(target)
    return target


def refresh_synced_state(widget: go.FigureWidget) -> None:
    """Copy a FigureWidget's current figure into the state a newly connecting view reads.

    Plotly refreshes that state (``_widget_data`` / ``_widget_layout``) only when the widget
    itself is displayed, not when it sits inside a container; a front end that connects later
    (Voila renders after the notebook has run, or a page reload) would show the first figure.
    This is the only place that touches those private attributes (plotly 6-7), and
    ``tests/test_dashboard_widgets.py`` fails if they go away.
    """
    widget._widget_layout = deepcopy(widget._layout_obj._props)
    widget._widget_data = deepcopy(widget._data)


def adjusted_gap_label(row: pd.Series) -> str:
    """``gap_label`` of the requirement-adjusted gap (``diff_adj``...) with the raw gap after it;
    the raw gap alone for tables without the adjusted columns."""
    if "diff_adj" not in row.index:
        return gap_label(row["diff"], row["diff_ci_low"], row["diff_ci_high"], row["p_holm"])
    raw = f" · raw {row['diff'] * 100:+.1f}" if np.isfinite(row["diff"]) else ""
    return (gap_label(row["diff_adj"], row["diff_adj_ci_low"], row["diff_adj_ci_high"], row["p_holm_adj"])
            + raw)
