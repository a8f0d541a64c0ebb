"""Issue 24, point 8, the smaller items: a report on a full disk, bootstrap counts that are not
counts, a port that is not a port, exception text in the labelling widget, and a redaction that
must change nothing the second time."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from validity_helpers import make_validity_store

from eudaimonia_nb.credentials import Redactor

CLI = [sys.executable, "-m", "eudaimonia_nb"]


def _cli(*args: str, preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600, env=dict(os.environ),
                          preexec_fn=preexec)


def _small_files_only() -> None:
    # A disk that takes 200 KB per file, then refuses: writes fail with EFBIG, as with ENOSPC
    # on a full disk (SIGXFSZ ignored, so the write returns the error instead of killing us).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))


def test_a_report_that_cannot_be_written_is_one_line_and_leaves_nothing(tmp_path):
    out = tmp_path / "reports" / "report.html"
    done = _cli("report", "--n-boot", "5", "--out", str(out), preexec=_small_files_only)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "File too large" in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert list(out.parent.iterdir()) == []  # no temporary file, no half-written report


@pytest.mark.parametrize("value", ["-3", "0", "nan"])
def test_bootstrap_counts_must_be_positive_integers_everywhere(tmp_path, value):
    store = tmp_path / "s.sqlite"  # argparse refuses before any store is read
    for command in (["validity", "--store", str(store)], ["study", "--store", str(store)],
                    ["report", "--source", "store", "--store", str(store), "--out", str(tmp_path / "r.html")]):
        done = _cli(*command, f"--n-boot={value}")
        assert done.returncode == 2 and "argument --n-boot: expected an integer >= 1" in done.stderr, (command,
                                                                                                       done.stderr)


@pytest.mark.parametrize("port", ["99999", "0", "-1", "65536"])
def test_serve_local_refuses_a_port_that_is_not_one(port):
    done = _cli("serve-local", f"--port={port}")
    assert done.returncode == 2 and "argument --port: expected" in done.stderr and "Traceback" not in done.stderr


def test_the_labelling_widget_shows_exception_text_as_text(tmp_path, benchmark):
    from eudaimonia_nb.widgets.labelling import LabellingUI

    payload = "<img src=x onerror=alert(1)>"
    ui = LabellingUI(tmp_path / payload / "missing.sqlite", benchmark=benchmark)
    assert "eud-error" in ui.status.value and payload not in ui.status.value
    assert "&lt;img src=x onerror=alert(1)&gt;" in ui.status.value

    store = tmp_path / "s.sqlite"
    make_validity_store(store, benchmark, n_prompts=6)
    ui = LabellingUI(store, benchmark=benchmark)
    ui.runs.value = (ui.runs.options[0],) if isinstance(ui.runs.options[0], str) else (ui.runs.options[0][1],)
    ui.labeller.value, ui.size.value = f"{payload}\u202e", 4
    ui.start()
    ui.label(1)
    assert "NOT saved" in ui.status.value and payload not in ui.status.value and "&lt;img" in ui.status.value


@pytest.mark.parametrize("text", [
    "Authorization: Bearer sk-live-0123456789abcdefghij", "Basic dXNlcjpwYXNzd29yZA==", "token abcdefghijkl0123 end",
    "x-api-key: \"k-0123456789abcdef\"", "https://user:pw@host/v1?api_key=abcdef123456&v=1", "Bearer [redacted]",
])
def test_redaction_is_idempotent(text):
    redact = Redactor(["sk-live-0123456789abcdefghij"])
    once = redact(text)
    assert redact(once) == once and redact(redact(once)) == once
    assert "]]" not in once
