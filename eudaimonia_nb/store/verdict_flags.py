"""How a verdict was read, and when that reading is doubtful: the names both the judge (which
writes them) and the analysis (which sets flagged checks apart) use.

Every verdict records its ``parse_path`` (which of the authors' readings produced it) and its
``verdict_flags`` (semicolon-separated, empty when clean). The authors' reading stays the rate
that reproduces their numbers; a flag says that a reader should not trust this one verdict
without looking (``eudaimonia-nb rates --exclude-flagged`` sets flagged checks apart).
"""

from __future__ import annotations

from collections.abc import Iterable

PARSE_PATHS: dict[str, str] = {
    "whole": "the whole reply parsed as JSON",
    "fence": "the first fenced code block",
    "braces": "the first brace pair with no braces inside",
    "nested": "the first brace pair with one level of braces inside",
    "regex": "a regular expression on \"keep\": true/false",
}
"""``parse_path`` values of the authors' parser, in the order it tries them. The suite
protocol's strict parser records none (it reads exactly one unambiguous verdict or fails)."""

FLAGS: dict[str, str] = {
    "candidates_disagree": "the reply holds verdicts that disagree, and the parser took one of them",
    "truncated": "the reply was cut off at the token limit (finish_reason: length)",
    "keep_not_boolean": "keep was not a JSON true/false (a number, a list, a word, null) and was coerced",
    "keep_missing": "the object read as the verdict has no keep (counted as no violation)",
    "verdict_in_response": "the verdict block read also occurs verbatim in the judged response",
}
"""Flag -> what it means. A flagged verdict may have been chosen by the response under test."""
SEPARATOR = ";"


def join_flags(flags: Iterable[str]) -> str:
    """The stored form: known flags in ``FLAGS`` order, ``;``-separated ("" when clean)."""
    given = set(flags)
    unknown = given - set(FLAGS)
    if unknown:
        raise ValueError(f"unknown verdict flag(s) {', '.join(sorted(unknown))}; expected {', '.join(FLAGS)}")
    return SEPARATOR.join(name for name in FLAGS if name in given)


def split_flags(text: object) -> tuple[str, ...]:
    """The flags of a stored value (None, NaN or "" is none)."""
    if not isinstance(text, str) or not text:
        return ()
    return tuple(part for part in text.split(SEPARATOR) if part)
