"""Plotly figures for notebook 1, each drawn from one table of ``eudaimonia_nb.benchmark.explore``."""

from __future__ import annotations

import textwrap

import pandas as pd
import plotly.graph_objects as go

from ..benchmark.dataset import SOURCES
from ..analysis.selection import REWRITERS, TARGETS, normalise_model_name
from . import MODEL_PALETTE, PRINCIPLE_LABELS, REQUIREMENT_LABELS, SOURCE_COLORS, SOURCE_LABELS, TEMPLATE


TITLE_LINE = 40
"""Characters per title line: a title wider than a 390 px phone's figure was cut off at its edge."""
LEGEND_ABOVE = dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0)
"""Legend in a row above the plot, so a narrow page keeps its width for the data (its entries
name the source, so it needs no title that would push it into the figure title)."""


def _title(text: str) -> dict:
    """A figure title wrapped onto short lines (notebook outputs do not know the page width)."""
    return dict(text="<br>".join(textwrap.wrap(text, TITLE_LINE)), font_size=16)


def display_model_name(name: str) -> str:
    """The benchmark's compact model names (``Opus4.6``, ``Gemini2.0Flash``) as the paper writes them."""
    known = {normalise_model_name(m): m for m in (*TARGETS, *REWRITERS)}
    return known.get(normalise_model_name(name), str(name))


def checks_by_requirement_figure(table: pd.DataFrame) -> go.Figure:
    """Grouped bars, real versus modified checks per requirement, grouped by principle.

    ``table`` is ``explore.checks_by_requirement``; the x axis has two levels
    (principle, requirement) so the principle groups stay visible.
    """
    x = [table["principle"].map(PRINCIPLE_LABELS).tolist(), table["label"].tolist()]
    fig = go.Figure()
    for source in SOURCES:
        share = table[source] / table["total"]
        fig.add_bar(
            name=SOURCE_LABELS[source],
            x=x,
            y=table[source],
            marker_color=SOURCE_COLORS[source],
            customdata=list(zip(table["requirement"], share, table["total"])),
            hovertemplate=(
                "%{x}<br><code>%{customdata[0]}</code><br>"
                f"{SOURCE_LABELS[source]}: %{{y}} checks (%{{customdata[1]:.0%}} of %{{customdata[2]}})"
                "<extra></extra>"
            ),
        )
    fig.update_layout(
        template=TEMPLATE,
        barmode="group",
        title=_title("Checks per requirement, real versus modified prompts"),
        yaxis_title="checks (prompt x requirement)",
        # Explicit height and room for the two-level axis: drawn before the output area has its
        # final size, the figure was squashed to Plotly's default otherwise. The left margin
        # holds the first slanted tick label (cut off at 60 px, seen in Chromium); the legend
        # sits above the bars so a phone keeps its width for them.
        height=500, autosize=True, margin=dict(l=130, r=20, t=130, b=150),
        legend=LEGEND_ABOVE,
    )
    fig.update_xaxes(automargin=True, tickangle=-30)
    return fig


def cooccurrence_figure(counts: pd.DataFrame) -> go.Figure:
    """Heatmap of ``explore.cooccurrence``: prompts labelled with both requirements."""
    labels = [REQUIREMENT_LABELS[k] for k in counts.index]
    fig = go.Figure(
        go.Heatmap(
            z=counts.to_numpy(),
            x=labels,
            y=labels,
            colorscale="Blues",
            text=counts.to_numpy(),
            texttemplate="%{text}",
            hovertemplate="%{y}<br>with %{x}<br>%{z} prompts<extra></extra>",
            colorbar_title_text="prompts",
        )
    )
    fig.update_layout(
        template=TEMPLATE,
        title=_title("Prompts labelled with both requirements (diagonal: prompts with the requirement)"),
        yaxis_autorange="reversed",
        height=620,
    )
    return fig


def labels_per_prompt_figure(table: pd.DataFrame) -> go.Figure:
    """Bars of ``explore.labels_per_prompt``: prompts by number of requirements, by source."""
    fig = go.Figure()
    for source in SOURCES:
        fig.add_bar(
            name=SOURCE_LABELS[source],
            x=table.index.tolist(),
            y=table[source],
            marker_color=SOURCE_COLORS[source],
            hovertemplate=f"%{{x}} requirements<br>{SOURCE_LABELS[source]}: %{{y}} prompts<extra></extra>",
        )
    fig.update_layout(
        template=TEMPLATE,
        barmode="group",
        title=_title("How many requirements a prompt is checked against"),
        legend=LEGEND_ABOVE, margin_t=130,
        xaxis=dict(title="requirements labelled on the prompt", dtick=1),
        yaxis_title="prompts",
    )
    return fig


def length_figure(stats: pd.DataFrame) -> go.Figure:
    """Box per source from ``explore.length_by_source`` (whiskers at min and max), log x."""
    fig = go.Figure()
    for source in stats.index:
        row = stats.loc[source]
        fig.add_trace(
            go.Box(
                name=SOURCE_LABELS[source],
                y=[SOURCE_LABELS[source]],
                q1=[row["q25"]],
                median=[row["median"]],
                q3=[row["q75"]],
                lowerfence=[row["min"]],
                upperfence=[row["max"]],
                mean=[row["mean"]],
                orientation="h",
                boxmean=True,
                marker_color=SOURCE_COLORS[source],
            )
        )
    fig.update_layout(
        template=TEMPLATE,
        title=_title("Prompt length in characters (box: quartiles; whiskers: shortest and longest; dashed: mean)"),
        margin_t=110,
        xaxis=dict(title="characters (log scale)", type="log"),
        showlegend=False,
        height=320,
    )
    return fig


def rewrites_figure(table: pd.DataFrame) -> go.Figure:
    """Grouped bars of ``explore.rewrites_by_model``: rewritten prompts per rewriter,
    one bar per responder model."""
    fig = go.Figure()
    for i, (responder, rows) in enumerate(table.groupby("responder_model", sort=True)):
        responder = display_model_name(responder)
        fig.add_bar(
            name=responder,
            marker_color=MODEL_PALETTE[i % len(MODEL_PALETTE)],
            x=rows["rewriter_model"].map(display_model_name),
            y=rows["prompts"],
            customdata=rows["checks"],
            text=rows["prompts"],
            textposition="outside",
            cliponaxis=False,  # the tallest bar's count sits above the plot area, not cut in half
            hovertemplate=(
                f"rewriter %{{x}}, responder {responder}<br>%{{y}} prompts, %{{customdata}} checks<extra></extra>"
            ),
        )
    fig.update_layout(
        template=TEMPLATE,
        barmode="group",
        title=_title("Rewritten prompts by rewriter and responder model"),
        # Under the axis: its title and the entries wrap downwards on a phone instead of into
        # the figure title or over the tallest bar's count.
        legend=dict(orientation="h", yanchor="top", y=-0.5, xanchor="left", x=0.0),
        height=500, margin=dict(t=110, b=190),
        xaxis_title="rewriter model",
        yaxis_title="prompts",
        legend_title_text="responder model",
    )
    return fig
