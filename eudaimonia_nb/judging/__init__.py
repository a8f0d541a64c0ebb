"""Judging: the model under test and the judge, called through any OpenAI-compatible API.

A live run is planned, executed and recorded by three modules that other executors can reuse:

- ``config``: ``RunConfig``, everything a run needs (validated; keys named, never held);
- ``plan``: the prompts and checks a run covers, its id and record, what is still to do;
- ``calls``: one response or one verdict through a client (nothing stored);
- ``recording``: responses and verdicts into the store, the tally and the run summary;
- ``runner``: ``Runner`` and ``run``, the live, resumable orchestration of the three.

Around them: ``chat`` (the call's typed contract: request, response, failure), ``completion_body``
(the one reader of a reply body), ``cache`` (the request cache), ``client`` (the provider and the
one wrapper above it that owns retries and the cache),
``protocols`` (how a judge call is framed and its answer read; a new protocol goes here),
``judge`` (the suite protocol's framing and parser), ``authors_rubrics`` (the authors' rubrics,
fetched and verified), ``preflight`` (endpoint probes, early stops), ``pricing``, ``keys``,
``conditions`` (study conditions), ``dry_run``, ``rejudge``, ``run_protocols`` (a run's protocol
in shareable words) and ``local_server`` (llama.cpp with SmolLM2 for offline smoke tests).

May import: the shared ground, ``benchmark`` and ``store``. Never ``analysis`` or anything above it.
``RunConfig``, ``run``, ``Runner`` and ``RunSummary`` are importable from here.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# The public names of a run, loaded on first use (the openai SDK is not imported for ``keys``).
_EXPORTS = {
    "RunConfig": "config", "SAME_HOST_KEY": "config", "RunPlan": "plan", "SubsetError": "plan",
    "RunSummary": "recording", "Runner": "runner", "run": "runner", "run_async": "runner",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)


__all__ = sorted(_EXPORTS)
