"""A small table of items that a person can sort and pick from: the Responses list.

``ItemTable`` shows one page of rows (the Python side pages and sorts over every match, so a
sort orders all items, not the ten on screen). A click on a header asks for that sort
(``sort_by``, ``descending``); a click on a row (or Enter on a focused row) sets ``value`` to its
key. Cells are text: the browser sets them with ``textContent``, so prompt and response text can
never become markup. Verdicts are chips (``chips``: kind and words), coloured by kind, whose words
carry the meaning ("no violation" written out).
"""

from __future__ import annotations

import anywidget
import traitlets

_ESM = """
function render({ model, el }) {
  el.classList.add("eud-items");
  const table = document.createElement("table");
  table.className = "eud-table eud-item-table";
  el.appendChild(table);
  const draw = () => {
    table.replaceChildren();
    const columns = model.get("columns");
    const head = table.createTHead().insertRow();
    for (const [key, label, sortable] of columns) {
      const th = document.createElement("th");
      th.dataset.column = key;
      let text = label;
      if (model.get("sort_by") === key) text += model.get("descending") ? " ▾" : " ▴";
      th.textContent = text;
      if (sortable) {
        th.classList.add("eud-sortable");
        th.title = "sort by " + label;
        th.addEventListener("click", () => {
          const same = model.get("sort_by") === key;
          model.set("descending", same ? !model.get("descending") : false);
          model.set("sort_by", key);
          model.save_changes();
        });
      }
      head.appendChild(th);
    }
    const body = table.createTBody();
    for (const row of model.get("rows")) {
      const tr = body.insertRow();
      tr.dataset.key = row.key;
      tr.tabIndex = 0;
      if (row.key === model.get("value")) tr.classList.add("eud-picked");
      for (const [key] of columns) {
        const td = tr.insertCell();
        td.dataset.column = key;
        if (key === "verdicts") {
          for (const [kind, words] of row.chips || []) {
            const chip = document.createElement("span");
            chip.className = "eud-chip";
            chip.dataset.verdict = kind;
            chip.textContent = words;
            td.appendChild(chip);
          }
        } else {
          td.textContent = (row.cells || {})[key] ?? "";
        }
      }
      const pick = () => { model.set("value", row.key); model.save_changes(); };
      tr.addEventListener("click", pick);
      tr.addEventListener("keydown", (e) => { if (e.key === "Enter") pick(); });
    }
  };
  draw();
  model.on("change:rows", draw);
  model.on("change:columns", draw);
  model.on("change:value", draw);
  model.on("change:sort_by", draw);
  model.on("change:descending", draw);
}
export default { render };
"""

_CSS = """
.eud-items { max-width: 100%; overflow-x: auto; }
.eud-item-table { width: 100%; }
.eud-item-table td { text-align: left !important; vertical-align: top; cursor: pointer; }
.eud-item-table td[data-column="snippet"] { color: #333; min-width: 14em; }
.eud-item-table td[data-column="prompt_id"], .eud-item-table td[data-column="source"] { white-space: nowrap; }
.eud-item-table tr.eud-picked td { background: #e8f0fb; }
.eud-item-table tbody tr:hover td { background: #f3f7fc; }
.eud-item-table th.eud-sortable { cursor: pointer; text-decoration: underline dotted; }
.eud-chip { display: inline-block; color: white; border-radius: 3px; padding: 0 0.4em; margin: 0 3px 2px 0;
  white-space: nowrap; font-size: 11px; }
.eud-chip[data-verdict="violation"] { background: #c62828; }
.eud-chip[data-verdict="pass"] { background: #2e7d32; }
.eud-chip[data-verdict="error"] { background: #757575; }
.eud-chip[data-verdict="pending"] { background: #9e9e9e; }
"""


class ItemTable(anywidget.AnyWidget):
    """One page of items: ``columns`` ``[key, label, sortable]``, ``rows`` ``{"key", "cells",
    "chips"}``; ``value`` is the picked row's key ("" for none)."""

    _esm = _ESM
    _css = _CSS
    columns = traitlets.List([]).tag(sync=True)
    rows = traitlets.List([]).tag(sync=True)
    value = traitlets.Unicode("").tag(sync=True)
    sort_by = traitlets.Unicode("").tag(sync=True)
    descending = traitlets.Bool(False).tag(sync=True)
