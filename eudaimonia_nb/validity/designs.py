"""The samples behind the labels: their designs, a check that their weights fit the store, and
each labelled check's probability of being in their union (its Horvitz-Thompson weight).

A label belongs to a sample (``sample_id``) of a recorded design (``store.label_files.DESIGNS``):

- ``stratified``: each label carries its inclusion probability n_h / N_h, strata run x
  requirement x judge verdict (or finer);
- ``srs``: a simple random sample of the run's judged checks, so pi = n / N for the run;
- labels imported before designs were recorded have none: those with a probability are read as
  stratified, the others as a simple random sample, and a note says so.

Several samples on one run (two import batches, a colleague's sample beside yours): a check's
probability of being labelled is that of the union, 1 - prod_s (1 - pi_s), where pi_s is sample
s's probability for that check (its own for the checks it drew, its stratum's or run's for the
others) - not the probability of the one sample that happened to draw it, which overstates each
label's weight and pushed a corrected rate to 111.9% (issue 24).

A sample whose probabilities add up to more checks in a stratum than the stratum holds cannot
have been drawn with them: its labels are left out, and a note names the sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

KEY = ["run_id", "prompt_id", "requirement"]
CELL = ["run_id", "requirement", "violation"]
"""A stratum of the suite's design: run x requirement x judge verdict."""
OVERSHOOT_TOLERANCE = 0.01
"""The same slack as the import's check (``store.label_files.OVERSHOOT_TOLERANCE``): rounded probabilities."""
UNRECORDED = "unrecorded"
"""``design`` shown for labels imported before designs were recorded."""


@dataclass(frozen=True)
class Overshoot:
    """A stratum in which a sample's weights claim more checks than there are."""

    sample_key: str
    """The sample (``with_designs``' key: its id, or the kind of unrecorded import)."""
    run_id: str
    """Its run."""
    requirement: str
    """The requirement of the stratum."""
    violation: float
    """The judge verdict of the stratum (1.0 / 0.0)."""
    implied: float
    """Sum of 1 / inclusion probability over the sample's labelled checks there."""
    size: int
    """Judged checks in the stratum."""

    @property
    def sample_id(self) -> str:
        return self.sample_key.split("|")[0]

    def describe(self) -> str:
        verdict = "violation" if self.violation == 1 else "no violation"
        return (f"Sample {self.sample_id}: its inclusion probabilities add up to {self.implied:.1f} checks in run "
                f"{self.run_id}, requirement {self.requirement}, judge verdict {verdict}, which holds {self.size}; "
                "they are not the probabilities it was drawn with, so its labels are left out of every estimate.")


def with_designs(labels: pd.DataFrame) -> pd.DataFrame:
    """``labels`` with ``sample_key`` (the sample, or one per kind of unrecorded import) and
    ``effective_design`` (``stratified`` or ``srs``) for the estimates."""
    design = labels["design"] if "design" in labels.columns else pd.Series(None, index=labels.index, dtype=object)
    has_pi = labels["inclusion_probability"].astype(float).notna()
    effective = design.where(design.notna(), np.where(has_pi, "stratified", "srs"))
    key = labels["sample_id"].where(labels["sample_id"].notna(), "unrecorded-import")
    key = key.where(design.notna(), key + "|" + effective.astype(str))
    return labels.assign(sample_key=key, effective_design=effective,
                         inclusion_probability=labels["inclusion_probability"].astype(float))


def _drawn(labels: pd.DataFrame, checks: pd.DataFrame) -> pd.DataFrame:
    """One row per sample and judged check it drew, with the stratum's verdict and the check's own pi."""
    rows = with_designs(labels)[[*KEY, "sample_key", "effective_design", "inclusion_probability"]]
    rows = rows.merge(checks[[*KEY, "violation"]], on=KEY, how="inner")
    return rows.drop_duplicates([*KEY, "sample_key"]).reset_index(drop=True)


