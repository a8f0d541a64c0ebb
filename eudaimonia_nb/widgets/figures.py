"""Plotly figure widgets that share one copy of Plotly's JavaScript in the page.

``go.FigureWidget`` is an anywidget whose module is Plotly's whole widget bundle (about 5 MB),
sent as a string with every figure and evaluated again for each one: a tab with two new
figures spent about five seconds in the browser before anything was drawn. Here the bundle
travels once, in a hidden :func:`plotly_loader` widget that turns it into a module URL; every
:class:`SharedFigureWidget` carries a few lines that import that URL, which the browser
evaluates once and then serves from its module map. Python-side, a shared figure is an
ordinary ``FigureWidget`` (same traits, same ``on_click``).

Display :func:`plotly_loader` once in any widget tree that shows shared figures (the
dashboard and the Studies panel do); a shared figure waits for it.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from importlib import resources

import anywidget
import plotly.graph_objects as go
import traitlets

SKIPPED_IMPORT = "rfc3987_syntax"
"""A module the dashboard's kernel does without. Plotly's figure widget imports ``nbformat``,
whose ``jsonschema`` imports ``rfc3987_syntax`` when it is installed (jupyter-events brings it);
that module compiles 38 grammars on import, 1.5 s on an idle 2-core machine and 6 s under load,
before the first figure can be drawn, for a JSON-schema ``iri`` format check nothing here makes.
Marked as absent (``jsonschema`` then leaves that one format check out), unless already imported."""
if SKIPPED_IMPORT not in sys.modules and "jsonschema" not in sys.modules:
    sys.modules[SKIPPED_IMPORT] = None  # type: ignore[assignment]

# One promise per page, whichever of the two modules runs first creates it.
_SLOT = """
const slot = () => (globalThis.__eudPlotlyBundle ??= (() => {
  let resolve;
  const ready = new Promise((r) => { resolve = r; });
  return { ready, resolve, url: null };
})());
"""

_LOADER_ESM = _SLOT + """
export default {
  initialize({ model }) {
    const s = slot();
    if (!s.url) {
      s.url = URL.createObjectURL(new Blob([model.get("bundle")], { type: "text/javascript" }));
      s.resolve(s.url);
    }
  },
  render({ el }) { el.style.display = "none"; },
};
"""

_FIGURE_ESM = _SLOT + """
export default async () => (await import(await slot().ready)).default();
"""


class PlotlyLoader(anywidget.AnyWidget):
    """Carries Plotly's widget bundle to the page once (hidden)."""

    _esm = _LOADER_ESM
    bundle = traitlets.Unicode("").tag(sync=True)
    """The text of plotly's ``package_data/widgetbundle.js``, the installed version."""


@lru_cache(maxsize=1)
def plotly_loader() -> PlotlyLoader:
    """The kernel's one loader widget (created on first use, not at import)."""
    text = resources.files("plotly").joinpath("package_data", "widgetbundle.js").read_text(encoding="utf-8")
    return PlotlyLoader(bundle=text, layout={"display": "none"})


class SharedFigureWidget(go.FigureWidget):
    """A ``FigureWidget`` that imports the bundle :func:`plotly_loader` brought to the page."""

    _esm = _FIGURE_ESM


def shared_figure(figure: go.Figure) -> SharedFigureWidget:
    """A figure widget of ``figure`` that does not carry its own copy of Plotly."""
    return SharedFigureWidget(figure)
