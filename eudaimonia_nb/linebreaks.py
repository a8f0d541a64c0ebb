"""Line breaks that JSON writers leave raw but line-based readers honour.

``json.dumps(..., ensure_ascii=False)`` and pandas' ``to_json(force_ascii=False)`` escape the
ASCII control characters but write U+0085, U+2028 and U+2029 as they are, while Python's
``str.splitlines`` (and JavaScript) break lines on them. Inside a JSON string the escape
``\\u2028`` is the same character, so escaping them changes no value and keeps one record
on one line.
"""

from __future__ import annotations

JSON_LINE_BREAKS = str.maketrans({"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})
"""``str.translate`` table escaping those characters (valid only where they sit inside JSON strings)."""


def escape_json_line_breaks(json_text: str) -> str:
    """JSON text (one document or JSON Lines) with the non-ASCII line breaks escaped."""
    return json_text.translate(JSON_LINE_BREAKS)
