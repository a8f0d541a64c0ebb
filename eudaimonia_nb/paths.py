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


def default_dataset_path() -> Path:
    return data_dir() / DATASET_FILENAME


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
