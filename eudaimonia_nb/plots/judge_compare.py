"""Figure of a judge (or protocol) comparison: the paired difference in violation rates per
requirement, with its prompt-clustered interval, and the flip counts and kappa in the hover."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import REQUIREMENT_LABELS
from .analysis import OWN_COLOR, _base_layout, _errors, _pct, _rows_height, empty_figure


def judge_difference_figure(comparison: pd.DataFrame, label_a: str, label_b: str) -> go.Figure:
    """``analysis.judge_compare.compare_runs`` output as a forest of B − A differences."""
    title = f"Paired difference in violation rate, B − A (B: {label_b}; A: {label_a})"
    if comparison.empty or comparison["n_pairs"].sum() == 0:
        return empty_figure(title, "No check has a verdict in both runs")
    data = comparison.iloc[::-1]
    names = [REQUIREMENT_LABELS.get(k, k) for k in data["requirement"]]
    diff, low, high = _pct(data["diff"]), _pct(data["diff_ci_low"]), _pct(data["diff_ci_high"])
    custom = np.column_stack([low, high, data["both"], data["only_a"], data["only_b"], data["neither"],
                              data["kappa"].astype(float), data["p_mcnemar"], data["p_clustered"]])
    fig = go.Figure(layout=_base_layout(title, _rows_height(len(names))))
    fig.add_trace(go.Scatter(
        x=diff, y=names, mode="markers", name="B − A (95% CI, bootstrap over prompts)",
        marker=dict(color=OWN_COLOR, size=9), error_x=_errors(diff, low, high), customdata=custom,
        hovertemplate=("<b>%{y}</b><br>B − A %{x:+.1f} pts [%{customdata[0]:+.1f}, %{customdata[1]:+.1f}]<br>"
                       "both %{customdata[2]:,} · only A %{customdata[3]:,} · only B %{customdata[4]:,} · "
                       "neither %{customdata[5]:,}<br>κ %{customdata[6]:.2f}; McNemar p %{customdata[7]:.2g}; "
                       "clustered p %{customdata[8]:.2g}<extra></extra>")))
    fig.add_vline(x=0, line=dict(color="#999", dash="dot"))
    fig.update_xaxes(title_text="Difference in violation rate (percentage points)", ticksuffix=" pts")
    fig.update_yaxes(automargin=True)
    return fig
