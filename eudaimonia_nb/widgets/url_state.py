"""The page's URL fragment as a widget: a view's state kept in the link, so a link opens it again.

``UrlState.hash`` mirrors ``location.hash`` (without the ``#``): the browser sends the fragment
it was opened with as soon as the widget is shown, and every change made in Python replaces the
fragment in place (``history.replaceState``: no reload, no new history entry). The fragment is a
query string (``state_to_hash`` / ``hash_to_state``), e.g.
``tab=responses&model=gpt-4o&verdict=violation&item=gpt-4o%7Cp0123``. Under Voila the fragment
stays in the browser (it is never sent to the server), so a shared link carries the view, not
the data: whoever opens it sees the same view of their own copy of the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, urlencode

import anywidget
import traitlets

_ESM = """
function render({ model, el }) {
  el.style.display = "none";
  // The fragment the page was opened with goes to the kernel once, when the widget is shown.
  const opened = window.location.hash.replace(/^#/, "");
  if (opened && opened !== model.get("hash")) {
    model.set("hash", opened);
    model.set("opened", opened);
    model.save_changes();
  }
  model.on("change:hash", () => {
    const value = model.get("hash");
    if (value !== window.location.hash.replace(/^#/, "")) {
      history.replaceState(null, "", value ? "#" + value : window.location.pathname + window.location.search);
    }
  });
  window.addEventListener("hashchange", () => {
    const value = window.location.hash.replace(/^#/, "");
    if (value !== model.get("hash")) {
      model.set("hash", value);
      model.set("opened", value);
      model.save_changes();
    }
  });
}
export default { render };
"""


class UrlState(anywidget.AnyWidget):
    """``hash``: the fragment now; ``opened``: a fragment that came from the browser (a link
    opened or pasted), which the page should apply."""

    _esm = _ESM
    hash = traitlets.Unicode("").tag(sync=True)
    opened = traitlets.Unicode("").tag(sync=True)


def state_to_hash(state: Mapping[str, str | Sequence[str]]) -> str:
    """``{"tab": "responses", "model": ["a", "b"]}`` -> ``tab=responses&model=a&model=b`` (empty
    values left out)."""
    pairs: list[tuple[str, str]] = []
    for key, value in state.items():
        values = [value] if isinstance(value, str) else list(value)
        pairs += [(key, str(v)) for v in values if str(v) != ""]
    return urlencode(pairs)


def hash_to_state(fragment: str) -> dict[str, list[str]]:
    """The reverse of ``state_to_hash``: every key with its list of values."""
    state: dict[str, list[str]] = {}
    for key, value in parse_qsl(fragment.lstrip("#"), keep_blank_values=False):
        state.setdefault(key, []).append(value)
    return state
