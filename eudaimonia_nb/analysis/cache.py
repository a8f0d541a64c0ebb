"""One least-recently-used cache for model fits, shared by the mixed model, GEE and the
selection check, with an optional copy on disk.

Fits are keyed by ``frames.frame_key`` (the frame's content plus the specification), so a
dashboard that returns to an earlier filter gets the earlier fit back at no cost. A cache with a
``disk`` name also keeps each fit as a file under ``<data dir>/cache/fits/<name>/``, so a fit is
computed once per machine, not once per kernel: the demo's mixed-effects tab (fit, GEE and
selection check, about 10 s) opens in a new kernel from three files. The file name hashes the
key together with the source of this package's ``analysis`` modules and the versions of Python,
numpy, pandas, scipy and statsmodels, so an edited estimator or an upgraded library never reads
an old fit. A file that cannot be read is ignored (and the fit recomputed); one that cannot be
written is skipped. ``EUDAIMONIA_FIT_CACHE=off`` turns the disk copy off.

The files are pickles: only this package writes them, under the user's own data directory, and
they are read from there only (see docs/security.md).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import platform
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Generic, TypeVar

from ..paths import data_dir

log = logging.getLogger(__name__)

T = TypeVar("T")
DISK_ENV = "EUDAIMONIA_FIT_CACHE"
"""``off`` keeps fits in memory only."""
DISK_DIRNAME = Path("cache") / "fits"


@lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of what a cached fit depends on: this package's analysis source and the libraries."""
    from importlib.metadata import PackageNotFoundError, version

    digest = hashlib.sha256(platform.python_version().encode())
    for name in ("numpy", "pandas", "scipy", "statsmodels"):
        try:
            digest.update(f"{name}={version(name)}".encode())
        except PackageNotFoundError:
            digest.update(name.encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def disk_dir(name: str) -> Path:
    return data_dir() / DISK_DIRNAME / name


def _disk_enabled() -> bool:
    return os.environ.get(DISK_ENV, "").strip().lower() not in ("off", "0", "no", "false")


class FitCache(Generic[T]):
    """Keeps the ``size`` most recently used fits; with ``disk``, also one file per fit."""

    def __init__(self, size: int = 32, *, disk: str | None = None):
        self.size = size
        self.disk = disk
        self._fits: OrderedDict[str, T] = OrderedDict()

    def _path(self, key: str) -> Path:
        assert self.disk is not None
        name = hashlib.sha256(f"{key}|{code_version()}".encode()).hexdigest()[:32]
        return disk_dir(self.disk) / f"{name}.pickle"

    def _load(self, key: str) -> T | None:
        if self.disk is None or not _disk_enabled():
            return None
        path = self._path(key)
        try:
            with path.open("rb") as handle:
                return pickle.load(handle)  # noqa: S301 - written by this class, in the user's data dir
        except FileNotFoundError:
            return None
        except Exception as exc:  # a truncated or foreign file: recompute, never fail a page on it
            log.info("ignoring the cached fit %s (%s)", path, exc)
            return None

    def _save(self, key: str, result: T) -> None:
        if self.disk is None or not _disk_enabled():
            return
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written whole, then renamed: a reader never sees half a file.
            fd, partial = tempfile.mkstemp(prefix=".fit-", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as handle:
                    pickle.dump(result, handle, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(partial, path)
            finally:
                if os.path.exists(partial):
                    os.unlink(partial)
        except (OSError, pickle.PicklingError) as exc:
            log.info("fit not kept on disk at %s (%s)", path, exc)

    def get_or_fit(self, key: str, fit: Callable[[], T], *, use_cache: bool = True) -> T:
        if use_cache and key in self._fits:
            self._fits.move_to_end(key)
            return self._fits[key]
        result = self._load(key) if use_cache else None
        if result is None:
            result = fit()
            if use_cache:
                self._save(key, result)
        if use_cache:
            self._fits[key] = result
            while len(self._fits) > self.size:
                self._fits.popitem(last=False)
        return result

    def clear(self) -> None:
        """Forget the fits kept in memory (files on disk stay: they are keyed by content)."""
        self._fits.clear()

    def __len__(self) -> int:
        return len(self._fits)
