"""Figures for studies: condition effects, power curves and the paper's attribute analyses.

Builders take the frames of ``analysis.conditions``, ``analysis.power`` and
``analysis.attributes`` and return ``go.Figure``s. A figure whose numbers are not published (the
thinking-budget rates) says so in the figure instead of showing an empty axis.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..analysis.attributes import BUDGET_ORDER, budget_rank
from .analysis import OWN_COLOR, PUBLISHED_COLOR, _base_layout, _errors, _pct, _rows_height, empty_figure

_PALETTE = ("#1b6ca8", "#e07b24", "#2ca02c", "#9467bd", "#8c564b", "#d62728", "#17becf")
NOT_PUBLISHED = "not published"
_SIDE_LEGEND = dict(orientation="v", yanchor="top", y=1.0, xanchor="left", x=1.02)
"""Many family lines: a legend beside the plot instead of over the title."""


def effects_figure(effects: pd.DataFrame, title: str = "Condition effects (b − a), 95% prompt-bootstrap interval") -> go.Figure:
    """Forest plot of ``paired_effects`` rows: the difference in points with its interval,
    one row per model (and requirement) and pair of conditions; Holm p in the hover."""
    if effects.empty:
        return empty_figure(title, "No model has checks judged under two conditions.")
    label_parts = [effects["model"].astype(str)]
    if "requirement" in effects.columns:
        label_parts.append(effects["requirement"].astype(str))
    label_parts.append(effects["condition_b"].astype(str) + " vs " + effects["condition_a"].astype(str))
    labels = label_parts[0].str.cat(label_parts[1:], sep=" · ")
    diff, low, high = (_pct(effects[c]) for c in ("diff", "ci_low", "ci_high"))
    significant = effects["p_holm"].to_numpy(dtype=float) < 0.05
    fig = go.Figure(go.Scatter(
        x=diff, y=labels, mode="markers", error_x=_errors(diff, low, high),
        marker=dict(size=9, color=np.where(significant, OWN_COLOR, PUBLISHED_COLOR)),
        customdata=np.column_stack([_pct(effects["rate_a"]), _pct(effects["rate_b"]), effects["p_holm"], effects["n_checks"]]),
        hovertemplate="%{y}<br>diff %{x:.1f} points<br>a %{customdata[0]:.1f}% → b %{customdata[1]:.1f}%"
                      "<br>Holm p %{customdata[2]:.2g}; %{customdata[3]} paired checks<extra></extra>",
        name="diff"))
    fig.add_vline(x=0, line=dict(color="#999", dash="dot"))
    fig.update_layout(**_base_layout(title, _rows_height(len(effects)), showlegend=False))
    fig.update_xaxes(title_text="difference in violation rate (points; dark: Holm p < 0.05)")
    fig.update_yaxes(autorange="reversed", automargin=True)  # long row names were cut on a phone
    return fig


def condition_rates_figure(rates: pd.DataFrame, title: str = "Violation rate per model and condition") -> go.Figure:
    """Grouped bars of ``conditions.condition_rates``."""
    if rates.empty:
        return empty_figure(title, "No judged checks with a condition.")
    fig = go.Figure()
    for i, (condition, part) in enumerate(rates.groupby("condition", sort=True)):
        fig.add_bar(x=part["model"], y=_pct(part["rate"]), name=str(condition), marker_color=_PALETTE[i % len(_PALETTE)],
                    customdata=part[["n_checks", "n_errors"]].to_numpy(),
                    hovertemplate="%{x}: %{y:.1f}% (%{customdata[0]} judged, %{customdata[1]} errors)<extra>"
                                  f"{condition}</extra>")
    fig.update_layout(**_base_layout(title, 360, barmode="group"))
    fig.update_xaxes(automargin=True)  # model names tilted on a phone were cut
    fig.update_yaxes(title_text="violation rate (%)", rangemode="tozero")
    return fig


def power_curve_figure(curve: pd.DataFrame, *, target: float = 0.8, mde: float | None = None,
                       title: str = "Power of the planned study") -> go.Figure:
    """Power against effect size with the 95% Monte Carlo band, the target and the MDE."""
    scale = curve.attrs.get("effect_scale", "rate")
    x = curve["effect"].to_numpy(dtype=float) * (100 if scale == "rate" else 1)
    fig = go.Figure([
        go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([curve["ci_high"], curve["ci_low"][::-1]]),
                   fill="toself", line=dict(width=0), fillcolor="rgba(42,63,95,0.15)", hoverinfo="skip",
                   name="95% Monte Carlo band"),
        go.Scatter(x=x, y=curve["power"], mode="lines+markers", line=dict(color=OWN_COLOR), name="power",
                   hovertemplate="effect %{x:.3g}: power %{y:.2f}<extra></extra>"),
    ])
    fig.add_hline(y=target, line=dict(color="#d62728", dash="dot"), annotation_text=f"target {target:.0%}")
    if mde is not None:
        fig.add_vline(x=mde * (100 if scale == "rate" else 1), line=dict(color="#d62728", dash="dash"),
                      annotation_text=f"MDE {mde * 100:.1f} points" if scale == "rate" else f"MDE OR {mde:.2f}")
    attrs = curve.attrs
    subtitle = (f"{attrs.get('n_models', '?')} model(s), {attrs.get('n_prompts', '?')} prompts, {attrs.get('n_checks', '?')} "
                f"checks; Holm α = {attrs.get('alpha', 0.05)}; {attrs.get('replicates', '?')} simulated studies per point, "
                f"seed {attrs.get('seed', '?')}")
    fig.update_layout(**_base_layout(f"{title}<br><sup>{subtitle}</sup>", 400,
                                     legend=dict(orientation="h", yanchor="top", y=-0.2, xanchor="left", x=0.0)))
    fig.update_xaxes(title_text="rate difference b − a (points)" if scale == "rate" else "odds ratio b / a (conditional)")
    fig.update_yaxes(title_text="power", range=[0, 1.02])
    return fig


def _with_rates(table: pd.DataFrame) -> pd.DataFrame:
    return table.loc[table["rate"].notna()]


def _marker_color(table: pd.DataFrame) -> str:
    return PUBLISHED_COLOR if (table["rate_kind"] == "published").all() else OWN_COLOR


def generation_figure(table: pd.DataFrame, title: str = "Family trends over generations") -> go.Figure:
    """Rate against the version stated in the model's name, one line per family and tier."""
    data = _with_rates(table).dropna(subset=["version"])
    if data.empty:
        return empty_figure(title, "No model with both a rate and a version in its attributes.")
    fig = go.Figure()
    for i, ((family, tier), part) in enumerate(data.sort_values("version").groupby(["family", "tier"], sort=True)):
        rate = _pct(part["rate"])
        # Several sizes of one version (Qwen3 1.7B ... 32B) are not a trend over generations.
        # Model names as hover text, not printed: printed labels of nearby versions overprint.
        mode = "lines+markers" if part["version"].is_unique else "markers"
        fig.add_scatter(x=part["version"], y=rate, mode=mode, text=part["model"],
                        name=f"{family} · {tier}", line=dict(color=_PALETTE[i % len(_PALETTE)]),
                        error_y=_errors(rate, _pct(part["ci_low"]), _pct(part["ci_high"])) if part["ci_low"].notna().all() else None,
                        hovertemplate="%{text}: %{y:.1f}%<extra></extra>")
    fig.update_layout(**_base_layout(f"{title}<br><sup>{_kind_note(data)}</sup>", 460, legend=_SIDE_LEGEND))
    fig.update_xaxes(title_text="version in the model's name")
    fig.update_yaxes(title_text="violation rate (%)")
    return fig


