"""A person's "I disagree with the judge" from the Responses tab, kept apart from every estimate.

A disagreement is a label a reader gives to a check they chose because it looked wrong: a
purposive choice, so it must never enter the design-based sample that corrected rates and
agreement use. It is saved as a label of the queue ``DISAGREEMENT_QUEUE`` (a sample id with
``labels.QUEUE_PREFIX``, which every estimate leaves out; the disagreement list shows it), with
the check appended to that queue's items so the store records what was flagged, in order.

A check the same person already labelled in a designed sample keeps that label: the person's
view is then already counted where it belongs, and overwriting it with a queue label would take
it out of the sample. ``save_disagreement`` refuses, saying which sample holds it.
"""

from __future__ import annotations

import json
import os
import time

from .labels import QUEUE_PREFIX, LabelsError, connect, save_label

DISAGREEMENT_QUEUE = f"{QUEUE_PREFIX}responses"
"""Sample id of the labels given from the Responses tab ("disagree with the judge")."""


def save_disagreement(store_path: str | os.PathLike[str] | None, *, run_id: str, prompt_id: str, requirement: str,
                      labeller: str, label: int, note: str = "") -> str:
    """Save ``label`` (1 violation, 0 no violation) by ``labeller`` for one check into the
    disagreement queue; returns the queue's sample id. Raises ``LabelsError`` for a check the
    store does not have, an empty labeller, or a check this person labelled in a designed sample."""
    if label not in (0, 1):
        raise LabelsError(f"label {label!r}: expected 1 (violation) or 0 (no violation)")
    name = labeller.strip()
    if not name:
        raise LabelsError("a label needs a labeller name")
    db = connect(store_path)
    try:
        if db.execute("SELECT 1 FROM run_checks WHERE run_id = ? AND prompt_id = ? AND requirement = ?",
                      (run_id, prompt_id, requirement)).fetchone() is None:
            raise LabelsError(f"run {run_id!r} has no check prompt_id {prompt_id!r}, requirement {requirement!r}")
        held = db.execute("SELECT sample_id FROM labels WHERE run_id = ? AND prompt_id = ? AND requirement = ? "
                          "AND labeller = ? AND skipped = 0", (run_id, prompt_id, requirement, name)).fetchone()
        if held is not None and not str(held[0] or "").startswith(QUEUE_PREFIX):
            where = f"sample {held[0]}" if held[0] else "an imported label file"
            raise LabelsError(f"{name} already labelled this check in {where}: that label counts in the corrected "
                              "rates and is kept (change it in notebook 4)")
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("INSERT OR IGNORE INTO label_samples VALUES (?, 'queue', ?, 0, 0, ?)",
                       (DISAGREEMENT_QUEUE, json.dumps([]), time.time()))
            known = db.execute("SELECT 1 FROM label_sample_items WHERE sample_id = ? AND run_id = ? AND prompt_id = ? "
                               "AND requirement = ?", (DISAGREEMENT_QUEUE, run_id, prompt_id, requirement)).fetchone()
            if known is None:
                position = db.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM label_sample_items WHERE sample_id = ?",
                                      (DISAGREEMENT_QUEUE,)).fetchone()[0]
                db.execute("INSERT INTO label_sample_items VALUES (?, ?, ?, ?, ?, 'disagreement', NULL)",
                           (DISAGREEMENT_QUEUE, position, run_id, prompt_id, requirement))
                runs = set(json.loads(db.execute("SELECT run_ids FROM label_samples WHERE sample_id = ?",
                                                 (DISAGREEMENT_QUEUE,)).fetchone()[0])) | {run_id}
                db.execute("UPDATE label_samples SET run_ids = ?, size = size + 1 WHERE sample_id = ?",
                           (json.dumps(sorted(runs)), DISAGREEMENT_QUEUE))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    finally:
        db.close()
    save_label(store_path, run_id=run_id, prompt_id=prompt_id, requirement=requirement, labeller=name, label=label,
               note=note, sample_id=DISAGREEMENT_QUEUE, inclusion_probability=None)
    return DISAGREEMENT_QUEUE
