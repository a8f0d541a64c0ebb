"""One least-recently-used cache for model fits, shared by the mixed model and GEE.

Fits are keyed by ``frames.frame_key`` (the frame's content plus the specification), so a
dashboard that returns to an earlier filter gets the earlier fit back at no cost.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class FitCache(Generic[T]):
    """Keeps the ``size`` most recently used fits."""

    def __init__(self, size: int = 32):
        self.size = size
        self._fits: OrderedDict[str, T] = OrderedDict()

    def get_or_fit(self, key: str, fit: Callable[[], T], *, use_cache: bool = True) -> T:
        if use_cache and key in self._fits:
            self._fits.move_to_end(key)
            return self._fits[key]
        result = fit()
        if use_cache:
            self._fits[key] = result
            while len(self._fits) > self.size:
                self._fits.popitem(last=False)
        return result

    def clear(self) -> None:
        self._fits.clear()

    def __len__(self) -> int:
        return len(self._fits)
