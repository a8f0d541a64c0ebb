"""The analysis report: the dashboard's sections, and a static HTML export of them.

A *section* is one tab of the dashboard: the analysis results (from ``eudaimonia_nb.analysis``),
their figures (from ``eudaimonia_nb.plots.analysis``), tables and a few sentences on how the
numbers were made. The dashboard shows sections as widgets; ``render_report`` writes the same
sections to one self-contained HTML file with interactive Plotly figures (plotly.js embedded,
so it opens offline). ``eudaimonia-nb report`` is the command-line way to the same file.

The parts, each a module of its own:

* ``sources``: where the judgments come from (``DataSource``, ``load_source``) and the selection
  made of them (``filter_frame``);
* ``sections``: what a section is (``Section``, ``Table``, ``Options``), the keys, titles and
  figure names;
* ``builders``: the per-section builders (``SECTION_BUILDERS``) behind ``build_section``;
* ``runs``: what was run, in shareable words (run records, protocol, notices);
* ``render``: the static HTML page (``render_report``, ``build_report``, ``write_report``).
* ``appendix``: the page's opening summary and its optional sample of responses.

May import: the shared ground, ``benchmark``, ``store``, ``judging`` (a run's protocol in shareable
words), ``analysis``, ``plots`` and ``validity``. ``widgets`` and ``cli`` build on it.

Everything public is importable from ``eudaimonia_nb.report`` itself, as before the split.
"""

from __future__ import annotations

from ..formatting import plural
from .builders import SECTION_BUILDERS, build_section, published_rows
from .render import build_report, render_report, write_report
from .runs import (PUBLISHED_PROTOCOL, RUNS_ATTR, SIMULATED_NOTICE, SMOKE_TEST_NOTICE, UNOFFICIAL_DATA_NOTICE,
                   data_summary, notices, protocol_note, protocol_records, protocol_text, rubric_version_table,
                   run_records)
from .sections import (CROSS_CHECKS_PENDING, FIGURE_NAMES, HEAVY_SECTIONS, NO_VERDICTS_NOTICE, SECTION_TITLES, SOURCE_SECTIONS,
                       VERDICT_FREE_SECTIONS, Options, Section, Table, has_verdicts, one_source_cause)
from .sources import SOURCE_ENV, STORE_ATTR, DataSource, filter_frame, load_source, principle_options

__all__ = [
    "CROSS_CHECKS_PENDING", "FIGURE_NAMES", "HEAVY_SECTIONS", "NO_VERDICTS_NOTICE", "PUBLISHED_PROTOCOL", "RUNS_ATTR", "SECTION_BUILDERS",
    "SECTION_TITLES", "SIMULATED_NOTICE", "SMOKE_TEST_NOTICE", "SOURCE_ENV", "SOURCE_SECTIONS", "STORE_ATTR",
    "UNOFFICIAL_DATA_NOTICE", "VERDICT_FREE_SECTIONS", "DataSource", "Options", "Section", "Table", "build_report",
    "build_section", "data_summary", "filter_frame", "has_verdicts", "load_source", "notices", "one_source_cause",
    "plural", "principle_options", "protocol_note", "protocol_records", "protocol_text", "published_rows",
    "render_report", "rubric_version_table", "run_records", "write_report",
]
