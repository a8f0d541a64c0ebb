"""Figures of the noise decomposition (``analysis.noise``): the Noise tab and report section.

* ``noise_shares_figure``: per model, one stacked bar of the shares of a verdict's variance due
  to prompts, responses and the judge (with the parts the design cannot separate shown as such);
* ``noise_flips_figure``: per model, the response and judge flip rates with their intervals;
* ``noise_widths_figure``: per model, the predicted 95% half-width of the rate for 1 to 5 epochs
  (judge repeats as run) and 1 to 5 judge repeats (epochs as run).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import MODEL_PALETTE
from .analysis import _base_layout, _errors, _pct, _rows_height

SHARE_COLORS = {"share_prompt": "#0072B2", "share_response": "#E69F00", "share_judge": "#CC79A7",
                "unseparated": "#bdbdbd"}
"""Colour-blind-safe (Okabe-Ito) colours of the three sources, grey for what cannot be split."""
SHARE_LABELS = {"share_prompt": "Prompts (between checks)", "share_response": "Responses (between epochs)",
                "share_judge": "Judge (between calls on one response)"}


def noise_shares_figure(decomposition: pd.DataFrame) -> go.Figure:
    """One horizontal stacked bar per model: the three shares, in %, hover with intervals."""
    data = decomposition.iloc[::-1]
    models = data["model"].astype(str).tolist()
    fig = go.Figure(layout=_base_layout("Where a verdict's variation comes from", _rows_height(len(models)),
                                        barmode="stack", xaxis=dict(title="share of a verdict's variance (%)",
                                                                    range=[0, 100])))
    for column, label in SHARE_LABELS.items():
        values = data[column].to_numpy(dtype=float)
        low, high = data[f"{column}_ci_low"].to_numpy(dtype=float), data[f"{column}_ci_high"].to_numpy(dtype=float)
        fig.add_trace(go.Bar(
            y=models, x=_pct(np.nan_to_num(values)), orientation="h", name=label, marker_color=SHARE_COLORS[column],
            customdata=np.column_stack([_pct(low), _pct(high)]),
            hovertemplate="%{y}<br>" + label + ": %{x:.1f}% [%{customdata[0]:.1f}, %{customdata[1]:.1f}]<extra></extra>"))
    rest = 100 - _pct(data[list(SHARE_LABELS)].fillna(0).sum(axis=1).to_numpy(dtype=float))
    unsplit = data[list(SHARE_LABELS)].isna().any(axis=1).to_numpy()
    fig.add_trace(go.Bar(y=models, x=np.where(unsplit, np.clip(rest, 0, 100), 0), orientation="h",
                         name="Not separable with this design", marker_color=SHARE_COLORS["unseparated"],
                         marker_pattern_shape="/", hovertemplate="%{y}<br>not separable: %{x:.1f}%<extra></extra>"))
    return fig


def noise_flips_figure(decomposition: pd.DataFrame) -> go.Figure:
    """Per model, the chance that two epochs' verdicts differ and that two judge calls differ."""
    data = decomposition.iloc[::-1]
    models = data["model"].astype(str).tolist()
    fig = go.Figure(layout=_base_layout("Flip rates: how often two verdicts of one check disagree",
                                        _rows_height(len(models)), xaxis=dict(title="flip rate (%)", rangemode="tozero")))
    for column, label, color, symbol in (
            ("response_flip_rate", "Two responses (epochs), one call each", SHARE_COLORS["share_response"], "circle"),
            ("judge_flip_rate", "Two judge calls on one response", SHARE_COLORS["share_judge"], "diamond")):
        value = data[column].to_numpy(dtype=float)
        low, high = data[f"{column}_ci_low"].to_numpy(dtype=float), data[f"{column}_ci_high"].to_numpy(dtype=float)
        fig.add_trace(go.Scatter(
            y=models, x=_pct(value), mode="markers", name=label, marker=dict(color=color, size=10, symbol=symbol),
            error_x=_errors(_pct(value), _pct(low), _pct(high)), customdata=np.column_stack([_pct(low), _pct(high)]),
            hovertemplate="%{y}<br>" + label + ": %{x:.1f}% [%{customdata[0]:.1f}, %{customdata[1]:.1f}]<extra></extra>"))
    return fig


def noise_widths_figure(table: pd.DataFrame, decomposition: pd.DataFrame) -> go.Figure:
    """Predicted 95% half-width of each model's rate (points) against epochs (at the run's judge
    repeats) and against judge repeats (at the run's epochs); the run's own design is marked."""
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.06,
                        subplot_titles=("more epochs (judge calls as run)", "more judge calls (epochs as run)"))
    fig.update_layout(**_base_layout("Predicted 95% interval half-width of the rate", 420))
    for i, row in enumerate(decomposition.itertuples(index=False)):
        color = MODEL_PALETTE[i % len(MODEL_PALETTE)]
        mine = table[table["model"] == row.model]
        for col, (axis, fixed, fixed_value) in enumerate((("epochs", "judge_repeats", row.judge_repeats),
                                                          ("judge_repeats", "epochs", row.epochs)), start=1):
            line = mine[mine[fixed] == fixed_value].sort_values(axis)
            observed = line[axis] == (row.epochs if axis == "epochs" else row.judge_repeats)
            fig.add_trace(go.Scatter(
                x=line[axis], y=_pct(line["ci_half_width"]), mode="lines+markers", name=str(row.model),
                legendgroup=str(row.model), showlegend=col == 1, line=dict(color=color),
                marker=dict(size=np.where(observed, 12, 6), symbol=np.where(observed, "star", "circle")),
                hovertemplate=f"{row.model}<br>%{{x}} {axis.replace('_', ' ')}: ± %{{y:.2f}} pts<extra></extra>"),
                row=1, col=col)
    fig.update_xaxes(dtick=1, title_text="epochs", row=1, col=1)
    fig.update_xaxes(dtick=1, title_text="judge calls per response", row=1, col=2)
    fig.update_yaxes(title_text="± points (95%)", rangemode="tozero", row=1, col=1)
    return fig
