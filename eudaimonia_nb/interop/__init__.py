"""Inspect interoperability: EUDAIMONIA as an Inspect task, suite runs as Inspect logs, Inspect
logs as suite runs.

- ``task``: the ``eudaimonia`` Inspect task (``inspect eval eudaimonia_nb/interop/task.py``), its
  samples chosen and its checks judged by the suite's own functions (``judging.plan``,
  ``judging.calls``);
- ``client``: the suite's ``ChatClient`` over an Inspect ``Model`` (what lets the task judge with
  the suite's protocol);
- ``scores``: one check as an Inspect ``Score`` and back, the contract the three share;
- ``export``: a stored run written as an Inspect log through ``inspect_ai.log``;
- ``importer``: Inspect logs read into the store as runs.

``inspect-ai`` is an optional extra (``pip install 'eudaimonia-nb[inspect]'``): only this package
imports it, and nothing the dashboard loads imports this package (``cli`` imports it inside the
commands that need it). May import: the shared ground, ``benchmark``, ``store``, ``judging`` and
``analysis``; ``report``, ``widgets`` and ``cli`` may import it.
"""

INSTALL_HINT = "the Inspect commands need inspect-ai: pip install 'eudaimonia-nb[inspect]'"
"""What to tell a user whose environment lacks the optional extra."""
