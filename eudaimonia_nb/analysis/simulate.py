"""Judgments with known truth, from a hierarchical logistic model.

    logit P(violation) = a[model] + b[model] * modified + g[requirement]
                         + h[requirement] * modified + u[prompt],   u ~ N(0, prompt_sd^2)

on the benchmark's design (which prompts carry which requirements): the real design when the
benchmark file is available, else a synthetic design with the same counts (checks per
requirement and source, labels per prompt), so the dashboard works without the download.

Presets:

- ``published``: calibrated to the published figures (22 overall rates, seven real/modified
  pairs, per-requirement averages); ``b`` is set only for the seven models with a published
  pair, the rest take the average source pattern through ``h``. ``demo_judgments()`` is this.
- ``common``: one source effect for every model (default -0.35 log-odds), no requirement x
  source term; the model ``violation ~ source + requirement + model + (1|prompt)`` is then
  exactly true, which is what parameter-recovery and coverage checks need.
- ``null``: ``common`` with no source effect.

Repeated verdicts (``epochs``, ``judge_repeats``, ``response_sd``): each model answers each
prompt ``epochs`` times, and each answer is judged ``judge_repeats`` times,

    logit P(verdict) = (as above) + v[model, prompt, epoch],   v ~ N(0, response_sd^2)

where v is the response's own effect (shared by the requirements judged on that response, as
u is shared by a prompt's checks and its models) and each judge call is a Bernoulli draw given
the response: the judge's noise. Its size on the probability scale (two calls on one response
disagreeing) and the other known values of the noise decomposition are ``noise_truth``. With
repeats, the calibration integrates over u + v, so the rates still match the published figures.

Every simulated table has ``simulated=True`` on every row and in ``frame.attrs``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.special import expit

from ..benchmark.dataset import SOURCES, DatasetError, DatasetNotFoundError, load_benchmark, resolve_dataset_path
from ..benchmark.design_code import REQUIREMENT_KEYS
from ..paths import published_dir
from .frames import model_data

log = logging.getLogger(__name__)

PRESETS = ("published", "common", "null")
DEFAULT_PROMPT_SD = 1.0
DEFAULT_SOURCE_EFFECT = -0.35
JUDGE_LABEL = "simulated"



@dataclass(frozen=True)
class SimulationTruth:
    """The true parameters a simulated table was drawn from."""

    preset: str
    """Preset name (``published``, ``common``, ``null``)."""
    seed: int
    """Seed of the random draws (prompt effects and outcomes)."""
    models: tuple[str, ...]
    """Simulated models, in leaderboard order."""
    model_intercepts: dict[str, float]
    """a[model]: the model's log-odds offset; a check of requirement r on a real prompt with
    prompt effect 0 has log-odds a[model] + g[r]."""
    source_effects: dict[str, float]
    """b[model]: conditional log-odds ratio, modified versus real, per model."""
    requirement_effects: dict[str, float]
    """g[requirement]: additive log-odds per requirement (real prompts)."""
    requirement_source_effects: dict[str, float]
    """h[requirement]: extra modified-versus-real log-odds per requirement (0 in ``common``)."""
    prompt_sd: float
    """Standard deviation of the prompt random intercepts (log-odds)."""
    prompt_effects: pd.Series = field(repr=False)
    """The drawn prompt intercepts u, indexed by prompt_id."""
    design_name: str = "benchmark"
    """``benchmark`` (the real file's design) or ``synthetic``."""
    response_sd: float = 0.0
    """Standard deviation of the response effects v (log-odds); 0 without repeats."""
    epochs: int = 1
    """Responses per model and prompt."""
    judge_repeats: int = 1
    """Judge calls per response and requirement."""

    @property
    def common_source_effect(self) -> float | None:
        """The single source effect when all models share it and h = 0, else None."""
        values = set(np.round(list(self.source_effects.values()), 12))
        if len(values) == 1 and not any(self.requirement_source_effects.values()):
            return float(values.pop())
        return None

    def fixed_effects(self) -> pd.Series:
        """True coefficients of ``violation ~ source + requirement + model`` in patsy's names
        (``real``, the first requirement in design-code order and the first model by name as
        references); defined only when the source effect is common."""
        beta = self.common_source_effect
        if beta is None:
            raise ValueError("the default model's coefficients are defined only for a common source effect")
        reqs = [k for k in REQUIREMENT_KEYS if k in self.requirement_effects]
        models = sorted(self.models)
        values = {"Intercept": self.model_intercepts[models[0]] + self.requirement_effects[reqs[0]],
                  "source[T.modified]": beta}
        values.update({f"requirement[T.{k}]": self.requirement_effects[k] - self.requirement_effects[reqs[0]]
                       for k in reqs[1:]})
        values.update({f"model[T.{m}]": self.model_intercepts[m] - self.model_intercepts[models[0]]
                       for m in models[1:]})
        return pd.Series(values, name="truth")


# ---------------------------------------------------------------------------- designs

def design_counts() -> dict:
    """The released benchmark's design counts (``data/published/benchmark_design.json``)."""
    with (published_dir() / "benchmark_design.json").open(encoding="utf-8") as fh:
        return json.load(fh)


def synthetic_design(seed: int = 0) -> pd.DataFrame:
    """A design with the benchmark's counts: the same checks per requirement and source and
    the same distribution of labels per prompt (the assignment of labels to prompts is made
    up). Columns as ``Benchmark.checks``' ``prompt_id``, ``requirement``, ``source``,
    ``rewriter_model``, ``responder_model``."""
    counts = design_counts()
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, str, str | None, str]] = []
    origins = [(o["rewriter"], o["responder"]) for o in counts["modified_origins"] for _ in range(o["prompts"])]
    rng.shuffle(origins)
    for source in SOURCES:
        remaining = {k: v[source] for k, v in counts["checks_per_requirement"].items()}
        sizes = sorted((int(k) for k, v in counts["prompts_per_label_count"].items() for _ in range(v[source])), reverse=True)
        # Largest prompts first, each taking the requirements with most checks left: this
        # greedy rule meets any feasible pair of margins exactly (Gale-Ryser).
        for i, size in enumerate(sizes):
            jitter = rng.random(len(remaining))
            order = sorted(remaining, key=lambda k: (-remaining[k], jitter[REQUIREMENT_KEYS.index(k)]))
            chosen = order[:size]
            prompt_id = f"sim-{source[0]}{i:04d}"
            rewriter, responder = (None, counts["real_responder"]) if source == "real" else origins[i]
            for key in REQUIREMENT_KEYS:
                if key in chosen:
                    remaining[key] -= 1
                    rows.append((prompt_id, key, source, rewriter, responder))
    return pd.DataFrame(rows, columns=["prompt_id", "requirement", "source", "rewriter_model", "responder_model"])