def _kind_note(data: pd.DataFrame) -> str:
    if (data["rate_kind"] == "published").all():
        return "published overall rates (the paper reports no intervals)"
    return "your runs, 95% prompt-bootstrap intervals"


def thinking_figure(table: pd.DataFrame, title: str = "Thinking versus non-thinking") -> go.Figure:
    """Rates of models whose thinking setting is known, split by it; says when none is."""
    data = _with_rates(table).dropna(subset=["thinking"])
    if data.empty:
        return empty_figure(title, "No rate for a model with a known thinking setting:<br>the leaderboard does not "
                                   "state one, and the paper's thinking variants'<br>rates are not published. "
                                   "Add a 'thinking' attribute for your own runs.", height=360)
    fig = go.Figure()
    for value, label in ((False, "thinking off"), (True, "thinking on")):
        part = data.loc[data["thinking"] == value]
        rate = _pct(part["rate"])
        fig.add_scatter(x=part["model"], y=rate, mode="markers", name=label, marker=dict(size=10),
                        error_y=_errors(rate, _pct(part["ci_low"]), _pct(part["ci_high"])) if part["ci_low"].notna().all() else None)
    fig.update_layout(**_base_layout(f"{title}<br><sup>{_kind_note(data)}</sup>", 380))
    fig.update_yaxes(title_text="violation rate (%)", rangemode="tozero")
    return fig


