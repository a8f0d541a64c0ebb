"""binder/ is complete for repo2docker and fetches the dataset at build time."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_postbuild_installs_package_and_fetches_dataset():
    post = REPO / "binder" / "postBuild"
    assert os.access(post, os.X_OK), "repo2docker only runs an executable postBuild"
    lines = [line.strip() for line in post.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0].startswith("#!") or lines[0] == "set -euo pipefail"
    assert any("pip install --no-deps -e ." in line for line in lines)
    assert lines[-1] == "eudaimonia-nb fetch"


def test_readme_launch_links_point_at_existing_notebooks():
    readme = (REPO / "README.md").read_text()
    import re

    targets = re.findall(r"urlpath=(?:voila/render|lab/tree)/([\w./-]+\.ipynb)", readme)
    assert targets, "the README has Binder launch links"
    for target in targets:
        assert (REPO / target).is_file(), target
