"""Download the benchmark from its pinned official URL (or copy it from a ``file://`` URL) and
verify its SHA-256.

The file is written to a temporary name beside the destination and renamed only after the
hash matches, so a failed or interrupted download never leaves a file that looks valid.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from ..credentials import Redactor, shown_url, url_secrets
from ..paths import DATASET_SHA256, DATASET_URL, default_dataset_path

log = logging.getLogger(__name__)
_CHUNK = 1 << 16


class FetchError(RuntimeError):
    """The download failed; nothing was written."""


def fetch_benchmark(
    url: str = DATASET_URL,
    sha256: str = DATASET_SHA256,
    dest: str | os.PathLike[str] | None = None,
    timeout: float = 60.0,
    force: bool = False,
    deadline: float = 600.0,
    max_bytes: int | None = None,
) -> Path:
    """Download the benchmark to ``dest`` (default: the data cache) and return its path.

    ``timeout`` bounds each wait for data and ``deadline`` the whole download (a server that
    trickles bytes would otherwise keep it alive indefinitely). An existing file with the right
    hash is kept as it is unless ``force``. ``max_bytes`` refuses a larger file (by its
    ``Content-Length``, else as soon as more arrives), before anything is kept. Errors never show
    credentials the URL carries.
    """
    shown = shown_url(url)
    for name, value in (("timeout", timeout), ("deadline", deadline)):
        if not isinstance(value, (int, float)) or not 0 < value < float("inf"):
            raise FetchError(f"{name} {value!r}: expected a finite number of seconds > 0")
    parts = urlsplit(url)
    # file:// fills the cache offline from a copy someone gave you, with the same hash check.
    local = parts.scheme == "file" and parts.hostname in (None, "", "localhost") and bool(parts.path)
    if not local and (parts.scheme not in ("http", "https") or not parts.hostname):
        raise FetchError(f"URL {shown!r}: expected an http(s) URL like https://host/path/final_dataset.jsonl "
                         "or file:///path/to/final_dataset.jsonl")
    target = Path(dest) if dest is not None else default_dataset_path()
    # A trailing slash names a folder even before it exists.
    if target.is_dir() or (dest is not None and str(dest).endswith(("/", os.sep))):
        target = target / "final_dataset.jsonl"
    if not force and target.is_file() and _sha256_of(target) == sha256.lower():
        log.info("%s is already present and verified", target)
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".download-", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise FetchError(f"cannot save to {target}: {exc.strerror or exc}; nothing was downloaded") from None
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        received = 0
        ends_at = time.monotonic() + deadline
        with os.fdopen(fd, "wb") as out, _open(url, shown, min(timeout, deadline)) as response:
            expected_len = _content_length(response.headers.get("Content-Length"), shown)
            if max_bytes is not None and expected_len is not None and expected_len > max_bytes:
                raise FetchError(f"{shown} announces {expected_len:,} bytes, more than the {max_bytes:,} allowed; "
                                 "nothing was saved")
            try:
                # read1 returns what one read gives, so the deadline is checked between reads.
                while chunk := response.read1(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    if max_bytes is not None and received > max_bytes:
                        raise FetchError(f"{shown} sent more than the {max_bytes:,} bytes allowed; nothing was saved")
                    if time.monotonic() > ends_at:
                        raise FetchError(f"download of {shown} timed out: {received} bytes in the {deadline:g} s "
                                         f"allowed; nothing was saved")
            except (http.client.HTTPException, OSError) as exc:
                reason = "timed out waiting for data" if isinstance(exc, TimeoutError) else type(exc).__name__
                raise FetchError(f"download of {shown} failed after {received} bytes ({reason}); nothing was saved") from None
        if expected_len is not None and received != expected_len:
            raise FetchError(f"download of {shown} was cut short: {received} of {expected_len} bytes")
        actual = digest.hexdigest()
        if actual != sha256.lower():
            raise FetchError(
                f"SHA-256 mismatch for {shown}: expected {sha256.lower()}, got {actual} "
                f"({received} bytes). The file was not saved."
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the benchmark is public data
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.info("saved %s (%d bytes, sha256 verified)", target, received)
    return target


def _content_length(value: str | None, shown: str) -> int | None:
    if value is None:
        return None
    try:
        length = int(value)
    except ValueError:
        length = -1
    if length < 0:
        raise FetchError(f"{shown} sent an invalid Content-Length header ({value[:40]!r}); nothing was saved")
    return length


def _open(url: str, shown: str, timeout: float):
    try:
        return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - the URL is the user's choice
    except urllib.error.HTTPError as exc:
        raise FetchError(f"HTTP {exc.code} {exc.reason} from {shown}; nothing was saved") from None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError):
            reason = f"timed out after {timeout:g} s waiting for an answer"
        raise FetchError(f"could not reach {shown}: {Redactor(url_secrets(url))(str(reason))}; nothing was saved") from None


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
