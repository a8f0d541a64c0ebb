"""Plotly figure builders. Shared styling lives here so every figure speaks one visual language.

May import: the shared ground, ``benchmark`` and ``analysis`` (figures draw analysis results).
Never the store directly, ``judging``, or the stages above (``validity``, ``report``, ``widgets``).
"""

from __future__ import annotations

from ..benchmark.design_code import PRINCIPLES, REQUIREMENTS

SOURCE_COLORS = {"real": "#1b6ca8", "modified": "#e07b24"}
"""Real (in-the-wild) versus modified (rewritten) prompts, the same in every figure."""
SOURCE_LABELS = {"real": "Real (in-the-wild)", "modified": "Modified (rewritten)"}
"""Legend and badge text for each source."""
PRINCIPLE_LABELS = {p.number: f"P{p.number}. {p.name}" for p in PRINCIPLES}
"""Display label per principle number, e.g. ``P2. Protect human intimacy``; used by plots and selectors."""
REQUIREMENT_LABELS = {r.key: r.label for r in REQUIREMENTS}
"""Axis labels in design-code order, e.g. ``2C Flattery tone``."""
TEMPLATE = "plotly_white"
MODEL_PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")
"""Okabe-Ito colours for categories such as models: distinguishable under colour-vision deficiency."""
