"""Judge validity for runs in a results store: agreement (judge-human, human-human,
judge-judge), the disagreement list, label-corrected violation rates (analysis.stratified) and label planning.

Reads verdicts and responses through ``eudaimonia_nb.store`` and labels through
``eudaimonia_nb.store.labels``, and hands pandas frames to the CLI, the dashboard tab and the report.

Design weights: each labelled check carries 1 / its probability of being in the union of the
samples on its run, each by its recorded design (``validity.designs``: stratified probabilities,
or a declared simple random sample of the run's judged checks); a sample whose weights claim more
checks than a stratum holds is left out with a note. ``unsure`` labels are treated as missing at random within
their stratum (run x requirement x judge verdict): the certain labels there are weighted up to
stand for them. Labels from a disagreement queue (chosen, not sampled) are left out of every
estimate and shown only in the disagreement list.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..analysis.agreement import bootstrap_agreement, bootstrap_alpha, majority_vote
from ..analysis.ppi import FEW_LABELS, CorrectedRate, labels_needed
from ..analysis.reducers import reduce_repeats
from ..analysis.stratified import corrected_rates
from ..store.labels import QUEUE_PREFIX, load_labels
from ..store.results import load_judgments, response_texts
from .designs import inclusion_probabilities, leave_out, overshoots, sample_table

KEY = ["run_id", "prompt_id", "requirement"]
STRATA = {"strata": ["run_id", "requirement", "judge"], "coarser": [["run_id", "judge"], ["run_id"]]}
"""The labelling sample's strata (run x requirement x judge verdict) and the coarser levels a
post-stratum without labels borrows from (``analysis.ppi.corrected_rates``)."""
UNSURE_NOTE_SHARE = 0.1
"""An unsure share at or above this in any stratum earns a note in words."""
DEFAULT_TARGET_HALF_WIDTH = 0.05
"""Planning target: a 95% interval of +/- 5 points."""

ASSUMPTIONS = (
    "Corrected rates: the judge's verdict calibrated by the labels within each run x requirement x "
    "verdict stratum (the stratified estimator, which is what PPI++ reduces to on this sample, for "
    "any weight on the judge); a rate per source is post-stratified by source as well, and a "
    "post-stratum without labels borrows its stratum's. Weights: the labelling sample's inclusion "
    "probabilities. Interval: Jeffreys intervals per stratum combined by MOVER, plus the "
    "prompt-clustered sampling variance; it is for prompts like these, as the raw rates' prompt "
    "bootstrap. Assumed: labels are the truth the rate is about (a person's reading of the rubric); "
    "the sample was drawn as recorded; 'unsure' labels are missing at random within their stratum "
    "(the unsure share per stratum is shown); queue labels are not used. Intervals covered 0.94-0.98 "
    "in simulation from 50 labels per cell; below 30 labels read them with care.")


@dataclass
class ValidityResult:
    """Everything the validity view shows, as frames (rates as fractions)."""

    models: pd.DataFrame
    """One row per run: ``model``, ``run_id``, ``n_checks``, ``n_labels``, ``raw_rate``,
    ``corrected_rate``, ``ci_low``, ``ci_high`` and the other ``CorrectedRate`` fields."""
    by_requirement: pd.DataFrame
    """Corrected rates per run x requirement, with ``more_labels_needed`` for the target width."""
    by_source: pd.DataFrame
    """Corrected rates per run x source (real / modified)."""
    agreement: pd.DataFrame
    """Pairwise agreement rows: ``requirement`` (or ``all``), ``rater_a``, ``rater_b``, ``kind``
    (judge-human, human-human, judge-judge), ``n``, confusion counts, ``kappa`` and its interval,
    ``sensitivity`` / ``specificity`` (judge-human only) with intervals."""
    alpha: pd.DataFrame
    """Krippendorff's alpha per panel (``judges``, ``humans``) and requirement, with interval."""
    flips: pd.DataFrame
    """Judge-human flip table per run and labeller: how many judge verdicts a person turned."""
    disagreements: pd.DataFrame
    """Checks where judges split or a judge and a person differ, most contested first."""
    panel: pd.DataFrame
    """Majority-vote panel verdict per shared check (runs over the same response text)."""
    unsure: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Per labelling stratum (``run_id``, ``requirement``, ``judge_verdict``): ``labelled`` checks
    (any answer but a skip), ``unsure`` (checks whose every answer was unsure) and
    ``unsure_share``. The corrected rates assume unsure checks are missing at random within their
    stratum; a large share in one verdict stratum is where that assumption bites."""
    target_half_width: float = DEFAULT_TARGET_HALF_WIDTH
    """The planning target of ``more_labels_needed``."""
    notes: list[str] = field(default_factory=list)
    """Plain-words caveats (few labels, no labels, queue labels left out)."""
    designs: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The samples behind the labels: ``sample_id``, ``design`` (``stratified``, ``srs``,
    ``queue`` or ``unrecorded``), ``run_id``, ``n_labels``, ``used``."""


