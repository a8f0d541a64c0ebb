"""The static HTML report: sections strung into one self-contained page, written atomically.

plotly.js is embedded once, so the page opens offline with interactive figures; tables are the
paper-like display copies (``formatting.readable_table``); the page opens with the summary
(``appendix.summary_html``) and may end with a sample of responses (off by default).
"""

from __future__ import annotations

import html
import os
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ..analysis.frames import is_simulated
from ..formatting import table_html
from ..store.outputs import check_output
from .builders import section_or_reason
from .repeats import noise_sentence, shown_sections
from .runs import notices, protocol_text, run_records
from .sections import NO_VERDICTS_NOTICE, SECTION_TITLES, VERDICT_FREE_SECTIONS, Options, Section, Table, has_verdicts


def _table_html(table: Table, simulated: bool = False) -> str:
    shown, caption = table.shown(simulated=simulated)
    return (f"<h3>{html.escape(table.title)}</h3><div class='eud-tablebox'>{table_html(shown, caption=caption)}</div>")


def _tables_html(tables: Sequence[Table], simulated: bool) -> list[str]:
    """A section's tables; the folded ones after the others, under one "Details" fold."""
    parts = [_table_html(t, simulated) for t in tables if not t.folded]
    folded = [t for t in tables if t.folded]
    if folded:
        parts.append(f"<details class='eud-details'><summary>Details: {len(folded)} more table"
                     f"{'s' if len(folded) != 1 else ''}</summary>" + "".join(_table_html(t, simulated) for t in folded)
                     + "</details>")
    return parts


_CSS = """
body { font-family: Inter, Helvetica, Arial, sans-serif; max-width: 1200px; margin: 2em auto; color: #222; }
.eud-banner { background: #fff3cd; border: 1px solid #e0b000; padding: .6em 1em; border-radius: 4px; }
.eud-table { border-collapse: collapse; font-size: 11px; margin-bottom: 1em; }
.eud-table th, .eud-table td { padding: 2px 5px; border-bottom: 1px solid #ddd; text-align: right; }
.eud-table th { background: #f3f3f3; }
.eud-table td.eud-num { white-space: nowrap; }
.eud-table td.eud-txt { text-align: left; min-width: 9em; }
.eud-table caption { caption-side: bottom; text-align: left; color: #555; padding: 3px 0; }
.eud-tablebox { max-width: 100%; overflow-x: auto; }
.eud-text { white-space: pre-wrap; word-break: break-word; background: #f7f7f7; border: 1px solid #ddd; padding: .5em; }
.eud-caution { display: block; background: #fff3cd; border-left: 4px solid #e0b000; padding: .3em .6em; }
section { margin-bottom: 3em; }
@media print { .eud-tablebox { overflow: visible; } .eud-table { font-size: 9px; } }
"""


def render_report(sections: Sequence[Section], *, title: str, source: str,
                  warnings: Sequence[str] = (), simulated: bool = False, summary: str = "",
                  appendix: str = "") -> str:
    """One self-contained HTML page (plotly.js embedded once) for the given sections;
    ``warnings`` (see ``notices``) head the page and every section; ``summary`` (HTML) comes
    first and ``appendix`` (HTML) last; tables of ``simulated`` data say so in a column."""
    banner = "".join(f"<p class='eud-banner'>{html.escape(w)}</p>" for w in warnings)
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p>Data: {html.escape(source)}. Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC "
             f"by eudaimonia-nb.</p>"]
    parts.append(banner)
    parts.append(summary)
    parts.append("<nav><ul>" + "".join(f"<li><a href='#{s.key}'>{html.escape(s.title)}</a></li>"
                                        for s in sections) + "</ul></nav>")
    first = True
    for section in sections:
        parts.append(f"<section id='{section.key}'><h2>{html.escape(section.title)}</h2>")
        parts.append(banner)
        parts += [f"<div class='eud-lead'>{lead}</div>" for lead in section.lead]
        for fig in section.figures.values():
            parts.append(fig.to_html(full_html=False, include_plotlyjs=first,
                                     config={"displaylogo": False, "responsive": True}))
            first = False
        parts += [f"<p>{note}</p>" for note in section.notes]
        parts += _tables_html(section.tables, simulated)
        parts.append("</section>")
    parts.append(appendix)
    parts.append("</body></html>")
    return "\n".join(parts)


def build_report(frame: pd.DataFrame, *, source: str, options: Options = Options(),
                 keys: Sequence[str] | None = None, computed: Mapping[str, Section] | None = None,
                 sample_responses: int = 0, prompts: Mapping[str, str] | None = None) -> str:
    """Compute every section for ``frame`` and render them as one HTML page.

    ``computed`` holds sections already built for this same frame and options (the dashboard's
    open tabs), which are reused rather than computed again. With no verdict at all (every
    check a judge error, or not judged yet) only the sections that describe the data are
    built, under a notice saying so: a run that failed entirely still gets a report that shows why.
    ``sample_responses`` items per model (0: none, the default; responses may be sensitive) are
    appended, with prompt texts from ``prompts`` (id -> text) when given.
    """
    from .appendix import sample_html, summary_html

    computed = computed or {}
    # The Noise section only where the runs have epochs or judge repeats (``repeats``).
    keys = [*SECTION_TITLES, *shown_sections(frame)] if keys is None else list(keys)
    warnings = notices(frame)
    if not has_verdicts(frame):
        keys = [key for key in keys if key in VERDICT_FREE_SECTIONS]
        warnings = [*warnings, NO_VERDICTS_NOTICE]
    sections = [computed.get(key) or section_or_reason(key, frame, options) for key in keys]
    protocol = protocol_text(run_records(frame), frame)
    noise = noise_sentence(frame) if has_verdicts(frame) else ""
    summary = summary_html(frame, {s.key: s for s in sections}, protocol=protocol)
    return render_report(sections, title="EUDAIMONIA analysis report", source=source, warnings=warnings,
                         simulated=is_simulated(frame), summary=summary + (f"<p>{html.escape(noise)}</p>" if noise else ""),
                         appendix=sample_html(frame, prompts, per_model=sample_responses, seed=options.seed))


def write_report(text: str, out: Path, *, reading: Sequence[str | os.PathLike[str] | None] = (),
                 force: bool = False) -> Path:
    """Write atomically: a reader never sees a half-written report. ``outputs.check_output``
    refuses the store(s) in ``reading``, any SQLite file and (unless ``force``) a file that is
    not an HTML page."""
    out = check_output(out, fmt="html", reading=reading, force=force)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is meant to be shared
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
