"""Which key goes where: one rule for the command line, the Python API and the notebook widgets.

A key variable chosen for one endpoint (``--api-key-env`` for the model, a preset's
``OPENAI_API_KEY`` for api.openai.com) is sent to another endpoint only when that endpoint is
on the same host and port. A variable the user names for an endpoint itself
(``--judge-api-key-env``, a key typed into that endpoint's widget) goes to that endpoint
whatever its host. So editing a judge's URL never carries a key to a host it was not meant for.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def host_port(url: str) -> tuple[str | None, int | None]:
    """Host and port of ``url`` (port None when absent or malformed)."""
    parts = urlsplit(url)
    try:
        return parts.hostname, parts.port
    except ValueError:  # a malformed port: no host matches it
        return parts.hostname, None


def key_env_for(url: str, key_env: str | None, given_for: str | None) -> str | None:
    """``key_env`` for a call to ``url``, when it was given for ``given_for`` (None: chosen for
    this endpoint itself): the variable when the hosts match, else None (no key is sent)."""
    if key_env is None or given_for is None:
        return key_env
    target = host_port(url)
    return key_env if target[0] is not None and target == host_port(given_for) else None
