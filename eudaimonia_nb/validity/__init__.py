"""Judge validity: the judge checked against human labels.

- ``measures``: judge-human, human-human and judge-judge agreement, the disagreement list,
  label-corrected (PPI++) violation rates and label planning (``compute_validity``);
- ``designs``: the samples behind the labels, their designs and weights (the union of samples);
- ``section``: the *Judge validity* dashboard tab and report section, as plain parts.

May import: the shared ground, ``benchmark``, ``store``, ``analysis`` and ``plots``. The report
and the widgets build on it; nothing here imports them. ``compute_validity``, ``to_json`` and
``to_text`` are importable from here.
"""

from .measures import ValidityResult, compute_validity, disagreement_queue, to_json, to_text

__all__ = ["ValidityResult", "compute_validity", "disagreement_queue", "to_json", "to_text"]
