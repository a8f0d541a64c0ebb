"""Compute the demo's slow section once, so that every later kernel reads it from disk.

The Mixed-effects tab fits a mixed model, a GEE cross-check and the selection check's 200
simulations (about 10 s on 22 models). Their fits are cached on disk by content
(``analysis.cache``); ``python -m eudaimonia_nb.report.warm`` fills that cache for the embedded
demo. ``make dashboard`` runs it beside Voila, and Binder's ``postBuild`` at build time, so the
demo's tab opens from the cache on the first visit too.
"""

from __future__ import annotations

import logging
import time

from .sections import HEAVY_SECTIONS, Options

log = logging.getLogger(__name__)


def warm_demo(options: Options = Options()) -> dict[str, float]:
    """Build the demo's heavy sections (fits land in the disk cache); seconds per section."""
    from ..analysis.simulate import demo_judgments
    from .builders import build_section

    frame = demo_judgments()
    took = {}
    for key in sorted(HEAVY_SECTIONS):
        started = time.perf_counter()
        build_section(key, frame, options)
        took[key] = time.perf_counter() - started
    return took


if __name__ == "__main__":
    for section, seconds in warm_demo().items():
        print(f"{section}: {seconds:.1f} s (cached on disk for later kernels)")
