"""Download the benchmark from its pinned official URL and verify its SHA-256.

The file is written to a temporary name beside the destination and renamed only after the
hash matches, so a failed or interrupted download never leaves a file that looks valid.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from .paths import DATASET_SHA256, DATASET_URL, default_dataset_path

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
) -> Path:
    """Download the benchmark to ``dest`` (default: the data cache) and return its path.

    An existing file with the right hash is kept as it is unless ``force``.
    """
    target = Path(dest) if dest is not None else default_dataset_path()
    # A trailing slash names a folder even before it exists.
    if target.is_dir() or (dest is not None and str(dest).endswith(("/", os.sep))):
        target = target / "final_dataset.jsonl"
    if not force and target.is_file() and _sha256_of(target) == sha256.lower():
        log.info("%s is already present and verified", target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".download-", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        received = 0
        with os.fdopen(fd, "wb") as out, _open(url, timeout) as response:
            expected_len = response.headers.get("Content-Length")
            try:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
            except (http.client.HTTPException, OSError) as exc:
                raise FetchError(f"download of {url} failed after {received} bytes: {exc!r}; nothing was saved") from None
        if expected_len is not None and received != int(expected_len):
            raise FetchError(f"download of {url} was cut short: {received} of {expected_len} bytes")
        actual = digest.hexdigest()
        if actual != sha256.lower():
            raise FetchError(
                f"SHA-256 mismatch for {url}: expected {sha256.lower()}, got {actual} "
                f"({received} bytes). The file was not saved."
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the benchmark is public data
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.info("saved %s (%d bytes, sha256 verified)", target, received)
    return target


def _open(url: str, timeout: float):
    try:
        return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - the URL is the user's choice
    except urllib.error.HTTPError as exc:
        raise FetchError(f"HTTP {exc.code} {exc.reason} from {url}; nothing was saved") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(f"could not reach {url}: {reason}; nothing was saved") from None


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
