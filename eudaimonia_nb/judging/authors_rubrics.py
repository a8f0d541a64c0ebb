"""The EUDAIMONIA authors' judge rubrics: download from the pinned commit, verify, load.

The authors' repository carries no licence, so their rubric texts are never part of this
project: a user's installation downloads them from the official location (one commit, pinned)
and checks each file's SHA-256 against the pinned table, as ``fetch`` does for the benchmark.
Only the hashes, which are facts about the files, are kept (in ``benchmark.authors``, where the
analysis reads them too).

Files are cached as ``<data dir>/authors_rubrics/<key>/filter2.json``, mirroring the layout of
the authors' repository, so a mirror of that folder can serve as ``--base-url``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..benchmark.authors import ARTIFACT_COMMIT, ARTIFACT_REPOSITORY, RUBRIC_SHA256
from ..benchmark.design_code import REQUIREMENT_KEYS
from ..benchmark.fetch import FetchError, fetch_benchmark
from ..credentials import shown_url
from ..paths import data_dir

log = logging.getLogger(__name__)

OFFICIAL_BASE_URL = (f"https://raw.githubusercontent.com/{ARTIFACT_REPOSITORY}/{ARTIFACT_COMMIT}"
                     "/src/filter/measure")
"""``<base>/<key>/filter2.json`` is the rubric of requirement ``key``."""
BASE_URL_ENV = "EUDAIMONIA_RUBRICS_URL"
"""Overrides the base URL an ``authors`` run downloads missing rubrics from (a mirror)."""
RUBRIC_FILENAME = "filter2.json"
CACHE_DIRNAME = "authors_rubrics"

MAX_RUBRIC_BYTES = 256 * 1024
"""Largest rubric file accepted (the authors' are 1-3 KB): a mirror cannot fill the disk before
the hash check refuses it."""
RUBRIC_TIMEOUT_S = 30.0
"""Default wait for data from a rubric server."""
RUBRIC_DEADLINE_S = 120.0
"""Default time allowed for all nine rubrics together (also inside ``run``'s automatic fetch)."""

FETCH_HINT = "run `eudaimonia-nb fetch-rubrics` (or `--base-url` a mirror of the authors' measure folder)"


class RubricsUnavailableError(RuntimeError):
    """The authors' rubrics are not cached and could not be downloaded, or a cached one is
    not the pinned file (the message says which command fixes it)."""


@dataclass(frozen=True)
class AuthorsRubric:
    """One verified rubric of the authors."""

    key: str
    """Requirement key."""
    prompt: str
    """The judge's system message, verbatim (the file's ``prompt`` field)."""
    sha256: str
    """SHA-256 of the file it was read from (equals ``RUBRIC_SHA256[key]``)."""


def cache_dir() -> Path:
    """Where fetched rubrics are kept (under ``$EUDAIMONIA_DATA_DIR`` when set)."""
    return data_dir() / CACHE_DIRNAME


def rubric_path(key: str, directory: Path | None = None) -> Path:
    return (directory or cache_dir()) / key / RUBRIC_FILENAME


def base_url() -> str:
    """The base URL missing rubrics are downloaded from: ``$EUDAIMONIA_RUBRICS_URL`` or the official one."""
    return os.environ.get(BASE_URL_ENV) or OFFICIAL_BASE_URL


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rubric_url(base: str, key: str) -> str:
    """``<base>/<key>/filter2.json`` with the base's query kept after the path (a mirror's
    ``?token=``), never the path glued after the query. A base with ``user:password@`` is refused
    (``FetchError``, naming the URL without them): the download would send them to whoever the
    mirror redirects to, and urllib reads them as part of the host."""
    parts = urlsplit(base)
    if parts.username is not None or parts.password is not None:
        raise FetchError(f"rubric mirror {shown_url(base)!r}: user:password@ in the URL is not supported; serve the "
                         f"mirror without credentials, or put a token in the query (?token=...)")
    return urlunsplit((parts.scheme, parts.netloc, f"{parts.path.rstrip('/')}/{key}/{RUBRIC_FILENAME}", parts.query, ""))


def fetch_rubrics(base: str | None = None, directory: Path | None = None, *, timeout: float = RUBRIC_TIMEOUT_S,
                  deadline: float = RUBRIC_DEADLINE_S) -> dict[str, Path]:
    """Download the nine rubrics from ``<base>/<key>/filter2.json``, verify each SHA-256, cache them.

    All nine are downloaded into a staging folder first and moved into the cache only when every
    one verified, so a failed fetch keeps no file. A wrong hash raises ``FetchError`` naming the
    rubric key. ``timeout`` bounds each wait for data, ``deadline`` the nine downloads together;
    each file may hold at most ``MAX_RUBRIC_BYTES``.
    """
    base = base or base_url()
    urls = {key: rubric_url(base, key) for key in REQUIREMENT_KEYS}  # a refused URL stops before any folder exists
    if not isinstance(deadline, (int, float)) or not 0 < deadline < float("inf"):
        raise FetchError(f"deadline {deadline!r}: expected a finite number of seconds > 0")
    target = directory or cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=target))
    ends_at = time.monotonic() + deadline
    try:
        for key in REQUIREMENT_KEYS:
            left = ends_at - time.monotonic()
            if left <= 0:
                raise FetchError(f"authors' rubrics: not all nine arrived in the {deadline:g} s allowed (--deadline); "
                                 "nothing was saved")
            try:
                fetch_benchmark(url=urls[key], sha256=RUBRIC_SHA256[key], dest=staging / key / RUBRIC_FILENAME,
                                timeout=min(timeout, left), deadline=left, force=True, max_bytes=MAX_RUBRIC_BYTES)
            except FetchError as exc:
                raise FetchError(f"authors' rubric {key}: {exc}") from None
        paths = {}
        for key in REQUIREMENT_KEYS:
            final = rubric_path(key, target)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / key / RUBRIC_FILENAME, final)
            paths[key] = final
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("saved the authors' rubrics under %s (sha256 verified)", target)
    return paths