def default_design() -> tuple[pd.DataFrame, str]:
    """The real benchmark's checks if the file can be found, else the synthetic design."""
    try:
        checks = load_benchmark().checks
    except (DatasetNotFoundError, DatasetError) as exc:
        log.info("benchmark file unavailable (%s); simulating on a synthetic design with the same counts", exc)
        return synthetic_design(), "synthetic"
    return checks[["prompt_id", "requirement", "source", "rewriter_model", "responder_model"]], "benchmark"


# ---------------------------------------------------------------------------- calibration

def gauss_hermite(n: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights so that E f(Z), Z ~ N(0, 1), is ``weights @ f(nodes)``."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(n)
    return nodes, weights / weights.sum()


def marginal_probability(eta: np.ndarray, prompt_sd: float, n_nodes: int = 32) -> np.ndarray:
    """E expit(eta + prompt_sd * Z) over the prompt effect, elementwise."""
    nodes, weights = gauss_hermite(n_nodes)
    return expit(np.asarray(eta)[..., None] + prompt_sd * nodes) @ weights


@dataclass(frozen=True)
class _Calibration:
    """Parameters of the ``published`` preset (before any random draw)."""

    models: tuple[str, ...]
    """Leaderboard models in rank order."""
    families: dict[str, str]
    """Model family per model."""
    intercepts: dict[str, float]
    """a[model]."""
    source_effects: dict[str, float]
    """b[model] (0 for models without a published pair)."""
    requirement_effects: dict[str, float]
    """g[requirement]."""
    requirement_source_effects: dict[str, float]
    """h[requirement]."""


@lru_cache(maxsize=4)
def _calibrate(design_counts: tuple[tuple[str, int, int], ...], prompt_sd: float) -> _Calibration:
    from scipy import optimize  # here, not at import: only the first simulation needs it

    from .published import leaderboard, real_modified_pairs, requirement_averages

    board, pairs, averages = leaderboard(), real_modified_pairs(), requirement_averages()
    models = tuple(board["model"])
    paired = [m for m in models if m in set(pairs["model"])]
    keys = [k for k, _, _ in design_counts]
    n = np.array([[r, m] for _, r, m in design_counts], dtype=float)  # requirements x source
    n_models, n_req, n_pair = len(models), len(keys), len(paired)
    # Targets as plain arrays: the residuals run a few hundred times, pandas lookups there
    # would dominate the demo's first render.
    overall_target = board["overall"].to_numpy(dtype=float)
    pair_rows = np.array([models.index(m) for m in paired], dtype=int)
    pair_target = pairs.set_index("model").loc[paired, ["real", "modified"]].to_numpy(dtype=float)
    avg_target = averages.set_index("requirement").reindex(keys)[["real", "modified"]].to_numpy(dtype=float)
    if np.isnan(avg_target).any():
        raise ValueError("the published per-requirement averages do not cover every requirement of the design")
    pair_slots = n_models + np.arange(n_pair)

    def unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a = theta[:n_models]
        b = np.zeros(n_models)
        b[pair_rows] = theta[pair_slots]
        g = theta[n_models + n_pair:].reshape(n_req, 2)
        return a, b, g

    def probabilities(theta: np.ndarray) -> np.ndarray:
        a, b, g = unpack(theta)
        eta = a[:, None, None] + g[None, :, :] + np.stack([np.zeros(n_models), b], 1)[:, None, :]
        return marginal_probability(eta, prompt_sd)  # models x requirements x source

    def residuals(theta: np.ndarray) -> np.ndarray:
        p = probabilities(theta)
        overall = (p * n).sum((1, 2)) / n.sum()
        by_source = (p * n).sum(1) / n.sum(0)
        return np.concatenate([
            overall - overall_target,
            (by_source[pair_rows] - pair_target).ravel(),
            # The paper averages the 22 models' rates per requirement and source.
            (p.mean(0) - avg_target).ravel(),
            # A small ridge pins the one direction the targets leave free (a shift between a and g).
            1e-3 * theta[:n_models].mean(keepdims=True),
        ])

    start = np.zeros(n_models + n_pair + 2 * n_req)
    fit = optimize.least_squares(residuals, start, method="lm")
    worst = float(np.max(np.abs(fit.fun[:-1])))
    if not fit.success or not np.isfinite(worst):
        raise RuntimeError(f"calibration to the published figures failed ({fit.message})")
    # On the benchmark's design the figures are consistent to a fraction of a point; a design
    # with other real/modified proportions cannot meet the pairs and the overall rates at once.
    (log.warning if worst > 0.01 else log.debug)(
        "calibrated to the published figures: largest miss %.2f points", 100 * worst)
    a, b, g = unpack(fit.x)
    return _Calibration(
        models=models, families=dict(zip(board["model"], board["family"])),
        intercepts=dict(zip(models, a.tolist())), source_effects=dict(zip(models, b.tolist())),
        requirement_effects=dict(zip(keys, g[:, 0].tolist())),
        requirement_source_effects=dict(zip(keys, (g[:, 1] - g[:, 0]).tolist())))


def _design_counts(design: pd.DataFrame) -> tuple[tuple[str, int, int], ...]:
    counts = design.groupby(["requirement", "source"]).size().unstack(fill_value=0)
    return tuple((k, int(counts.loc[k].get("real", 0)), int(counts.loc[k].get("modified", 0)))
                 for k in REQUIREMENT_KEYS if k in counts.index)


# ---------------------------------------------------------------------------- simulation

def simulate_with_truth(
    preset: str = "published",
    seed: int = 0,
    design: pd.DataFrame | None = None,
    *,
    models: int | Sequence[str] | None = None,
    source_effect: float | None = None,
    prompt_sd: float = DEFAULT_PROMPT_SD,
    error_rate: float = 0.0,
    match_draws: bool = False,
    epochs: int = 1,
    judge_repeats: int = 1,
    response_sd: float = 0.0,
) -> tuple[pd.DataFrame, SimulationTruth]:
    """Draw a judgments table and return it with its truth.

    ``design``: checks (``prompt_id``, ``requirement``, ``source``, optionally
    ``rewriter_model``, ``responder_model``), default the benchmark's or a synthetic one.
    ``models``: how many leaderboard models (best first) or which names; default all 22.
    ``source_effect``: the common effect for ``common`` (default -0.35). ``error_rate``: share
    of rows turned into judge errors (violation NaN, ``error`` set). ``match_draws`` (preset
    ``published`` only, without repeats): after the prompt effects and the uniform draws are made,
    shift each model's intercept (and, for a model with a published pair, its source effect) so
    that the realised rates equal the published ones (``match_published_on_draws``); the truth
    returned holds the shifted values. ``epochs``, ``judge_repeats`` and ``response_sd``: repeated
    verdicts (module docstring), one row per verdict with ``epoch`` and ``judge_repeat`` columns;
    with the defaults the table and its random draws are exactly those of a table without repeats.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")
    design_name = "custom"
    if design is None:
        design, design_name = default_design()
    missing = {"prompt_id", "requirement", "source"} - set(design.columns)
    if missing:
        raise ValueError(f"design is missing column(s) {', '.join(sorted(missing))}")
    repeated = epochs != 1 or judge_repeats != 1 or response_sd != 0
    if repeated and (int(epochs) != epochs or int(judge_repeats) != judge_repeats or epochs < 1 or judge_repeats < 1
                     or response_sd < 0):
        raise ValueError("epochs and judge_repeats must be whole numbers >= 1 and response_sd >= 0")
    # A call's log-odds vary by u + v around the fixed part: calibrate on their joint SD.
    cal = _calibrate(_design_counts(design), float(np.hypot(prompt_sd, response_sd)))
    if models is None:
        chosen = cal.models
    elif isinstance(models, int):
        chosen = cal.models[:models]
    else:
        chosen = tuple(models)
    # Models outside the leaderboard get the median intercept.
    median = float(np.median(list(cal.intercepts.values())))
    intercepts = {m: cal.intercepts.get(m, median) for m in chosen}
    if preset == "published":
        source_effects = {m: cal.source_effects.get(m, 0.0) for m in chosen}
        req_source = dict(cal.requirement_source_effects)
    else:
        beta = 0.0 if preset == "null" else (DEFAULT_SOURCE_EFFECT if source_effect is None else float(source_effect))
        source_effects = {m: beta for m in chosen}
        req_source = {k: 0.0 for k in cal.requirement_effects}

    rng = np.random.default_rng(seed)
    prompts = pd.unique(design["prompt_id"])
    u = pd.Series(rng.normal(0.0, prompt_sd, len(prompts)), index=prompts)
    checks = design.reset_index(drop=True)
    eta = linear_predictor(chosen, intercepts, source_effects, cal.requirement_effects, req_source, checks)
    eta = eta + u.reindex(checks["prompt_id"]).to_numpy()[None, :]
    if match_draws and preset != "published":
        raise ValueError("match_draws calibrates to the published figures: use it with preset 'published'")
    if match_draws and repeated:
        # Matching shifts each model to hit its rate on one draw per check; with repeats there is no
        # single draw to match, and the published figures were made from one response per prompt.
        raise ValueError("match_draws matches one draw per check: it cannot be combined with epochs or judge repeats")
    if repeated:
        frame, checks = _draw_repeats(rng, eta, checks, chosen, prompts, int(epochs), int(judge_repeats), float(response_sd))
    else:
        draws = rng.random(eta.shape)
        if match_draws:
            intercepts, source_effects = match_published_on_draws(chosen, intercepts, source_effects, eta, draws,
                                                                  (checks["source"] == "modified").to_numpy())
            eta = linear_predictor(chosen, intercepts, source_effects, cal.requirement_effects, req_source, checks)
            eta = eta + u.reindex(checks["prompt_id"]).to_numpy()[None, :]
        frame = pd.DataFrame({
            "model": np.repeat(np.array(chosen, dtype=object), len(checks)),
            "prompt_id": np.tile(checks["prompt_id"].to_numpy(), len(chosen)),
            "requirement": np.tile(checks["requirement"].to_numpy(), len(chosen)),
            "source": np.tile(checks["source"].to_numpy(), len(chosen)),
            "violation": (draws < expit(eta)).astype(float).ravel(),
            "error": "",
        })
    n_checks = len(checks)
    if error_rate > 0:
        broken = rng.random(len(frame)) < error_rate
        frame.loc[broken, "violation"] = np.nan
        frame.loc[broken, "error"] = "simulated judge error"
    frame["run_id"] = f"simulated-{preset}-seed{seed}"
    frame["family"] = frame["model"].map(lambda m: cal.families.get(m, "unknown"))
    for column in ("rewriter_model", "responder_model"):
        values = checks[column] if column in checks.columns else pd.Series([None] * n_checks)
        frame[column] = np.tile(values.to_numpy(dtype=object), len(chosen))
    frame["judge_model"] = JUDGE_LABEL
    frame["rubric_version"] = ""
    frame["simulated"] = True
    frame.attrs["simulated"] = True
    truth = SimulationTruth(
        preset=preset, seed=seed, models=tuple(chosen), model_intercepts=intercepts,
        source_effects=source_effects, requirement_effects=dict(cal.requirement_effects),
        requirement_source_effects=req_source, prompt_sd=float(prompt_sd), prompt_effects=u,
        design_name=design_name, response_sd=float(response_sd), epochs=int(epochs), judge_repeats=int(judge_repeats))
    return frame, truth


def _shift_for_rate(threshold: np.ndarray, target: float) -> float:
    """The log-odds shift d at which the share of checks with ``threshold < d`` is ``target``:
    a check violates when its uniform draw is below expit(eta + d), i.e. when logit(draw) - eta < d,
    so the realised rate is a step function of d and the midpoint between two steps hits it."""
    ordered = np.sort(threshold)
    k = int(np.clip(round(target * len(ordered)), 0, len(ordered)))
    if k == 0:
        return float(ordered[0] - 1.0)
    if k == len(ordered):
        return float(ordered[-1] + 1.0)
    return float((ordered[k - 1] + ordered[k]) / 2)


def match_published_on_draws(models: Sequence[str], intercepts: dict[str, float], source_effects: dict[str, float],
                             eta: np.ndarray, draws: np.ndarray, modified: np.ndarray
                             ) -> tuple[dict[str, float], dict[str, float]]:
    """Intercepts and source effects shifted so that, with these prompt effects and uniform draws
    (``eta``: models x checks log-odds including the prompt effect), every leaderboard model's
    realised overall rate is its published rate and every published real / modified pair is met
    (each to within one check: 0.03 points overall, 0.1 per source on the benchmark). The
    marginal calibration meets the expected rates; a single draw then misses them by a Bernoulli
    error of about 0.9 points (up to 2.4 over 22 models), which is what a reader comparing the
    demo with the paper would see. Models outside the leaderboard keep their values."""
    from .published import leaderboard, real_modified_pairs

    overall = leaderboard().set_index("model")["overall"]
    pairs = real_modified_pairs().set_index("model")
    threshold = np.log(draws) - np.log1p(-draws) - eta  # logit(draw) - eta
    intercepts, source_effects = dict(intercepts), dict(source_effects)
    for i, model in enumerate(models):
        if model in pairs.index and modified.any() and (~modified).any():
            real = _shift_for_rate(threshold[i, ~modified], float(pairs.loc[model, "real"]))
            shifted = _shift_for_rate(threshold[i, modified], float(pairs.loc[model, "modified"]))
            intercepts[model] += real
            source_effects[model] += shifted - real
        elif model in overall.index:
            intercepts[model] += _shift_for_rate(threshold[i], float(overall[model]))
    return intercepts, source_effects
def _draw_repeats(rng: np.random.Generator, eta: np.ndarray, checks: pd.DataFrame, models: Sequence[str],
                  prompts: np.ndarray, epochs: int, judge_repeats: int, response_sd: float
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Verdicts of ``epochs`` responses x ``judge_repeats`` judge calls per model and check (``eta``:
    models x checks log-odds with the prompt effect), in the store's order: model, check, epoch,
    repeat. Returns the table and the checks repeated to its rows (for the metadata columns)."""
    prompt_index = pd.Index(prompts).get_indexer(checks["prompt_id"])
    v = rng.normal(0.0, response_sd, size=(len(models), len(prompts), epochs)) if response_sd > 0 else \
        np.zeros((len(models), len(prompts), epochs))
    # models x checks x epochs x repeats
    logits = eta[:, :, None] + v[:, prompt_index, :]
    p = expit(logits)[..., None]
    y = (rng.random((*logits.shape, judge_repeats)) < p).astype(float)
    n_checks, per_check = len(checks), epochs * judge_repeats
    rows = np.tile(np.repeat(np.arange(n_checks), per_check), len(models))
    frame = pd.DataFrame({
        "model": np.repeat(np.array(models, dtype=object), n_checks * per_check),
        "prompt_id": checks["prompt_id"].to_numpy()[rows],
        "requirement": checks["requirement"].to_numpy()[rows],
        "source": checks["source"].to_numpy()[rows],
        "violation": y.ravel(),
        "error": "",
        "epoch": np.tile(np.repeat(np.arange(1, epochs + 1), judge_repeats), n_checks * len(models)),
        "judge_repeat": np.tile(np.arange(1, judge_repeats + 1), n_checks * epochs * len(models)),
    })
    return frame, checks.iloc[np.repeat(np.arange(n_checks), per_check)].reset_index(drop=True)


def linear_predictor(models: Sequence[str], model_intercepts: dict[str, float], source_effects: dict[str, float],
                     requirement_effects: dict[str, float], requirement_source_effects: dict[str, float],
                     checks: pd.DataFrame) -> np.ndarray:
    """models x checks log-odds a[model] + b[model] * modified + g[req] + h[req] * modified,
    before the prompt effect (the model of the module docstring; a ``SimulationTruth``'s fields)."""
    modified = (checks["source"] == "modified").to_numpy(dtype=float)
    g = checks["requirement"].map(requirement_effects).to_numpy(dtype=float)
    h = checks["requirement"].map(requirement_source_effects).to_numpy(dtype=float) * modified
    a = np.array([model_intercepts[m] for m in models], dtype=float)
    b = np.array([source_effects[m] for m in models], dtype=float)
    return a[:, None] + b[:, None] * modified[None, :] + (g + h)[None, :]


def simulate_judgments(preset: str = "published", seed: int = 0, design: pd.DataFrame | None = None,
                       **options: object) -> pd.DataFrame:
    """A simulated judgments table (long format, ``simulated=True``); see ``simulate_with_truth``."""
    return simulate_with_truth(preset, seed, design, **options)[0]  # type: ignore[arg-type]


@lru_cache(maxsize=2)
def _demo(dataset: str) -> pd.DataFrame:
    return simulate_judgments("published", seed=0, match_draws=True)


def _dataset_in_use() -> str:
    """The benchmark file a simulation would read now ('' when none): the demo's cache key, so
    a file fetched or named after a first demo gives the demo on the real design."""
    try:
        return str(resolve_dataset_path())
    except DatasetNotFoundError:
        return ""


def demo_judgments() -> pd.DataFrame:
    """The dashboard's embedded demo: the ``published`` preset, seed 0, on the real design if
    available, calibrated on its own draws (``match_draws``) so that its overall rates and
    real / modified pairs are the published ones. Deterministic and cached; each call returns a
    fresh copy."""
    frame = _demo(_dataset_in_use()).copy()
    frame.attrs["simulated"] = True
    return frame


def marginal_source_effect(truth: SimulationTruth, design: pd.DataFrame, n_nodes: int = 32) -> float:
    """The population-averaged (GEE) estimand matching ``truth`` on ``design``.

    Expected violation probabilities per model x requirement x source cell are integrated over
    the prompt effects (Gauss-Hermite), then a logistic GLM ``source + requirement + model``
    weighted by the cell's checks is fitted to them; its source coefficient is the marginal
    log-odds ratio.
    """
    import statsmodels.api as sm
    from patsy import dmatrix

    cells = design.groupby(["requirement", "source"]).size().rename("n").reset_index()
    rows = []
    for m in truth.models:
        eta = (truth.model_intercepts[m] + cells["requirement"].map(truth.requirement_effects)
               + (cells["source"] == "modified") * (truth.source_effects[m]
                                                     + cells["requirement"].map(truth.requirement_source_effects)))
        rows.append(cells.assign(model=m, violation=marginal_probability(eta.to_numpy(), truth.prompt_sd, n_nodes)))
    table = pd.concat(rows, ignore_index=True).assign(prompt_id="cell")
    data, rhs = model_data(table)
    weights = table["n"].to_numpy(dtype=float)
    X = dmatrix(rhs, data, return_type="dataframe")
    fit = sm.GLM(data["violation"].to_numpy(), X, family=sm.families.Binomial(), var_weights=weights).fit()
    return float(fit.params["source[T.modified]"])


def calibrated_effects(prompt_sd: float) -> tuple[dict[str, float], dict[str, float]]:
    """The ``published`` calibration's model intercepts a[model] and real-prompt requirement
    effects g[requirement] at this prompt SD (rounded to 0.01 so nearby SDs share one cached
    calibration), on the default design: a world without any source effect, for the
    selection-only reference of ``analysis.curation``."""
    design, _ = default_design()
    cal = _calibrate(_design_counts(design), round(float(prompt_sd), 2))
    return dict(cal.intercepts), dict(cal.requirement_effects)


def simulate_imperfect_judge(frame: pd.DataFrame, sensitivity: float | dict[str, float],
                             specificity: float | dict[str, float], seed: int = 0) -> pd.DataFrame:
    """A judge with known error rates over a simulated table whose ``violation`` is the truth.

    The returned copy keeps the truth in ``true_violation`` and puts the judge's verdict in
    ``violation``: a true violation is called one with probability ``sensitivity``, a true
    non-violation is called one with probability ``1 - specificity``; both may be given per
    requirement key. The raw judge rate of a check with true probability p is then
    ``sensitivity * p + (1 - specificity) * (1 - p)``.
    """
    def per_check(value: float | dict[str, float], name: str) -> np.ndarray:
        if isinstance(value, dict):
            missing = set(frame["requirement"]) - set(value)
            if missing:
                raise ValueError(f"{name} has no value for requirement(s) {', '.join(sorted(missing))}")
            return np.array([value[k] for k in frame["requirement"].to_numpy(dtype=object)], dtype=float)
        return np.full(len(frame), float(value))

    sens, spec = per_check(sensitivity, "sensitivity"), per_check(specificity, "specificity")
    truth = frame["violation"].to_numpy(dtype=float)
    judged = imperfect_verdicts(truth, sens, spec, np.random.default_rng(seed))
    out = frame.assign(true_violation=truth, violation=judged)
    out.attrs = dict(frame.attrs)
    return out


def imperfect_verdicts(truth: np.ndarray, sensitivity: np.ndarray, specificity: np.ndarray,
                       rng: np.random.Generator) -> np.ndarray:
    """Judge verdicts (0/1, NaN where the truth is NaN) for true 0/1 labels and per-check error rates."""
    draw = rng.random(len(truth))
    judged = np.where(truth == 1, draw < sensitivity, draw >= specificity).astype(float)
    return np.where(np.isnan(truth), np.nan, judged)


def simulate_many_models(n_models: int, seed: int = 0, design: pd.DataFrame | None = None, *,
                         model_sd: float = 0.6, source_effect: float = DEFAULT_SOURCE_EFFECT,
                         prompt_sd: float = DEFAULT_PROMPT_SD) -> tuple[pd.DataFrame, SimulationTruth]:
    """A leaderboard of ``n_models`` made-up models (``panel-001``, ...) under the ``common``
    preset, with known truth: model intercepts drawn from N(c, ``model_sd``^2) around the
    published median c, one source effect for all, requirement effects and prompt effects as
    ``simulate_with_truth`` draws them (same seed, same prompt effects). Both mixed-model
    variants are then correctly specified: the fixed-model fit for the drawn intercepts, the
    crossed fit for their distribution. For fits at the size of a large leaderboard."""
    if n_models < 2:
        raise ValueError(f"n_models must be at least 2, not {n_models}")
    names = [f"panel-{i:03d}" for i in range(1, n_models + 1)]
    frame, truth = simulate_with_truth("common", seed, design, models=names, source_effect=source_effect,
                                       prompt_sd=prompt_sd)
    rng = np.random.default_rng([seed, n_models])
    centre = truth.model_intercepts[names[0]]  # every model off the leaderboard has the median
    intercepts = dict(zip(names, (centre + model_sd * rng.standard_normal(n_models)).tolist()))
    checks = frame.iloc[:len(frame) // n_models][["prompt_id", "requirement", "source"]]
    eta = linear_predictor(names, intercepts, truth.source_effects, truth.requirement_effects,
                           truth.requirement_source_effects, checks)
    eta = eta + truth.prompt_effects.reindex(checks["prompt_id"]).to_numpy()[None, :]
    frame["violation"] = (rng.random(eta.shape) < expit(eta)).astype(float).ravel()
    return frame, replace(truth, model_intercepts=intercepts)
def noise_truth(truth: SimulationTruth, design: pd.DataFrame, model: str, *, requirement: str | None = None,
                n_nodes: int = 40) -> dict[str, float]:
    """The known values a noise decomposition (``analysis.noise``) of ``model`` estimates, on the
    checks of ``design`` (one ``requirement`` only, if given), from the truth of a simulation with
    repeats: ``sd_prompt`` and ``sd_response`` (log-odds), the expected ``rate``, the
    ``judge_flip_rate`` (two judge calls on one response disagreeing, E 2 p (1 - p) over prompts and
    responses), the ``response_flip_rate`` (calls on two responses to one prompt disagreeing, judge
    noise included), the per-verdict variances ``var_prompt``, ``var_response``, ``var_judge`` and
    their ``share_*`` of the total, by Gauss-Hermite quadrature over u and v."""
    checks = design if requirement is None else design[design["requirement"] == requirement]
    eta = linear_predictor([model], truth.model_intercepts, truth.source_effects, truth.requirement_effects,
                           truth.requirement_source_effects, checks.reset_index(drop=True))[0]
    nodes, weights = gauss_hermite(n_nodes)
    # p[c, i, l] at u = prompt_sd * a_i and v = response_sd * b_l
    p = expit(eta[:, None, None] + truth.prompt_sd * nodes[None, :, None] + truth.response_sd * nodes[None, None, :])
    mean_given_u = p @ weights                              # checks x u-nodes: E_v p
    judge = float(np.mean(2 * ((p * (1 - p)) @ weights) @ weights))
    response = float(np.mean(2 * (mean_given_u * (1 - mean_given_u)) @ weights))
    rate = float(np.mean(mean_given_u @ weights))
    total = rate * (1 - rate)
    var_judge, var_response = judge / 2, (response - judge) / 2
    var_prompt = total - response / 2
    return {"sd_prompt": truth.prompt_sd, "sd_response": truth.response_sd, "rate": rate,
            "judge_flip_rate": judge, "response_flip_rate": response, "var_prompt": var_prompt,
            "var_response": var_response, "var_judge": var_judge, "share_prompt": var_prompt / total,
            "share_response": var_response / total, "share_judge": var_judge / total}