# ---------------------------------------------------------------------------- inputs

def _text_hash(text: object) -> str | None:
    return hashlib.sha256(str(text).encode("utf-8")).hexdigest() if isinstance(text, str) else None


def judged_checks(store_path: str | os.PathLike[str] | None, run_ids: list[str] | None) -> pd.DataFrame:
    """Judged checks of the runs with the SHA-256 of the response each verdict is about. A label is
    about one response: of a run with epochs, the first (epoch 1), whose judge calls are reduced
    to one verdict by majority (0 or 1, as agreement needs)."""
    frame = load_judgments(store_path, run_ids, first_epoch=True)
    frame = reduce_repeats(frame, "majority").drop(columns=["reducer", "n_verdicts"], errors="ignore")
    frame = frame[frame["violation"].notna()].copy()
    hashes = []
    for run_id in frame["run_id"].unique():
        texts = response_texts(store_path, run_id, epoch=1)
        hashes.append(pd.DataFrame({"run_id": run_id, "prompt_id": texts["prompt_id"],
                                    "text_hash": texts["text"].map(_text_hash)}))
    if hashes:
        frame = frame.merge(pd.concat(hashes, ignore_index=True), on=["run_id", "prompt_id"], how="left")
    else:
        frame["text_hash"] = None
    return frame.reset_index(drop=True)


def shared_labels(labels: pd.DataFrame, checks: pd.DataFrame) -> pd.DataFrame:
    """Labels, plus a copy for every other run that judged the identical response text: a
    person's reading of a response holds whichever judge then looked at it (a rejudge)."""
    keyed = labels.merge(checks[[*KEY, "text_hash"]], on=KEY, how="inner")
    keyed = keyed[keyed["text_hash"].notna()]
    if keyed.empty:
        return labels
    copies = keyed.drop(columns="run_id").merge(checks[["run_id", "prompt_id", "requirement", "text_hash"]],
                                                on=["prompt_id", "requirement", "text_hash"])
    copies = copies.drop(columns="text_hash")[labels.columns]
    return (pd.concat([labels, copies], ignore_index=True)
            .drop_duplicates([*KEY, "labeller"], keep="first").reset_index(drop=True))


def item_weights(labels: pd.DataFrame, checks: pd.DataFrame) -> pd.DataFrame:
    """Per labelled check: ``human`` (mean of the certain labels), ``weight`` (1 / inclusion
    probability, adjusted for unsure labels within the stratum), ``n_raters``."""
    labels = labels.merge(checks[[*KEY, "violation"]], on=KEY, how="inner")
    if labels.empty:
        return pd.DataFrame(columns=[*KEY, "human", "weight", "n_raters"])
    # The union of the samples behind the labels, each by its design (validity.designs).
    pi = inclusion_probabilities(labels, checks)
    certain = labels[labels["label"].notna()]
    items = pd.DataFrame({"pi": pi}).reset_index()
    items = items.merge(certain.groupby(KEY)["label"].agg(human="mean", n_raters="size").reset_index(), on=KEY, how="left")
    items = items.merge(checks[[*KEY, "violation"]], on=KEY, how="left")
    items["weight"] = np.where(items["pi"] >= 1, 1.0, 1.0 / items["pi"])
    # Unsure-only items: their weight goes to the certain items of the same stratum.
    stratum = ["run_id", "requirement", "violation"]
    all_w = items.groupby(stratum)["weight"].transform("sum")
    certain_w = items["weight"].where(items["human"].notna()).groupby([items[c] for c in stratum]).transform("sum")
    with np.errstate(invalid="ignore", divide="ignore"):
        items["weight"] = items["weight"] * (all_w / certain_w)
    items = items[items["human"].notna()]
    return items[[*KEY, "human", "weight", "n_raters"]].reset_index(drop=True)