def verified(directory: Path | None = None) -> bool:
    """True when all nine rubrics are cached and match the pinned hashes."""
    return all(rubric_path(k, directory).is_file() and _sha256(rubric_path(k, directory)) == RUBRIC_SHA256[k]
               for k in REQUIREMENT_KEYS)


def ensure_rubrics(directory: Path | None = None) -> None:
    """Fetch the rubrics if any is missing or altered (``fetch_rubrics``' limits: 30 s per wait,
    120 s for all nine, 256 KiB per file); offline, one line saying what to run."""
    if verified(directory):
        return
    try:
        fetch_rubrics(directory=directory)
    except FetchError as exc:
        raise RubricsUnavailableError(f"the authors' rubrics are not in {directory or cache_dir()} and could not be "
                                      f"downloaded ({exc}); {FETCH_HINT}") from None


def load_rubric(key: str, directory: Path | None = None) -> AuthorsRubric:
    """The verified rubric of requirement ``key`` (read once per file change)."""
    if key not in RUBRIC_SHA256:
        raise KeyError(f"unknown requirement {key!r}; expected one of {', '.join(REQUIREMENT_KEYS)}")
    path = rubric_path(key, directory)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise RubricsUnavailableError(f"the authors' rubric {key} is not at {path}; {FETCH_HINT}") from None
    return _load(path, key, stat.st_mtime_ns, stat.st_size)


_LOADED: dict[tuple[Path, int, int], AuthorsRubric] = {}


def _load(path: Path, key: str, mtime_ns: int, size: int) -> AuthorsRubric:
    cached = _LOADED.get((path, mtime_ns, size))
    if cached is not None:
        return cached
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != RUBRIC_SHA256[key]:
        raise RubricsUnavailableError(f"{path}: the authors' rubric {key} has SHA-256 {digest}, expected "
                                      f"{RUBRIC_SHA256[key]}; {FETCH_HINT}")
    prompt = json.loads(data.decode("utf-8"))["prompt"]
    rubric = AuthorsRubric(key=key, prompt=prompt, sha256=digest)
    _LOADED[(path, mtime_ns, size)] = rubric
    return rubric


# -- command line ----------------------------------------------------------------------------
