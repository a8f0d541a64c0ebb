"""The ``eudaimonia-nb`` command (also ``python -m eudaimonia_nb``): one module per command group.

- ``main``: the parser and ``main``; ``common``: argument types, URL checks, messages;
- ``data``: ``fetch``, ``fetch-rubrics``; ``judging``: ``run``, ``rejudge``, ``serve-local``;
- ``results``: ``runs``, ``export``, ``report``; ``validity``: ``labels``, ``validity``;
  ``study``: ``study``.

A group's module imports only ``argparse`` when it registers its subcommands; a handler imports
what it needs when it runs, so ``--help`` is instant. May import every stage but ``widgets``.
"""

from .main import main

__all__ = ["main"]
