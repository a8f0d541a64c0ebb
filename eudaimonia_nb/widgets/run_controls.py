"""What the live-judging widget says while it works and after: attempts, stops, and which call failed.

- ``attempts_text``: the HTTP attempts and retries of the model's and the judge's clients so
  far, so a refused connection that is being retried reads "model: attempt 3 (2 retries)"
  rather than "working…" for eighteen seconds;
- ``failure_text`` / ``error_split``: an error is the model call's when there was no response
  to judge (the judge was never called), the judge's otherwise, and it is said so;
- ``endpoint_note``: what an endpoint needs, from its URL (a loopback server needs no key);
- ``store_from_environment``: the results store the widget writes to, the dashboard's when
  ``EUDAIMONIA_DASHBOARD_SOURCE`` names one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from ipaddress import ip_address
from pathlib import Path

from ..judging.keys import host_port
from ..paths import user_path
from ..store.results import default_store_path

NO_RESPONSE = "no response to judge: "
"""How a check without a response records its error (``judging.recording.no_response_verdict``)."""
LOCAL_HOSTS = ("localhost",)


def attempts_text(clients: Mapping[str, object | None]) -> str:
    """``model: attempt 3 (2 retries); judge: 4 attempts`` from each client's ``stats``."""
    parts = []
    for name, client in clients.items():
        stats = getattr(client, "stats", None)
        if stats is None:
            continue
        attempts, retries = int(stats.attempts), int(stats.retries)
        if not attempts:
            parts.append(f"{name}: waiting")
            continue
        text = f"{name}: {attempts} attempt{'s' if attempts != 1 else ''}"
        if retries:
            text += f" ({retries} retr{'ies' if retries != 1 else 'y'} after a failure)"
        parts.append(text)
    return "; ".join(parts)


def is_model_failure(error: str | None) -> bool:
    """The check has no verdict because the model under test gave no response."""
    return bool(error) and str(error).startswith(NO_RESPONSE)


def error_split(errors: Iterable[str | None]) -> tuple[int, int]:
    """(model-call failures, judge errors) among check errors (None or "" = no error)."""
    model = judge = 0
    for error in errors:
        if not error:
            continue
        if is_model_failure(error):
            model += 1
        else:
            judge += 1
    return model, judge


def failure_text(model: str, response_error: str | None, n_checks: int) -> str:
    """The model call failed: say that, and that the judge was never called."""
    return (f"{model}: the model call failed ({response_error}); the judge was not called, so the "
            f"{n_checks} check{'s have' if n_checks != 1 else ' has'} no verdict")


def is_local(url: str) -> bool:
    """A loopback endpoint (127.0.0.1, ::1, localhost): a local server, which needs no key."""
    host, _ = host_port(url)
    if not host:
        return False
    if host in LOCAL_HOSTS:
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint_note(url: str, *, preset_key_env: str, smoke_test: bool) -> str:
    """A line under an endpoint picker: what this URL needs."""
    if smoke_test:
        return "smoke-test model: verdicts are not research results; no key needed"
    if is_local(url):
        return "a server on this machine: no key needed (leave the key fields empty)"
    if not preset_key_env:
        return "custom endpoint: paste a key or name its variable if it needs one; a keyless server needs none"
    return ""


def store_from_environment() -> Path:
    """The store of ``$EUDAIMONIA_DASHBOARD_SOURCE`` (``store:PATH``), else the default store."""
    spec = os.environ.get("EUDAIMONIA_DASHBOARD_SOURCE", "")
    if spec.startswith("store:"):
        path = spec[len("store:"):].partition("#")[0].strip()
        if path:
            return user_path(path)
    return default_store_path()
