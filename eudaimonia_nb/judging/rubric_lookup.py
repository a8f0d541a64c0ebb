"""The rubric a verdict was judged with, found by the rubric version recorded with it.

Every verdict records a short rubric version (``rubric_version``: the first 12 hex digits of
the rubric's SHA-256). The text behind it is one of

- an authors' rubric (the ``authors`` protocol): ``authors_rubrics.RUBRIC_SHA256`` names the
  nine pinned files; the text is read from the fetched, hash-checked copy on this machine (never
  from this project, which holds only their hashes);
- a suite rubric (the ``suite`` protocol): ``benchmark/rubrics/<key>.md`` as it is now, whose
  version is ``Requirement.rubric_version``.

A version that is neither (a suite rubric edited since, or the authors' files not fetched yet)
has no text here: ``ShownRubric.missing`` says so and how to get it, so a person never reads a
rubric the judge did not see. Labelling (notebook 4), the Responses tab and the report call
``find_rubric``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..benchmark.design_code import requirement
from . import authors_rubrics

AUTHORS = "authors"
SUITE = "suite"


@dataclass(frozen=True)
class ShownRubric:
    """The rubric behind one verdict, or why its text is not here."""

    key: str
    """Requirement key."""
    version: str
    """The rubric version recorded with the verdict ("" when none was recorded)."""
    protocol: str | None
    """``authors`` or ``suite``: whose rubric the version is; None when it is neither's."""
    text: str | None
    """The rubric text the judge saw; None when it is not on this machine."""
    source: str
    """Where the text comes from, in words (or where it would)."""
    missing: str = ""
    """Why the text is not shown and what to run to get it ("" when it is shown)."""

    @property
    def title(self) -> str:
        """``the authors' rubric (authors protocol), version 6151cfb20ac1``."""
        whose = {AUTHORS: "the authors' rubric (authors protocol)",
                 SUITE: "the suite's rubric (suite protocol)"}.get(self.protocol or "", "an unknown rubric")
        return f"{whose}, version {self.version or 'not recorded'}"


def authors_versions() -> dict[str, str]:
    """Requirement key -> the short version of the authors' pinned rubric."""
    return {key: digest[:12] for key, digest in authors_rubrics.RUBRIC_SHA256.items()}


def _authors(key: str, version: str, directory: Path | None) -> ShownRubric:
    source = (f"{authors_rubrics.RUBRIC_FILENAME} of {key} in the authors' repository "
              f"({authors_rubrics.ARTIFACT_REPOSITORY} at {authors_rubrics.ARTIFACT_COMMIT[:7]}), "
              "fetched to this machine and SHA-256 verified")
    try:
        text = authors_rubrics.load_rubric(key, directory).prompt
    except authors_rubrics.RubricsUnavailableError as exc:
        return ShownRubric(key, version, AUTHORS, None, source,
                           f"The authors' rubric is not on this machine ({exc}). Its text is never part of this "
                           f"project: {authors_rubrics.FETCH_HINT}, then reopen this view.")
    return ShownRubric(key, version, AUTHORS, text, source)


def find_rubric(key: str, version: str | None, protocol: str | None = None, *,
                directory: Path | None = None) -> ShownRubric:
    """The rubric recorded as ``version`` for requirement ``key``.

    ``protocol`` (the run's) decides only when no version was recorded; a recorded version is
    looked up among the authors' pinned rubrics and the suite's current ones, whatever the
    protocol says. ``directory``: where the authors' rubrics are cached (default: the data dir).
    """
    req = requirement(key)
    version = (version or "").strip()
    suite_version = req.rubric_version
    suite_source = f"the suite's rubric file eudaimonia_nb/benchmark/rubrics/{key}.md"
    if version and version == authors_versions()[key]:
        return _authors(key, version, directory)
    if version and version == suite_version:
        return ShownRubric(key, version, SUITE, req.rubric, suite_source)
    if not version:
        if protocol == AUTHORS:
            return _authors(key, authors_versions()[key], directory)
        if protocol == SUITE:
            return ShownRubric(key, suite_version, SUITE, req.rubric, f"{suite_source} (no version was recorded "
                               "with this verdict: the current file is shown)")
        return ShownRubric(key, "", None, None, "", "No rubric version was recorded with this verdict, and the run "
                           "names no protocol: which rubric the judge saw is unknown.")
    return ShownRubric(
        key, version, None, None, suite_source,
        f"Rubric version {version} is neither the authors' rubric ({authors_versions()[key]}) nor the suite's "
        f"current rubric file ({suite_version}): the file was edited after this verdict, so the text the judge saw "
        f"is not on this machine (git history of eudaimonia_nb/benchmark/rubrics/{key}.md holds earlier versions). "
        "No other text is shown in its place.")