def overshoots(labels: pd.DataFrame, checks: pd.DataFrame) -> list[Overshoot]:
    """Strata in which a stratified sample's weights add up to more than the stratum holds."""
    drawn = _drawn(labels, checks)
    drawn = drawn[drawn["effective_design"] == "stratified"]
    if drawn.empty:
        return []
    implied = drawn.assign(w=1.0 / drawn["inclusion_probability"]).groupby(["sample_key", *CELL])["w"].sum()
    sizes = checks.groupby(CELL).size()
    frame = implied.rename("implied").reset_index().merge(sizes.rename("size").reset_index(), on=CELL)
    bad = frame[frame["implied"] > frame["size"] * (1 + OVERSHOOT_TOLERANCE) + 1e-9]
    bad = bad.assign(ratio=bad["implied"] / bad["size"]).sort_values("ratio", ascending=False)
    first = bad.drop_duplicates("sample_key")
    return [Overshoot(str(r.sample_key), str(r.run_id), str(r.requirement), float(r.violation),
                      float(r.implied), int(r.size)) for r in first.itertuples(index=False)]


def inclusion_probabilities(labels: pd.DataFrame, checks: pd.DataFrame) -> pd.Series:
    """Per labelled judged check (indexed by ``KEY``): its probability of being in the union of
    the samples behind ``labels``, each sample independent of the others."""
    drawn = _drawn(labels, checks)
    if drawn.empty:
        return pd.Series(dtype=float, index=pd.MultiIndex.from_tuples([], names=KEY), name="pi")
    srs = drawn[drawn["effective_design"] == "srs"]
    per_run = srs.groupby(["sample_key", "run_id"]).size().rename("n").reset_index()
    per_run = per_run.merge(checks.groupby("run_id").size().rename("size").reset_index(), on="run_id")
    per_run = per_run.assign(pi=(per_run["n"] / per_run["size"]).clip(upper=1.0))[["sample_key", "run_id", "pi"]]
    strat = drawn[drawn["effective_design"] == "stratified"]
    per_cell = strat.groupby(["sample_key", *CELL])["inclusion_probability"].median().rename("pi").reset_index()
    checks_drawn = drawn.drop_duplicates(KEY)[[*KEY, "violation"]]
    # Every sample that covers a labelled check's stratum (or run) could have drawn it.
    candidates = pd.concat([checks_drawn.merge(per_cell, on=CELL), checks_drawn.merge(per_run, on="run_id")],
                           ignore_index=True)[[*KEY, "sample_key", "pi"]]
    own = drawn.merge(per_run, on=["sample_key", "run_id"], how="left", suffixes=("", "_run"))
    own = own.assign(own_pi=own["inclusion_probability"].fillna(own["pi"]))[[*KEY, "sample_key", "own_pi"]]
    candidates = candidates.merge(own, on=[*KEY, "sample_key"], how="left")
    pi = candidates["own_pi"].fillna(candidates["pi"]).clip(lower=0.0, upper=1 - 1e-12)
    miss = np.log1p(-pi.to_numpy(dtype=float))
    union = 1 - np.exp(pd.Series(miss, index=pd.MultiIndex.from_frame(candidates[KEY])).groupby(level=KEY).sum())
    return union.rename("pi")


def leave_out(labels: pd.DataFrame, sample_keys: set[str]) -> pd.DataFrame:
    """``labels`` without those of the given samples (``Overshoot.sample_key``)."""
    if not sample_keys or labels.empty:
        return labels
    return labels[~with_designs(labels)["sample_key"].isin(sample_keys).to_numpy()]


def sample_table(labels: pd.DataFrame, left_out: set[str] | None = None) -> pd.DataFrame:
    """One row per sample and run: ``sample_id`` (for unrecorded imports, ``unrecorded-import as
    srs`` or ``... as stratified``), ``design``, ``run_id``, ``n_labels``, ``used`` (False for queue
    samples and for the samples (``Overshoot.sample_key``) left out)."""
    columns = ["sample_id", "design", "run_id", "n_labels", "used"]
    if labels.empty:
        return pd.DataFrame(columns=columns)
    marked = with_designs(labels)
    marked = marked.assign(design=marked["design"].where(marked["design"].notna(), UNRECORDED))
    table = marked.groupby(["sample_key", "design", "run_id"]).size().rename("n_labels").reset_index()
    used = (table["design"] != "queue") & ~table["sample_key"].isin(left_out or set())
    return table.assign(sample_id=table["sample_key"].str.replace("|", " as ", regex=False), used=used)[columns]
