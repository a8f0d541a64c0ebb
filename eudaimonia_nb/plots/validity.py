"""The judge-validity forest plot: raw judge rate beside the label-corrected rate per model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..analysis.rates import Z95
from .analysis import OWN_COLOR, PUBLISHED_COLOR, _base_layout, _errors, _pct, _rows_height

CORRECTED_COLOR = "#c2185b"
"""Rates corrected by human labels."""


def validity_forest(models: pd.DataFrame, labels: dict[str, str] | None = None) -> go.Figure:
    """Per run: the raw judge rate (prompt-clustered 95% interval) and, where there are labels,
    the PPI++-corrected rate with its 95% interval and the number of labels behind it. Rows are
    named by ``labels`` (run id -> the run's label, ``model · judge · protocol``), else by the
    model; the run id is in the hover (and on the row only where two rows would read alike)."""
    # Looked up row by row: ``map`` with no labels gives float NaN, and filling that with text
    # warns under pandas 3 (and will raise).
    names = pd.Series([(labels or {}).get(run, model) for run, model in
                       zip(models["run_id"].astype(str), models["model"].astype(str))], index=models.index, dtype=str)
    twice = names.duplicated(keep=False)
    rows = models.assign(row=names.where(~twice, names + " · " + models["run_id"].astype(str)),
                         run=models["run_id"].astype(str))
    raw = _pct(rows["raw_rate"])
    raw_half = _pct(Z95 * rows["raw_se"])
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=raw, y=rows["row"], mode="markers", name="Raw (judge only)", marker=dict(color=PUBLISHED_COLOR, size=9),
        error_x=_errors(raw, raw - raw_half, raw + raw_half), customdata=rows[["run"]].to_numpy(),
        hovertemplate="%{y}<br>raw %{x:.1f}%<br>run %{customdata[0]}<extra></extra>"))
    labelled = rows[rows["n_labels"] > 0]
    if not labelled.empty:
        centre = _pct(labelled["corrected_rate"])
        text = [f"{n} labels" + (" (few)" if n < 30 else "") for n in labelled["n_labels"]]
        fig.add_trace(go.Scatter(
            x=centre, y=labelled["row"], mode="markers+text", name="Corrected by human labels (PPI++)",
            # Beside the marker, never clipped by the plot's edge ("9 labels (few)" was cut off).
            marker=dict(color=CORRECTED_COLOR, size=10, symbol="diamond"), text=text, textposition="bottom center",
            cliponaxis=False, textfont=dict(size=11),
            error_x=_errors(centre, _pct(labelled["ci_low"]), _pct(labelled["ci_high"])),
            hovertemplate="%{y}<br>corrected %{x:.1f}%<br>%{text}<extra></extra>"))
    upper = np.nanmax(np.r_[raw + raw_half, _pct(labelled["ci_high"]) if not labelled.empty else [], 10.0])
    fig.update_layout(**_base_layout("Violation rate: judge alone versus corrected by human labels (95% intervals)",
                                     _rows_height(len(rows), per_row=48)),
                      xaxis=dict(title="violation rate (%)", range=[0, min(100, upper * 1.1)], color=OWN_COLOR),
                      yaxis=dict(autorange="reversed"))
    return fig
