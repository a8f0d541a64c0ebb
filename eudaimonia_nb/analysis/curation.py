"""What the curation alone does to the real-versus-modified gap: a selection-only reference.

A rewritten prompt was kept only if its curation model (one of the three targets) violated on
it. That keeps prompts that are hard for *every* model (shared difficulty, the prompt random
intercept), so modified prompts can show higher rates for all models, targets or not, with no
source effect at all. An equal gap across model groups is therefore no evidence against
selection, and the group contrast in ``selection.source_by_group`` cannot see this mechanism.

``selection_only_band`` simulates the curation under *no* source effect, with the suite's
simulator (the published calibration's model and requirement effects) and the prompt SD fitted
to the data: each modified prompt's difficulty is drawn from its distribution given that its
curation model violated on at least one of the prompt's requirements; real prompts' from the
unselected one. Fresh verdicts of the selected models then give the gaps selection alone
produces, per model group, raw and requirement-standardised, beside the observed ones.

What it cannot do: real prompts were selected too (GPT-4 confirmed each during curation) and
are not re-selected here (GPT-4 is not among the calibrated models), so the band errs towards
larger gaps; and it assumes the calibrated effects, a normal prompt effect and that the
curation model's verdict followed the same logistic model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, log_expit

from ..benchmark.dataset import SOURCES
from .cache import FitCache
from .frames import check_analysis_frame, frame_key, is_simulated, judged
from .rates import requirement_weights
from .selection import GROUPS, TARGETS, model_group, normalise_model_name

REAL_SELECTION_NOTE = ("Real prompts were selected too (GPT-4 confirmed each violation during curation); "
                       "that selection is not simulated here, so the band errs towards larger gaps.")
"""Said beside every band: the reference is one-sided about selection."""


@dataclass(frozen=True)
class _Rows:
    """The judged rows as integer codes, for fast repeated gap computation."""

    group: np.ndarray
    """Model group index (into ``groups``) per row."""
    groups: list[str]
    """Model groups present, in ``selection.GROUPS`` order."""
    requirement: np.ndarray
    """Requirement index (into ``weights``) per row."""
    weights: np.ndarray
    """w_r, share of each requirement among the judged checks."""
    modified: np.ndarray
    """True for rows on modified prompts."""


def _gaps(rows: _Rows, violation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw and requirement-standardised modified - real gap per group, as ``rates`` defines them."""
    n_g, n_r = len(rows.groups), len(rows.weights)
    cell = (rows.group * n_r + rows.requirement) * 2 + rows.modified
    checks = np.bincount(cell, minlength=n_g * n_r * 2).reshape(n_g, n_r, 2)
    viol = np.bincount(cell, weights=violation, minlength=n_g * n_r * 2).reshape(n_g, n_r, 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = viol.sum(1) / checks.sum(1)
        by_req = viol / checks
        gap = by_req[:, :, 1] - by_req[:, :, 0]
        w = np.where(np.isfinite(gap), rows.weights[None, :], 0.0)
        adjusted = np.nansum(gap * w, axis=1) / w.sum(1)
    return raw[:, 1] - raw[:, 0], adjusted


def _selected_cdf(log_keep: np.ndarray, prompt_sd: float, grid: np.ndarray) -> np.ndarray:
    """Per prompt, the CDF over ``grid`` of u ~ N(0, sd^2) reweighted by P(kept | u) (rows of
    ``log_keep``): the difficulty of a prompt that survived the curation."""
    log_density = -0.5 * (grid / prompt_sd) ** 2 + log_keep
    density = np.exp(log_density - log_density.max(1, keepdims=True))
    cdf = np.cumsum(density, 1)
    return cdf / cdf[:, -1:]


def _draw_from_cdf(rng: np.random.Generator, cdf: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """One u per row by inverse CDF on the grid, with uniform jitter within a grid cell."""
    pick = (cdf < rng.random((len(cdf), 1))).sum(1)
    step = grid[1] - grid[0]
    return grid[np.minimum(pick, len(grid) - 1)] + (rng.random(len(pick)) - 0.5) * step


def selection_only_band(frame: pd.DataFrame, *, prompt_sd: float | None = None, n_sims: int = 200,
                        seed: int = 0) -> pd.DataFrame:
    """Per model group: the observed raw and standardised gaps, and the 2.5%, 50% and 97.5%
    points of the gaps that the curation produces with no source effect (``n_sims`` simulated
    replicates of the selection and of fresh verdicts on the same judged checks).

    ``prompt_sd``: default the mixed model's estimate on ``frame``. Modified prompts need the
    ``responder_model`` column (the curation model; carried by the benchmark's checks and by
    simulated tables). Columns: ``model_group``, ``n_models``, ``diff``, ``band_low``,
    ``band_median``, ``band_high``, ``diff_adj``, ``adj_band_low``, ``adj_band_median``,
    ``adj_band_high``, ``inside_band`` (observed adjusted gap within its band), ``reading``;
    ``attrs["notes"]`` says what the band can and cannot show.
    """
    from .mixed import fit_mixed
    from .simulate import calibrated_effects

    check_analysis_frame(frame)
    if "responder_model" not in frame.columns:
        raise KeyError("the selection-only band needs the column responder_model (each modified prompt's "
                       "curation model), carried by the benchmark's checks and simulated tables")
    data = judged(frame).reset_index(drop=True)
    if set(data["source"]) != set(SOURCES):
        raise ValueError("the selection-only band compares real with modified prompts; this selection has only "
                         + ", ".join(sorted(set(data["source"]))))
    if prompt_sd is None:
        prompt_sd = float(fit_mixed(frame).variance_components["sd"].iloc[0])
    prompt_sd = max(float(prompt_sd), 1e-3)
    intercepts, req_effects = calibrated_effects(prompt_sd)
    by_key = {normalise_model_name(m): a for m, a in intercepts.items()}
    median = float(np.median(list(intercepts.values())))

    def intercept(name: str) -> float:
        return by_key.get(normalise_model_name(name), median)

    names = data["model"].astype(str)
    unique_names = pd.unique(names)
    group_names = names.map(dict(zip(unique_names, map(model_group, unique_names))))
    groups = [g for g in GROUPS if g in set(group_names)]
    weights = requirement_weights(data)
    rows = _Rows(group=group_names.map({g: i for i, g in enumerate(groups)}).to_numpy(), groups=groups,
                 requirement=data["requirement"].map({k: i for i, k in enumerate(weights.index)}).to_numpy(),
                 weights=weights.to_numpy(), modified=(data["source"] == "modified").to_numpy().astype(int))
    observed_raw, observed_adj = _gaps(rows, data["violation"].to_numpy(float))

    prompt_idx, prompts = pd.factorize(data["prompt_id"])
    first = data.drop_duplicates("prompt_id").set_index("prompt_id").reindex(prompts)
    modified_prompt = (first["source"] == "modified").to_numpy()
    curation = first["responder_model"].astype(str).to_numpy()
    # Every labelled requirement of a prompt could have been the one its curation model broke.
    labels = data.drop_duplicates(["prompt_id", "requirement"])
    grid = prompt_sd * np.linspace(-6.0, 6.0, 481)
    lab_prompt = pd.Index(prompts).get_indexer(labels["prompt_id"])
    curation_intercept = {c: intercept(c) for c in set(curation)}
    lab_eta = (labels["requirement"].map(req_effects).to_numpy()
               + np.array([curation_intercept[c] for c in curation[lab_prompt]]))
    # log P(no violation on any label | u) summed per prompt, then log(1 - that).
    log_none = np.zeros((len(prompts), len(grid)))
    np.add.at(log_none, lab_prompt, log_expit(-(lab_eta[:, None] + grid[None, :])))
    with np.errstate(divide="ignore"):
        log_keep = np.log(-np.expm1(log_none))
    kept = np.flatnonzero(modified_prompt)
    cdf = _selected_cdf(log_keep[kept], prompt_sd, grid)
    eta_fixed = (names.map({n: intercept(n) for n in unique_names}).to_numpy()
                 + data["requirement"].map(req_effects).to_numpy())
    rng = np.random.default_rng(seed)
    sims_raw = np.empty((n_sims, len(groups)))
    sims_adj = np.empty((n_sims, len(groups)))
    for i in range(n_sims):
        u = rng.normal(0.0, prompt_sd, len(prompts))
        u[kept] = _draw_from_cdf(rng, cdf, grid)
        verdicts = (rng.random(len(data)) < expit(eta_fixed + u[prompt_idx])).astype(float)
        sims_raw[i], sims_adj[i] = _gaps(rows, verdicts)

    def band(values: np.ndarray) -> np.ndarray:
        return np.nanpercentile(values, [2.5, 50.0, 97.5], axis=0)

    raw_band, adj_band = band(sims_raw), band(sims_adj)
    n_models = data.groupby(group_names)["model"].nunique()
    out = pd.DataFrame({
        "model_group": groups, "n_models": [int(n_models[g]) for g in groups],
        "diff": observed_raw, "band_low": raw_band[0], "band_median": raw_band[1], "band_high": raw_band[2],
        "diff_adj": observed_adj, "adj_band_low": adj_band[0], "adj_band_median": adj_band[1],
        "adj_band_high": adj_band[2]})
    # Judged on the requirement-adjusted gap, the one the dashboard shows first: the raw gap
    # also moves with the requirement mix, which the band reproduces only on average.
    out["inside_band"] = (out["diff_adj"] >= out["adj_band_low"]) & (out["diff_adj"] <= out["adj_band_high"])
    out["reading"] = [_reading(row) for row in out.itertuples(index=False)]
    targets_present = any(normalise_model_name(c) in {normalise_model_name(t) for t in TARGETS}
                          for c in set(curation[kept]))
    out.attrs["notes"] = [
        f"Selection-only band: {n_sims} simulations of the curation with no source effect (prompt SD "
        f"{prompt_sd:.2f}, the published calibration's model and requirement effects).",
        "A gap inside the band is what selection alone would produce: it is not evidence of a source effect, "
        "and an equal gap across model groups is not evidence against selection.",
        # Issue 23's audit: with other model effects than the published ones, a pure selection
        # artefact read as "larger than selection alone" in 22% of replicates.
        "The band is only as right as the published calibration it is simulated from: where a model's true "
        "effects differ, a gap made by selection alone can fall outside it. The group readings are separate "
        "comparisons, not adjusted for multiplicity: with several groups, one outside its band by chance is "
        "more likely than 5%.",
        REAL_SELECTION_NOTE]
    if not targets_present:
        out.attrs["notes"].append("No modified prompt names a target model as its curation model; the band "
                                  "then reflects the recorded curation models only.")
    out.attrs["simulated"] = is_simulated(frame)
    return out


def _reading(row: object) -> str:
    diff, low, high = (100 * getattr(row, c) for c in ("diff_adj", "adj_band_low", "adj_band_high"))
    where = "inside" if low <= diff <= high else "above" if diff > high else "below"
    meaning = {"inside": "selection alone could produce it",
               "above": "larger than selection alone produces",
               "below": "smaller than selection alone produces"}[where]
    return (f"{getattr(row, 'model_group')}: observed requirement-adjusted gap {diff:+.1f} points (raw "
            f"{100 * getattr(row, 'diff'):+.1f}), {where} the selection-only band {low:+.1f} to {high:+.1f}: {meaning}.")


_checks: FitCache[tuple[pd.DataFrame, pd.DataFrame | None, list[str]]] = FitCache(8, disk="selection")


def selection_check(frame: pd.DataFrame, *, prompt_sd: float | None = None, n_sims: int = 200,
                    seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame | None, list[str]]:
    """Everything a front end shows about selection: the source x group contrasts
    (``selection.source_by_group``), the selection-only band (None when the data lack the
    curation model or a group contrast cannot be formed) and one-line notes, the limits first.
    Cached like the fits (its simulations take seconds on 22 models); callers get copies."""
    curators = (pd.util.hash_pandas_object(frame["responder_model"].astype(str), index=False).sum()
                if "responder_model" in frame.columns else None)
    key = frame_key(frame, "selection_check", prompt_sd, n_sims, seed, curators)
    contrast, band, notes = _checks.get_or_fit(key, lambda: _selection_check(frame, prompt_sd, n_sims, seed))
    return contrast.copy(), None if band is None else band.copy(), list(notes)


def _selection_check(frame: pd.DataFrame, prompt_sd: float | None, n_sims: int,
                     seed: int) -> tuple[pd.DataFrame, pd.DataFrame | None, list[str]]:
    from .selection import source_by_group

    notes: list[str] = []
    try:
        contrast = source_by_group(frame)
        notes += contrast.attrs.get("notes", [])[:1] + list(contrast["reading"])
    except ValueError as exc:  # one model group only: no contrast to form
        contrast = pd.DataFrame()
        notes.append(f"No source x group contrast for this selection: {exc}.")
    band = None
    if "responder_model" in frame.columns and frame["responder_model"].notna().any():
        band = selection_only_band(frame, prompt_sd=prompt_sd, n_sims=n_sims, seed=seed)
        notes += band.attrs["notes"] + list(band["reading"])
    else:
        notes.append("No selection-only band: the data do not record each modified prompt's curation model "
                     "(responder_model). " + REAL_SELECTION_NOTE)
    return contrast, band, notes