def budget_figure(table: pd.DataFrame, title: str = "Thinking budget (Claude Opus 4.6: 0, 2k, 5k, 10k)") -> go.Figure:
    """Rate against the published budget labels; budgets without a rate are marked
    'not published' on the axis (the paper states the finding without numbers)."""
    budgets = table.loc[table["thinking_budget"].notna()].assign(_rank=lambda t: budget_rank(t["thinking_budget"]))
    budgets = budgets.sort_values("_rank")
    fig = go.Figure()
    known = budgets.loc[budgets["rate"].notna()]
    if not known.empty:
        rate = _pct(known["rate"])
        fig.add_scatter(x=known["thinking_budget"], y=rate, mode="lines+markers", marker=dict(size=10, color=_marker_color(known)),
                        error_y=_errors(rate, _pct(known["ci_low"]), _pct(known["ci_high"])) if known["ci_low"].notna().all() else None,
                        name="rate")
    missing = budgets.loc[budgets["rate"].isna(), "thinking_budget"].tolist()
    for budget in missing:
        fig.add_annotation(x=budget, y=0.5, yref="paper", text=NOT_PUBLISHED, showarrow=False, textangle=-90,
                           font=dict(color=PUBLISHED_COLOR))
    note = ("The paper reports that extended thinking does not reduce violation rates but publishes no rates for "
            "these budgets" if missing else _kind_note(known))
    fig.update_layout(**_base_layout(f"{title}<br><sup>{note}</sup>", 380, showlegend=False))
    fig.update_xaxes(title_text="thinking budget (as published)", type="category",
                     categoryorder="array", categoryarray=list(BUDGET_ORDER))
    fig.update_yaxes(title_text="violation rate (%)", range=[0, 100])
    return fig


def scale_figure(table: pd.DataFrame, title: str = "Scale: rate against parameter count") -> go.Figure:
    """Rate against published parameter counts (log axis), one line per family and tier."""
    data = _with_rates(table).dropna(subset=["parameters_b"])
    if data.empty:
        return empty_figure(title, "No model with both a rate and a published parameter count.")
    fig = go.Figure()
    for i, ((family, tier), part) in enumerate(data.sort_values("parameters_b").groupby(["family", "tier"], sort=True)):
        rate = _pct(part["rate"])
        fig.add_scatter(x=part["parameters_b"], y=rate, mode="lines+markers", text=part["model"],
                        name=f"{family} · {tier}", line=dict(color=_PALETTE[i % len(_PALETTE)]),
                        hovertemplate="%{text}: %{y:.1f}%<extra></extra>",
                        error_y=_errors(rate, _pct(part["ci_low"]), _pct(part["ci_high"])) if part["ci_low"].notna().all() else None)
    fig.update_layout(**_base_layout(f"{title}<br><sup>{_kind_note(data)}; parameter counts as stated in the model names</sup>",
                                     400, legend=_SIDE_LEGEND))
    fig.update_xaxes(title_text="parameters (billions, log scale)", type="log")
    fig.update_yaxes(title_text="violation rate (%)")
    return fig


def empty_figure_note(figure: go.Figure) -> str | None:
    """For a figure with no data drawn (nothing published, no rate): its title and why, as one
    plain sentence a page can show instead of an empty chart; None when it has data."""
    if figure.data:
        return None
    title, _, sub = (figure.layout.title.text or "").partition("<br>")
    messages = [a.text for a in figure.layout.annotations if a.text and a.text != NOT_PUBLISHED]
    why = " ".join(m.replace("<br>", " ") for m in messages) or sub.replace("<sup>", "").replace("</sup>", "")
    return f"{title}: {why}".strip()


def attribute_figures(table: pd.DataFrame) -> dict[str, go.Figure]:
    """All four attribute figures, keyed ``generation``, ``thinking``, ``budget``, ``scale``."""
    return {"generation": generation_figure(table), "thinking": thinking_figure(table),
            "budget": budget_figure(table), "scale": scale_figure(table)}
