"""What a section is: one dashboard tab and one report chapter, its figures, tables and notes.

The section keys, titles and figure names are fixed here; the builders that fill them live in
``report.builders``, the HTML page that strings them together in ``report.render``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import pandas as pd
import plotly.graph_objects as go

from ..analysis.conventions import ERRORS_APART
from ..analysis.frames import judged_sources
from ..formatting import interval_columns, readable_table, split_methods


@dataclass
class Table:
    """A result table shown in a section and downloadable as CSV."""

    name: str
    """File stem of its CSV download, e.g. ``leaderboard``."""
    title: str
    """Caption shown above it."""
    frame: pd.DataFrame
    """The numbers, with analysis column names (rates as fractions): the CSV download."""
    caption: str = ""
    """HTML under the title: how the numbers were made, said once for the whole table."""
    folded: bool = False
    """Shown folded under "Details" (the section's readable summary comes first)."""
    display: pd.DataFrame | None = None
    """A display copy already in words (cells as text, e.g. "too few labels"); None: the page
    shows ``readable_table(frame)``."""
    main: tuple[str, ...] = ()
    """The analysis columns the page shows (with their intervals), for a table too wide to read
    whole; the CSV keeps every column. Empty: all of them."""

    def shown(self, *, simulated: bool = False) -> tuple[pd.DataFrame, str]:
        """The table as the page shows it and its caption: readable columns, and a method column
        that says the same on every row (``formatting.METHOD_COLUMNS``) said once in the caption."""
        if self.display is not None:
            frame = self.display.assign(Simulated="yes") if simulated else self.display
            return frame, self.caption
        frame, methods = split_methods(self.frame)
        more = ""
        if self.main:
            keep = [c for c in frame.columns if c in self.main or c in interval_columns(self.main)]
            left = len(frame.columns) - len(keep)
            frame = frame[keep]
            more = f"{left} more columns (counts, unadjusted tests, details) in the CSV download." if left > 0 else ""
        caption = " ".join(part for part in (self.caption, *(html.escape(m) for m in methods), more) if part)
        return readable_table(frame, simulated=simulated), caption


@dataclass
class Section:
    """One dashboard tab / report chapter."""

    key: str
    """Stable identifier, e.g. ``leaderboard``."""
    title: str
    """Tab title, e.g. ``Leaderboard``."""
    figures: dict[str, go.Figure] = field(default_factory=dict)
    """Figures by name, in display order."""
    tables: list[Table] = field(default_factory=list)
    """Result tables, in display order."""
    notes: list[str] = field(default_factory=list)
    """HTML paragraphs: how the numbers were computed and how to read them."""
    lead: list[str] = field(default_factory=list)
    """HTML shown first, above the figures: the section's findings in a few readable lines."""


@dataclass(frozen=True)
class Options:
    """Analysis settings shared by the dashboard and the report."""

    n_boot: int = 1000
    """Bootstrap replicates (resampling prompts) for per-model intervals."""
    seed: int = 0
    """Seed of the bootstrap, so numbers are reproducible."""
    errors: str = ERRORS_APART
    """What a check without a verdict counts as (``analysis.conventions``): ``apart`` (default)
    or ``no_violation`` (the authors' convention for unparseable judge answers)."""
    reducer: str = "mean"
    """How a check's repeated verdicts (epochs, judge repeats) become one (``analysis.reducers``:
    ``mean``, ``majority``, ``any``, ``all``); without repeats it changes nothing."""
    cross_checks: bool = True
    """Whether the mixed-model section also runs its GEE cross-check and selection check (about
    three quarters of its time). The dashboard draws the fit first with ``False``, then adds them;
    a report always has them."""


SECTION_TITLES: dict[str, str] = {
    "leaderboard": "Leaderboard",
    "requirements": "Requirements",
    "real_vs_modified": "Real vs modified",
    "mixed": "Mixed-effects model",
    "coviolation": "Co-violation",
    "judge_compare": "Judge comparison",
    "validity": "Judge validity",
    "methods": "Data & methods",
}
"""Section keys in tab order, with their titles."""
FIGURE_NAMES: dict[str, tuple[str, ...]] = {
    "leaderboard": ("leaderboard",),
    "requirements": ("heatmap", "requirement_bars"),
    "real_vs_modified": ("dumbbell", "groups"),
    "mixed": ("forest",),
    "coviolation": ("coviolation",),
    "judge_compare": ("judge_difference",),
    "validity": ("validity_forest",),
    "methods": ("overview",),
}
"""Figures each section produces (the dashboard creates one FigureWidget per name)."""
HEAVY_SECTIONS = frozenset({"mixed"})
CROSS_CHECKS_PENDING = "GEE cross-check and selection check: being computed for this selection…"
"""The mixed-model section's note while ``Options(cross_checks=False)`` left them out."""
"""Sections that fit models: computed when first opened, with a progress message."""
SOURCE_SECTIONS = frozenset({"real_vs_modified", "mixed"})
"""Sections that compare real with modified prompts: not estimable with one source."""
VERDICT_FREE_SECTIONS = ("methods",)
"""Sections that make sense without a single verdict (they count checks and errors)."""
NO_VERDICTS_NOTICE = ("No check in this selection has a verdict (all are judge errors or not judged yet): "
                      "rates and models need verdicts, so only Data & methods is shown.")


def has_verdicts(frame: pd.DataFrame) -> bool:
    return bool(frame["violation"].notna().any())


def one_source_cause(frame: pd.DataFrame) -> str | None:
    """Why real and modified prompts cannot be compared here (``Not estimable: only real prompts
    in this selection``), or None when both sources have verdicts."""
    present = sorted(judged_sources(frame))
    if len(present) == 1:
        return (f"Not estimable: only {present[0]} prompts in this selection; comparing real with "
                "modified prompts needs both.")
    if not present:
        return ("Not estimable: no judged prompts in this selection; comparing real with modified "
                "prompts needs judged prompts of both.")
    return None
