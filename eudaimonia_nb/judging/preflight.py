"""Before and during a run: is the endpoint there, are the calls failing all the same way,
and which errors did the run end with.

* ``probe`` makes one cheap ``GET /models`` per endpoint before anything is recorded. Nothing
  listening, a name that does not resolve, or a key refused (401/403) stops the run with a
  one-line reason; an endpoint without ``/models`` (404) or a slow answer does not.
* ``EarlyStop`` watches the first calls of each kind: when the first ``window`` all fail the
  same way with a failure no retry will mend (connection refused, 401/403, 404 model not
  found), the run stops instead of spending minutes on the rest.
* ``error_reasons`` counts a run's errors by reason for the end-of-run summary.
* ``check_open_files`` compares the open-file limit with what the run's connections need (two
  descriptors per connection in flight, plus the store's), raising the soft limit when the hard
  one allows and saying how otherwise.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from .client import CallFailure, OpenAIProvider, public_url

PROBE_TIMEOUT_S = 15.0
"""Upper bound on the probe's wait (the run's own timeout applies when it is shorter)."""
EARLY_STOP_WINDOW = 8
"""Identical hopeless failures in a row, at the start, that stop a run."""
_PREFIXES = ("no response to judge: ", "judge call failed: ")
_GAVE_UP = re.compile(r" \(gave up after \d+ attempts\)$")
_HOPELESS = re.compile(r"^(HTTP 40[134]|connection error)")


log = logging.getLogger(__name__)
FILES_BESIDES_CONNECTIONS = 64
"""Descriptors a run needs besides its sockets (the store, its WAL, the cache, the interpreter's own)."""


def check_open_files(connections: int) -> int:
    """The soft open-file limit after making room for ``connections`` sockets (two descriptors
    each, for a connection and one being replaced); raised up to the hard limit when it is short,
    with a warning saying how to raise it when even that is not enough. Returns the limit."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return -1
    needed = 2 * connections + FILES_BESIDES_CONNECTIONS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return soft
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    except (ValueError, OSError):
        pass
    if soft < needed:
        log.warning("the open-file limit is %d but %d connections need about %d descriptors: raise it with "
                    "`ulimit -n %d` before the run, or lower --concurrency", soft, connections, needed, needed)
    return soft


class EndpointError(RuntimeError):
    """An endpoint the run cannot use (nothing listening, key refused); nothing was recorded."""


class RunStopped(RuntimeError):
    """The first calls all failed the same hopeless way; the run stopped early."""


def failure_reason(error: str) -> str:
    """A short, countable reason: ``HTTP 500``, ``connection error: ConnectError``,
    ``no response to judge: HTTP 401``, ``unparseable judge reply: the reply holds ...``."""
    label, core = _split(error)
    return label + core


def _split(error: str) -> tuple[str, str]:
    label = ""
    for prefix in _PREFIXES:
        if error.startswith(prefix):
            label, error = prefix, error[len(prefix):]
    error = _GAVE_UP.sub("", error)
    status = re.match(r"HTTP \d{3}", error)
    return label, status.group() if status else ": ".join(error.split(": ")[:2])[:120]


def error_reasons(errors: Iterable[str | None], top: int = 3) -> list[tuple[str, int]]:
    """The ``top`` most common reasons among error texts (None entries are verdicts)."""
    return Counter(failure_reason(e) for e in errors if e is not None).most_common(top)


async def probe(base_url: str, api_key_env: str | None, timeout_s: float) -> None:
    """Raise ``EndpointError`` when the endpoint is unreachable or refuses the key."""
    provider = OpenAIProvider(base_url, api_key_env, max_connections=1)
    try:
        await provider.probe(min(timeout_s, PROBE_TIMEOUT_S))
    except CallFailure as failure:
        where = public_url(base_url)
        if failure.reason.startswith("connection error"):
            raise EndpointError(f"cannot reach {where} ({failure.reason}); is the server running and the URL right?") from None
        if failure.status in (401, 403):
            key = f"the key in {api_key_env}" if api_key_env else "a request without a key"
            raise EndpointError(f"{where} refused {key} ({failure.reason})") from None
    finally:
        await provider.aclose()


async def probe_endpoints(endpoints: Iterable[tuple[str, str | None]], timeout_s: float) -> None:
    """``probe`` each distinct (base URL, key variable) once."""
    for base_url, key_env in dict.fromkeys(endpoints):
        await probe(base_url, key_env, timeout_s)


@dataclass
class EarlyStop:
    """Stops a run whose first calls of one kind all fail the same hopeless way."""

    planned: dict[str, int]
    """Calls planned per kind (``respond``, ``judge``): a smaller run needs fewer failures."""
    window: int = EARLY_STOP_WINDOW
    """How many first calls decide."""
    first: dict[str, list[str | None]] = field(default_factory=dict)
    """Per kind: the hopeless reason of each first call (None: it did not fail hopelessly)."""

    def observe(self, kind: str, endpoint: str, error: str | None) -> None:
        """Record a finished call; raises ``RunStopped`` when the window is full of one reason."""
        seen = self.first.setdefault(kind, [])
        needed = min(self.window, self.planned.get(kind, self.window))
        if len(seen) >= needed:
            return
        reason = _split(error)[1] if error is not None else None
        seen.append(reason if reason is not None and _HOPELESS.match(reason) else None)
        if len(seen) == needed and seen[0] is not None and len(set(seen)) == 1:
            raise RunStopped(f"stopped early: the first {needed} {kind} call(s) to {endpoint} all failed with "
                             f"{seen[0]}; nothing more was sent")
