"""How the dashboard's pages are laid out: its stylesheet, tables that read like a paper's, the
busy note, the folded introduction and the download button.

Tables are ``report.Table``s shown as ``formatting.table_html`` (numbers and intervals on one
line, text cells wrapping, the method said once in the caption), each with a CSV download made
in the browser; a section's tables marked ``folded`` go under one "Details" fold after the
others. The busy note is a CSS spinner, not an emoji: the fonts Chromium ships (DejaVu) have no
hourglass, which drew as an empty box.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import anywidget
import ipywidgets as w
import traitlets

from ..formatting import table_html
from ..store.outputs import csv_table
from ..report import Table

_DOWNLOAD_ESM = """
function render({ model, el }) {
  const button = document.createElement("button");
  button.className = "jupyter-button widget-button eud-download";
  const sync = () => {
    button.textContent = model.get("description");
    button.disabled = !model.get("content");
    button.title = model.get("filename");
  };
  sync();
  model.on("change", sync);
  button.addEventListener("click", () => {
    // A Blob URL works for files of any size, where a data: URL would be cut off.
    const blob = new Blob([model.get("content")], { type: model.get("mime") });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = model.get("filename");
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });
  el.appendChild(button);
}
export default { render };
"""


class DownloadButton(anywidget.AnyWidget):
    """A button that saves ``content`` in the browser as ``filename`` (no server file needed)."""

    _esm = _DOWNLOAD_ESM
    description = traitlets.Unicode("Download").tag(sync=True)
    filename = traitlets.Unicode("download.csv").tag(sync=True)
    content = traitlets.Unicode("").tag(sync=True)
    mime = traitlets.Unicode("text/csv").tag(sync=True)


STYLE = """
<style>
.eud-banner { background:#fff3cd; border:1px solid #e0b000; color:#5c4400; padding:4px 12px;
  border-radius:4px; margin:2px 0 6px 0; font-weight:600; line-height:1.4; }
.eud-status { color:#555; font-size:13px; }
.eud-error { color:#b00020; font-weight:600; }
.eud-note { font-size:13px; line-height:1.45; max-width:1100px; }
.eud-lead { font-size:14px; line-height:1.45; max-width:1100px; margin:2px 0 8px 0; }
.eud-table { border-collapse:collapse; font-size:12px; margin:4px 0; }
.eud-table th, .eud-table td { padding:2px 8px; border-bottom:1px solid #e3e3e3; text-align:right; vertical-align:top; }
.eud-table th { background:#f5f5f5; position:sticky; top:0; z-index:1; }
.eud-table td.eud-num { white-space:nowrap; font-variant-numeric:tabular-nums; }
.eud-table td.eud-txt { text-align:left; min-width:9em; max-width:32em; }
.eud-table td:first-child, .eud-table th:first-child { text-align:left; }
.eud-table caption { caption-side:bottom; text-align:left; color:#555; font-size:12px; padding:4px 0; max-width:1000px; }
.eud-tablebox { max-height:480px; overflow:auto; max-width:100%; }
.eud-download { width:auto; min-width:148px; padding:0 12px; }
.eud-caution { display:block; background:#fff3cd; border-left:4px solid #e0b000; padding:4px 8px; }
.eud-controls .widget-hbox, .eud-wrap { flex-wrap:wrap; }
.eud-controls .widget-hbox > .widget-inline-hbox, .eud-controls .widget-select-multiple { max-width:100%; }
.eud-busy { display:inline-flex; align-items:center; gap:6px; }
.eud-spinner { width:11px; height:11px; border:2px solid #c8c8c8; border-top-color:#2a3f5f; border-radius:50%;
  display:inline-block; animation:eud-spin 0.9s linear infinite; flex:0 0 auto; }
@keyframes eud-spin { to { transform:rotate(360deg); } }
.eud-intro summary { cursor:pointer; color:#1b6ca8; }
.eud-howto { background:#eef5fb; border:1px solid #9cc3e4; border-radius:4px; padding:6px 12px; max-width:1100px; }
.eud-howto ol { margin:4px 0 4px 18px; padding:0; }
.eud-controls .widget-html-content, .eud-tab-status .widget-html-content { line-height:1.4; }
@media (max-width: 600px) {
  /* The first screen of a phone shows results: a smaller title, buttons side by side, compact notes. */
  .jp-RenderedHTMLCommon h1, .jp-RenderedMarkdown h1 { font-size:21px !important; margin:4px 0 !important; }
  .eud-intro summary { font-size:13px; }
  .eud-controls .widget-button { width:calc(50% - 6px) !important; }
  .eud-controls .widget-status, .eud-status { font-size:12px; }
  .eud-banner { font-size:12px; padding:3px 8px; font-weight:600; }
  .eud-filters .jupyter-widget-Collapse-header { font-size:12px; }
  .eud-controls .widget-dropdown, .eud-controls .widget-text, .eud-controls .widget-select-multiple
  { width:100% !important; max-width:100% !important; }
  .eud-controls .widget-label { min-width:0 !important; }
  .eud-controls .widget-dropdown > select { min-width:0; }
  /* The tab bar is one scrolling row, not three rows of squeezed titles. */
  .widget-tab > .lm-TabBar { overflow-x:auto !important; overflow-y:hidden; }
  .widget-tab > .lm-TabBar .lm-TabBar-content { flex-wrap:nowrap !important; width:max-content; }
  .lm-TabBar-tab { min-width:0 !important; flex:0 0 auto !important; padding:0 8px !important; font-size:12px; }
  .eud-tablebox { max-height:none; }
  .eud-table td.eud-txt { min-width:7em; }
}
</style>
"""


def busy(text: str) -> str:
    """A progress note: a spinner drawn by CSS (any font) and ``text`` (HTML)."""
    return f"<span class='eud-status eud-busy'><span class='eud-spinner'></span>{text}</span>"


def table_widget(table: Table, simulated: bool = False) -> w.Widget:
    """One table: its title, the paper-like table with its caption, and a CSV download."""
    shown, caption = table.shown(simulated=simulated)
    body = table_html(shown, caption=caption)
    download = DownloadButton(description=f"Download CSV ({table.name}.csv)", filename=f"{table.name}.csv",
                              content=csv_table(table.frame, simulated=simulated).to_csv(index=False))
    box = w.VBox([w.HTML(f"<b>{html.escape(table.title)}</b><div class='eud-tablebox'>{body}</div>"), download])
    box.add_class("eud-table-widget")
    return box


def tables_widgets(tables: Sequence[Table], simulated: bool = False) -> list[w.Widget]:
    """The tables of a section: those shown first, then the folded ones under one "Details" fold
    (closed) that names them."""
    shown = [table_widget(t, simulated) for t in tables if not t.folded]
    folded = [t for t in tables if t.folded]
    if folded:
        fold = w.Accordion(children=[w.VBox([table_widget(t, simulated) for t in folded])],
                           titles=(f"Details: {len(folded)} more table{'s' if len(folded) != 1 else ''} "
                                   f"({'; '.join(t.title for t in folded)[:160]})",), selected_index=None)
        fold.add_class("eud-details")
        shown.append(fold)
    return shown
