"""docs/dashboard.md shows a screenshot of the first screen and of every tab at both sizes, and
each one it links is in docs/screenshots/ (``tests/test_first_screen_browser.py`` writes them)."""

from __future__ import annotations

import re
from pathlib import Path

from eudaimonia_nb.widgets.dashboard import Dashboard

REPO = Path(__file__).resolve().parent.parent
SIZES = ("1440", "390")


def _slug(title: str) -> str:
    """The file name ``tests/test_first_screen_browser.py`` gives a tab's screenshot."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def test_the_dashboard_docs_show_every_tab_at_both_sizes():
    doc = (REPO / "docs" / "dashboard.md").read_text()
    linked = re.findall(r"!\[[^\]]*\]\((screenshots/[^)]+)\)", doc)
    assert linked, "docs/dashboard.md shows no screenshot"
    missing = [link for link in linked if not (REPO / "docs" / link).is_file()]
    assert not missing, missing
    bar = Dashboard().tab_bar
    titles = [bar.get_title(i) for i in range(len(bar.children))]
    assert len(titles) >= 10
    wanted = {f"screenshots/first-screen-{size}.jpg" for size in SIZES} | {
        f"screenshots/tab-{_slug(title)}-{size}.jpg" for title in titles for size in SIZES}
    assert wanted <= set(linked), sorted(wanted - set(linked))
    # No screenshot sits in the folder unshown (a renamed tab leaves its old pictures behind).
    shown = {Path(link).name for link in linked}
    assert {p.name for p in (REPO / "docs" / "screenshots").glob("*.jpg")} == shown