# ---------------------------------------------------------------------------- estimates

def _estimate_frame(checks: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    frame = checks.merge(items, on=KEY, how="left")
    return frame.assign(judge=frame["violation"].astype(float))


def _agreement_row(requirement: str, rater_a: str, rater_b: str, kind: str, a: np.ndarray, b: np.ndarray,
                   prompts: np.ndarray, weights: np.ndarray | None, n_boot: int, seed: int) -> dict:
    est = bootstrap_agreement(a, b, prompts, weights=weights, n_boot=n_boot, seed=seed)
    row = {"requirement": requirement, "rater_a": rater_a, "rater_b": rater_b, "kind": kind, "n": est.counts.n,
           "both": est.counts.both, "only_a": est.counts.only_a, "only_b": est.counts.only_b,
           "neither": est.counts.neither, "kappa": est.kappa, "kappa_ci_low": est.kappa_ci[0],
           "kappa_ci_high": est.kappa_ci[1]}
    if kind == "judge-human":
        row.update(sensitivity=est.sensitivity, sensitivity_ci_low=est.sensitivity_ci[0],
                   sensitivity_ci_high=est.sensitivity_ci[1], specificity=est.specificity,
                   specificity_ci_low=est.specificity_ci[0], specificity_ci_high=est.specificity_ci[1])
    return row


def _pairs_by_requirement(pairs: pd.DataFrame, rater_a: str, rater_b: str, kind: str, n_boot: int, seed: int,
                          weighted: bool) -> list[dict]:
    rows = []
    for requirement, part in [("all", pairs), *pairs.groupby("requirement", sort=True)]:
        rows.append(_agreement_row(str(requirement), rater_a, rater_b, kind, part["a"].to_numpy(), part["b"].to_numpy(),
                                   part["prompt_id"].to_numpy(), part["weight"].to_numpy() if weighted else None,
                                   n_boot, seed) | {"weighted": weighted})
    return rows


def judge_human_agreement(checks: pd.DataFrame, labels: pd.DataFrame, items: pd.DataFrame, n_boot: int,
                          seed: int) -> pd.DataFrame:
    """Each run's judge against each labeller (design-weighted), per requirement and overall."""
    rows = []
    certain = labels[labels["label"].notna()].merge(checks[[*KEY, "violation"]], on=KEY)
    certain = certain.merge(items[[*KEY, "weight"]], on=KEY, how="left")
    for (run_id, labeller), part in certain.groupby(["run_id", "labeller"], sort=True):
        pairs = part.assign(a=part["violation"], b=part["label"])
        rows += _pairs_by_requirement(pairs, str(run_id), f"labeller:{labeller}", "judge-human", n_boot, seed, True)
    return pd.DataFrame(rows)


def human_human_agreement(labels: pd.DataFrame, n_boot: int, seed: int,
                          items: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Kappa for every pair of labellers on the checks both labelled, and alpha across all.

    With ``items`` (``item_weights``: 1 / inclusion probability, per check) each pair's kappa
    is weighted like the judge-human kappa, so both describe all judged checks: unweighted, a
    sample stratified by the judge's verdict over-represents its rarer verdict and the two
    kappas are not comparable. A pair with a check the weights do not cover stays unweighted
    (``weighted`` False). Krippendorff's alpha is of the labelled sample as drawn (it takes no
    weights here)."""
    certain = labels[labels["label"].notna()]
    wide = certain.pivot_table(index=KEY, columns="labeller", values="label", aggfunc="first")
    weight = items.set_index(KEY)["weight"] if items is not None and not items.empty else None
    rows, alphas = [], []
    for x, y in itertools.combinations(sorted(wide.columns), 2):
        both = wide[[x, y]].dropna()
        if both.empty:
            continue
        w = weight.reindex(both.index).to_numpy(float) if weight is not None else np.full(len(both), np.nan)
        weighted = bool(np.isfinite(w).all() and (w > 0).all())
        both = both.reset_index()
        pairs = both.assign(a=both[x], b=both[y], weight=w if weighted else 1.0)
        rows += _pairs_by_requirement(pairs, f"labeller:{x}", f"labeller:{y}", "human-human", n_boot, seed, weighted)
    multi = wide[wide.notna().sum(axis=1) >= 2]
    if wide.shape[1] >= 2 and not multi.empty:
        alphas = _alpha_rows("humans", multi, n_boot, seed)
    return pd.DataFrame(rows), pd.DataFrame(alphas)


def _alpha_rows(panel: str, wide: pd.DataFrame, n_boot: int, seed: int) -> list[dict]:
    flat = wide.reset_index()
    rows = []
    for requirement, part in [("all", flat), *flat.groupby("requirement", sort=True)]:
        data = part[list(wide.columns)].to_numpy(dtype=float)
        alpha, (low, high) = bootstrap_alpha(data, part["prompt_id"].to_numpy(), n_boot=n_boot, seed=seed)
        rows.append({"panel": panel, "requirement": str(requirement), "raters": len(wide.columns),
                     "units": int((np.isfinite(data).sum(1) >= 2).sum()), "alpha": alpha,
                     "alpha_ci_low": low, "alpha_ci_high": high})
    return rows


def judge_panel(checks: pd.DataFrame) -> pd.DataFrame:
    """Checks judged by several runs over the identical response text: one column per run
    (0/1/NaN), ``votes``, ``majority`` (NaN on a tie) and ``split`` (share in the minority)."""
    shared = checks[checks["text_hash"].notna()]
    wide = shared.pivot_table(index=["prompt_id", "requirement", "text_hash"], columns="run_id",
                              values="violation", aggfunc="first")
    wide = wide[wide.notna().sum(axis=1) >= 2].dropna(axis=1, how="all")
    if wide.empty or wide.shape[1] < 2:
        return pd.DataFrame()
    runs = list(wide.columns)
    data = wide.to_numpy(dtype=float)
    out = wide.copy()
    out["votes"] = np.isfinite(data).sum(1)
    out["majority"] = majority_vote(data)
    ones = (data == 1).sum(1)
    out["split"] = np.minimum(ones, out["votes"] - ones) / out["votes"]
    out.attrs["runs"] = runs
    return out


def judge_judge_agreement(panel: pd.DataFrame, n_boot: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Kappa for every pair of runs on shared responses, and alpha across the panel of judges."""
    if panel.empty:
        return pd.DataFrame(), pd.DataFrame()
    runs = panel.attrs["runs"]
    flat = panel.reset_index()
    rows = []
    for x, y in itertools.combinations(runs, 2):
        both = flat.dropna(subset=[x, y])
        if both.empty:
            continue
        pairs = both.assign(a=both[x], b=both[y], weight=1.0)
        rows += _pairs_by_requirement(pairs, str(x), str(y), "judge-judge", n_boot, seed, False)
    alphas = _alpha_rows("judges", panel[runs], n_boot, seed)
    return pd.DataFrame(rows), pd.DataFrame(alphas)


def disagreement_list(checks: pd.DataFrame, panel: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Checks worth a (further) human look: judges split (most even splits first), then checks
    where a judge and a person differ. Columns ``run_id``, ``prompt_id``, ``requirement``,
    ``reason``, ``detail``, ``priority``."""
    rows = []
    if not panel.empty:
        runs = panel.attrs["runs"]
        split = panel[panel["split"] > 0].reset_index()
        for r in split.to_dict("records"):
            said = {run: r[run] for run in runs if np.isfinite(r[run])}
            rows.append({"run_id": next(iter(said)), "prompt_id": r["prompt_id"], "requirement": r["requirement"],
                         "reason": "judges split", "detail": ", ".join(f"{run}={int(v)}" for run, v in said.items()),
                         "priority": 1.0 + float(r["split"])})
    certain = labels[labels["label"].notna()].merge(checks[[*KEY, "violation"]], on=KEY)
    differ = certain[certain["label"] != certain["violation"]]
    for r in differ.itertuples(index=False):
        rows.append({"run_id": r.run_id, "prompt_id": r.prompt_id, "requirement": r.requirement,
                     "reason": "judge and person differ",
                     "detail": f"judge={int(r.violation)}, {r.labeller}={int(r.label)}", "priority": 0.5})
    if not rows:
        return pd.DataFrame(columns=[*KEY, "reason", "detail", "priority"])
    out = pd.DataFrame(rows).sort_values(["priority", "requirement", "prompt_id"], ascending=[False, True, True],
                                         kind="stable")
    return out.drop_duplicates(KEY).reset_index(drop=True)


def flip_table(checks: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Per run and labeller: judged violations a person called none, and the reverse."""
    certain = labels[labels["label"].notna()].merge(checks[[*KEY, "violation"]], on=KEY)
    if certain.empty:
        return pd.DataFrame(columns=["run_id", "labeller", "labels", "judge_yes_person_no", "judge_no_person_yes"])
    grouped = certain.groupby(["run_id", "labeller"])
    return pd.DataFrame({
        "labels": grouped.size(),
        "judge_yes_person_no": grouped.apply(lambda g: int(((g["violation"] == 1) & (g["label"] == 0)).sum())),
        "judge_no_person_yes": grouped.apply(lambda g: int(((g["violation"] == 0) & (g["label"] == 1)).sum())),
    }).reset_index()


def unsure_by_stratum(labels: pd.DataFrame, checks: pd.DataFrame) -> pd.DataFrame:
    """Per run x requirement x judge verdict: checks labelled, checks only ever called unsure, and
    their share (see ``ValidityResult.unsure``)."""
    columns = ["run_id", "requirement", "judge_verdict", "labelled", "unsure", "unsure_share"]
    data = labels.merge(checks[[*KEY, "violation"]], on=KEY, how="inner")
    if data.empty:
        return pd.DataFrame(columns=columns)
    items = data.groupby(KEY).agg(certain=("label", "count"), violation=("violation", "first")).reset_index()
    items["judge_verdict"] = items["violation"].map({1.0: "violation", 0.0: "no violation"})
    out = items.groupby(["run_id", "requirement", "judge_verdict"], sort=True).agg(
        labelled=("certain", "size"), unsure=("certain", lambda c: int((c == 0).sum()))).reset_index()
    out["unsure_share"] = out["unsure"] / out["labelled"]
    return out[columns]


def _with_planning(rates: pd.DataFrame, target: float) -> pd.DataFrame:
    fields = list(CorrectedRate.__dataclass_fields__)
    needed = [labels_needed(CorrectedRate(**{f: getattr(r, f) for f in fields}), target)
              for r in rates.itertuples(index=False)]
    return rates.assign(more_labels_needed=pd.array(needed, dtype="Int64"))


def compute_validity(store_path: str | os.PathLike[str] | None, run_ids: list[str] | None = None, *,
                     requirements: list[str] | None = None, n_boot: int = 1000, seed: int = 0,
                     target_half_width: float = DEFAULT_TARGET_HALF_WIDTH) -> ValidityResult:
    """The whole validity view for the runs (default: every run in the store), optionally
    restricted to some requirements."""
    checks = judged_checks(store_path, run_ids)
    if requirements is not None:
        checks = checks[checks["requirement"].isin(set(requirements))].reset_index(drop=True)
    all_labels = load_labels(store_path)
    all_labels = all_labels[all_labels["run_id"].isin(set(checks["run_id"]))]
    queued = all_labels["sample_id"].fillna("").str.startswith(QUEUE_PREFIX)
    own = all_labels[~queued]
    bad_samples = overshoots(own, checks)
    left_out = {b.sample_key for b in bad_samples}
    designs = sample_table(all_labels, left_out)
    own = leave_out(own, left_out)
    labels = shared_labels(own, checks)
    items = item_weights(labels, checks)
    frame = _estimate_frame(checks, items)
    by_model = corrected_rates(frame, ["run_id", "model_name"], **STRATA) if not frame.empty else pd.DataFrame()
    models = by_model.rename(columns={"rate": "corrected_rate", "model_name": "model"})
    if not models.empty:
        models = models[["model", "run_id", "n_checks", "n_labels", "raw_rate", "corrected_rate", "ci_low", "ci_high",
                         "se", "raw_se", "n_prompts", "few_labels"]]
    by_req = _with_planning(corrected_rates(frame, ["run_id", "model", "requirement"], **STRATA), target_half_width) \
        if not frame.empty else pd.DataFrame()
    by_source = corrected_rates(frame, ["run_id", "model", "source"], **STRATA) if not frame.empty else pd.DataFrame()
    jh = judge_human_agreement(checks, labels, items, n_boot, seed)
    hh, h_alpha = human_human_agreement(own, n_boot, seed, items)
    panel = judge_panel(checks)
    jj, j_alpha = judge_judge_agreement(panel, n_boot, seed)
    agreement = pd.concat([t for t in (jh, hh, jj) if not t.empty], ignore_index=True) if any(
        not t.empty for t in (jh, hh, jj)) else pd.DataFrame(columns=["requirement", "rater_a", "rater_b", "kind", "n",
                                                                      "kappa", "kappa_ci_low", "kappa_ci_high"])
    alpha = pd.concat([t for t in (h_alpha, j_alpha) if not t.empty], ignore_index=True) if any(
        not t.empty for t in (h_alpha, j_alpha)) else pd.DataFrame()
    unsure = unsure_by_stratum(labels, checks)
    notes = []
    if not unsure.empty and (unsure["unsure_share"] >= UNSURE_NOTE_SHARE).any():
        worst = unsure.sort_values("unsure_share", ascending=False).iloc[0]
        notes.append(f"{int(unsure['unsure'].sum())} labelled checks were only called unsure (up to "
                     f"{worst['unsure_share']:.0%} in one stratum: {worst['requirement']}, judge said "
                     f"{worst['judge_verdict']}, run {worst['run_id']}). The corrected rates treat them as missing at "
                     "random within their stratum; if people are unsure mostly where the judge is wrong, the "
                     "corrected rate is off in that direction.")
    if not h_alpha.empty:
        notes.append("Person-vs-person kappa is weighted by 1 / inclusion probability, like the judge's, so the "
                     "two compare; Krippendorff's alpha across people is of the labelled sample as drawn "
                     "(unweighted), which over-represents the judge's rarer verdict: compare it with alphas of "
                     "samples drawn the same way, not with the kappas.")
    if labels.empty:
        notes.append("No human labels yet for these runs: the corrected rates need a labelled sample "
                     "(notebooks/04_validate_judge.ipynb, or `eudaimonia-nb labels import`).")
    elif not models.empty and (models["n_labels"] == 0).any():
        unlabelled = models.loc[models["n_labels"] == 0, "run_id"]
        notes.append(f"No labels for run(s) {', '.join(unlabelled)}: only their raw judge rate is shown.")
    if not models.empty and models["n_labels"].between(1, FEW_LABELS - 1).any():
        notes.append(f"Fewer than {FEW_LABELS} labels behind some rates: their intervals rest on a rough "
                     "normal approximation and the tuned weight is noisy; label more before quoting them.")
    notes += [b.describe() for b in bad_samples]
    unrecorded = int((own["design"].isna()).sum()) if "design" in own.columns else 0
    if unrecorded:
        notes.append(f"{unrecorded} labels were imported before label designs were recorded: those with inclusion "
                     "probabilities are read as a stratified sample, the others as a simple random sample of their "
                     "run's judged checks. Import their file again with its design to be sure.")
    if queued.any():
        notes.append(f"{int(queued.sum())} labels from disagreement queues are shown in the disagreement list "
                     "but left out of rates and agreement: those checks were chosen for disagreeing, not sampled.")
    return ValidityResult(models=models, by_requirement=by_req, by_source=by_source, agreement=agreement,
                          alpha=alpha, flips=flip_table(checks, labels),
                          disagreements=disagreement_list(checks, panel, shared_labels(all_labels, checks)),
                          panel=panel.reset_index() if not panel.empty else panel,
                          unsure=unsure, target_half_width=target_half_width, notes=notes, designs=designs)


# ---------------------------------------------------------------------------- output

JSON_MODEL_KEYS = ("model", "run_id", "n_checks", "n_labels", "raw_rate", "corrected_rate", "ci_low", "ci_high",
                   "few_labels")
JSON_REQUIREMENT_KEYS = ("model", "run_id", "requirement", "n_checks", "n_labels", "raw_rate", "corrected_rate",
                         "ci_low", "ci_high", "few_labels", "more_labels_needed")
JSON_SOURCE_KEYS = ("model", "run_id", "source", "n_checks", "n_labels", "raw_rate", "corrected_rate", "ci_low",
                    "ci_high", "few_labels")
JSON_UNSURE_KEYS = ("run_id", "requirement", "judge_verdict", "labelled", "unsure", "unsure_share")
JSON_AGREEMENT_KEYS = ("requirement", "rater_a", "rater_b", "n", "kappa", "kappa_ci_low", "kappa_ci_high")
JSON_DESIGN_KEYS = ("sample_id", "design", "run_id", "n_labels", "used")


def _clean(value: object) -> object:
    if value is pd.NA:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    return value


def to_json(result: ValidityResult) -> str:
    """The ``eudaimonia-nb validity --format json`` object (NaN as null)."""
    def records(frame: pd.DataFrame, keys: tuple[str, ...]) -> list[dict]:
        if frame.empty:
            return []
        return [{k: _clean(row[k]) for k in keys} for row in frame.to_dict("records")]

    def corrected(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.rename(columns={"rate": "corrected_rate"})

    return json.dumps({"models": records(result.models, JSON_MODEL_KEYS),
                       "by_requirement": records(corrected(result.by_requirement), JSON_REQUIREMENT_KEYS),
                       "by_source": records(corrected(result.by_source), JSON_SOURCE_KEYS),
                       "unsure": records(result.unsure, JSON_UNSURE_KEYS),
                       "agreement": records(result.agreement, JSON_AGREEMENT_KEYS),
                       "designs": records(result.designs, JSON_DESIGN_KEYS)}, indent=2)


def to_text(result: ValidityResult, labels: dict[str, str] | None = None) -> str:
    """The plain-text summary of ``eudaimonia-nb validity`` (``validity.summary.summary_text``):
    per run the labels, kappa, sensitivity and specificity with intervals (or "too few labels"),
    the corrected rate beside the judge's in %, the planning advice, then the notes."""
    from .summary import summary_text

    return summary_text(result, labels)


def disagreement_queue(store_path: str | os.PathLike[str] | None, run_ids: list[str] | None = None) -> pd.DataFrame:
    """The disagreement list of the runs (no bootstrap: quick enough for a button)."""
    checks = judged_checks(store_path, run_ids)
    labels = load_labels(store_path)
    labels = shared_labels(labels[labels["run_id"].isin(set(checks["run_id"]))], checks)
    items = disagreement_list(checks, judge_panel(checks), labels)
    if items.empty:
        raise ValueError("no disagreements among these runs: no two judges split and no label differs from a verdict")
    return items
