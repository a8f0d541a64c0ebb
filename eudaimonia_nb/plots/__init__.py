"""Plotly figure builders. Shared styling lives here so every figure speaks one visual language."""

from __future__ import annotations

from ..design_code import PRINCIPLES, REQUIREMENTS

SOURCE_COLORS = {"real": "#1b6ca8", "modified": "#e07b24"}
"""Real (in-the-wild) versus modified (rewritten) prompts, the same in every figure."""
SOURCE_LABELS = {"real": "Real (in-the-wild)", "modified": "Modified (rewritten)"}
PRINCIPLE_COLORS = {1: "#4c72b0", 2: "#c44e52", 3: "#55a868"}
PRINCIPLE_LABELS = {p.number: f"P{p.number}. {p.name}" for p in PRINCIPLES}
REQUIREMENT_LABELS = {r.key: r.label for r in REQUIREMENTS}
"""Axis labels in design-code order, e.g. ``2C Flattery tone``."""
TEMPLATE = "plotly_white"
