"""Heavy dashboard sections computed ahead of time, one result per selection.

The mixed-effects section (Laplace fit, GEE cross-check, selection check) takes many seconds
on 22 models. The dashboard asks ``SectionPrefetch.start`` to compute the default selection's
heavy sections in a background thread once the first figure is drawn, so a kernel that Voila
preheated has them ready when the tab is opened; ``get`` returns a finished result, waits for
the one in flight for the same selection (never starting a second fit), or computes it.
Results are keyed by the selection, so a filter changed while a background fit runs gets its
own result, never the other selection's.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future

from ..report import Section

log = logging.getLogger(__name__)


class SectionPrefetch:
    """Sections by (section key, selection), computed at most once each; keeps the ``size``
    most recently used."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._results: OrderedDict[tuple[str, Hashable], Future[Section]] = OrderedDict()
        self._lock = threading.Lock()

    def _claim(self, key: str, selection: Hashable) -> tuple[Future[Section], bool]:
        """The future for this selection and whether the caller must compute it."""
        with self._lock:
            slot = (key, selection)
            future = self._results.get(slot)
            if future is not None:
                self._results.move_to_end(slot)
                return future, False
            future = Future()
            self._results[slot] = future
            while len(self._results) > self.size:
                self._results.popitem(last=False)
            return future, True

    def _run(self, key: str, selection: Hashable, future: Future[Section], build: Callable[[], Section]) -> None:
        try:
            future.set_result(build())
        except BaseException as exc:  # handed to whoever waits; the next request computes again
            with self._lock:
                if self._results.get((key, selection)) is future:
                    del self._results[(key, selection)]
            future.set_exception(exc)

    def start(self, key: str, selection: Hashable, build: Callable[[], Section]) -> Future[Section]:
        """Compute in a background thread unless this selection is done or in flight."""
        future, mine = self._claim(key, selection)
        if mine:
            log.info("prefetching section %s", key)
            threading.Thread(target=self._run, args=(key, selection, future, build), daemon=True,
                             name=f"prefetch-{key}").start()
        return future

    def get(self, key: str, selection: Hashable, build: Callable[[], Section]) -> Section:
        """This selection's section: cached, awaited if in flight, or computed here."""
        future, mine = self._claim(key, selection)
        if mine:
            self._run(key, selection, future, build)
        return future.result()

    def pending(self, key: str, selection: Hashable) -> Future[Section] | None:
        """The future for this selection, if one was started."""
        with self._lock:
            return self._results.get((key, selection))

    def clear(self) -> None:
        """Forget every result (new data was loaded); fits in flight finish unused."""
        with self._lock:
            self._results.clear()
