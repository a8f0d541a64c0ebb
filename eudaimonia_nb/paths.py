"""Where the suite keeps its files, the pinned official dataset location, and which package
version is running.

Nothing here touches the disk at import time; functions resolve paths when asked.
"""

from __future__ import annotations

import os
from functools import cache
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "eudaimonia-nb"
"""The distribution name in ``pyproject.toml``, whose version is the one version of the suite."""

DATASET_URL = (
    "https://raw.githubusercontent.com/eudaimonia-bench/eudaimonia-bench.github.io/"
    "3af597ca68058d960ef0882805a65f82edbc27c2/data/final_dataset.jsonl"
)
"""The benchmark file pinned to one commit of the authors' web page repository."""
DATASET_SHA256 = "7d84c0fbb3d1ca7483a9afdab9bdf2216e1858ce2393311363e916958606fd6f"
DATASET_FILENAME = "final_dataset.jsonl"

REPO_DATASET_URL = (
    "https://raw.githubusercontent.com/eudaimoniabenchmark-dot/eudaimonia-benchmark/"
    "dadfaeb7083ec46d882a0918ff5c6354ac3c2e45/data/final_dataset.jsonl"
)
"""The other official copy: the benchmark file in the authors' artifact repository, same commit
as their rubrics. It differs from the site copy in the prompt text of two prompts
(``benchmark.authors.COPY_DIFFERENCE``); which copy the published runs used is not stated."""
REPO_DATASET_SHA256 = "f51e29bb3c8d1205178e5e31aafddb9329504dd85a790aaed1bd6892b0945758"
DATASET_COPIES: dict[str, tuple[str, str]] = {
    "site": (DATASET_URL, DATASET_SHA256),
    "repo": (REPO_DATASET_URL, REPO_DATASET_SHA256),
}
"""Official copy name -> (pinned URL, SHA-256); ``site`` is the default everywhere."""


def dataset_copy(sha256: str | None) -> str | None:
    """``site`` or ``repo`` for a file with one of the pinned hashes, None for any other file."""
    return next((name for name, (_, digest) in DATASET_COPIES.items() if digest == sha256), None)

DATA_DIR_ENV = "EUDAIMONIA_DATA_DIR"
DATASET_ENV = "EUDAIMONIA_DATASET"


def project_root() -> Path | None:
    """The source checkout this package runs from, if it runs from one (editable install)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def data_dir() -> Path:
    """Directory for the downloaded benchmark, the results store and caches.

    ``$EUDAIMONIA_DATA_DIR`` if set, else ``data/`` of the source checkout, else
    ``~/.cache/eudaimonia-nb``.
    """
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    root = project_root()
    if root is not None:
        return root / "data"
    return Path.home() / ".cache" / "eudaimonia-nb"


def published_dir() -> Path:
    """Committed transcriptions of the paper's published figures."""
    root = project_root()
    if root is None:
        raise FileNotFoundError("published figures ship with the source checkout (data/published/)")
    return root / "data" / "published"


def default_dataset_path(copy: str = "site") -> Path:
    """Where ``fetch`` keeps a copy: ``final_dataset.jsonl`` (site) or ``final_dataset.repo.jsonl``."""
    if copy not in DATASET_COPIES:
        raise ValueError(f"benchmark copy {copy!r}: expected one of {', '.join(DATASET_COPIES)}")
    return data_dir() / (DATASET_FILENAME if copy == "site" else DATASET_FILENAME.replace(".jsonl", f".{copy}.jsonl"))


WORKDIR_ENV = "EUDAIMONIA_WORKDIR"
"""Where the user stands (``make`` sets it to the checkout root): relative paths start there."""


def user_path(text: str | os.PathLike[str]) -> Path:
    """A path as the user typed it, resolved from where they stand, not from the kernel's folder.

    Voila and Jupyter run a notebook's kernel in the notebook's folder (``notebooks/``), so
    ``data/results.sqlite`` would miss. Relative paths start at ``$EUDAIMONIA_WORKDIR``, else at
    ``$PWD`` (the shell's folder, which a kernel inherits unchanged), else the current directory.
    """
    path = Path(text).expanduser()
    if path.is_absolute():
        return path
    base = os.environ.get(WORKDIR_ENV) or os.environ.get("PWD") or os.getcwd()
    return Path(base) / path


@cache
def package_version() -> str:
    """The installed suite's version (``pyproject.toml``'s, read from the installed metadata):
    recorded with every run and written into reports."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        # Run from a checkout on sys.path without installing: say so rather than guess.
        return "0+unknown"
