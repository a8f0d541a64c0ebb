"""Live judging in a notebook: pick endpoints and a prompt, see the response beside a verdict
per labelled requirement, compare two models side by side, and launch a run over a subset.

The calls are the runner's own (``runner.respond_and_judge`` for one prompt, ``runner.Runner``
for a run), so what the widget shows is what a run records. Work runs as ``asyncio`` tasks on
the kernel's event loop (ipykernel has one), so the notebook stays responsive; every action is
also an awaitable method (``run_single``, ``run_compare``, ``run_subset``) that tests and
notebook cells can ``await`` directly.

API keys: the endpoint pickers (``endpoints``) move a typed key at once into an environment
variable of this kernel process and empty the field; runs then name that variable like any
other ``api_key_env``. Every piece of prompt, response and judge text is
HTML-escaped: it is untrusted.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd

from ..analysis.responses import counts_text
from ..judging.client import ChatResponse, ReliableClient, Redactor
from ..benchmark.dataset import SOURCES, Benchmark
from ..benchmark.design_code import REQUIREMENTS, requirement
from ..benchmark.explore import PromptIndex
from ..judging.protocols import PROTOCOLS, parse_extra_body
from ..judging.calls import open_clients, respond_and_judge
from ..judging.config import RunConfig
from ..judging.recording import RunSummary
from ..judging.repeats import MAX_REPEATS, describe_repeats
from ..judging.runner import Runner
from ..report.comparison import comparability_html
from ..store.results import PENDING, VerdictRecord, load_judgments, verdict_details
from .batch_status import BatchStatus
# The endpoint pickers live in their own module; their names are importable from here too.
from .endpoints import (LOCAL_BASE_URL, LOCAL_PRESET, PRESETS, SMOKE_TEST_NOTE, EndpointPicker, EndpointPreset,
                        EndpointSettings)
from .browser import TEXT_BOX_STYLE, render_prompt
from .run_controls import attempts_text, error_split, failure_text, store_from_environment

log = logging.getLogger(__name__)

VERDICT_STYLES = {
    "violation": ("#c62828", "violation"),
    "pass": ("#2e7d32", "no violation"),
    "error": ("#757575", "error"),
    "pending": ("#bdbdbd", "pending"),
}
"""Verdict kind -> (colour, label): violations red, passes green, errors grey."""
_ROW_TINTS = {"violation": "#fdecea", "pass": "#edf7ed", "error": "#f2f2f2", "pending": "#fafafa"}
MAX_MATCHES = 50
MAX_TABLE_ROWS = 300
_WRAP = "row wrap"
"""Rows of controls wrap instead of overflowing a phone's width (seen at 390 px in Chromium)."""
_COLUMN = "1 1 340px"
"""Side-by-side panes share a wide page and stack on a narrow one."""


@dataclass(frozen=True)
class PromptChoice:
    """The prompt to judge and the requirements to judge it on."""

    prompt_id: str
    """Benchmark prompt id, or "" for a prompt typed by hand."""
    text: str
    """The prompt text."""
    requirements: tuple[str, ...]
    """Requirement keys to judge (the prompt's labels for a benchmark prompt)."""


@dataclass(frozen=True)
class PromptResult:
    """One model's response to one prompt and the judge's results, as shown."""

    model: str
    """Model under test."""
    judge_model: str
    """Judge model."""
    prompt: PromptChoice
    """What was asked and judged."""
    response: ChatResponse
    """The model's response (or its error)."""
    verdicts: tuple[VerdictRecord, ...]
    """One per requirement of ``prompt``, in order: a verdict or the reason there is none."""
    smoke_test: bool
    """Made with the smoke-test model: not research results."""

    def describe(self) -> str:
        """Plain-text summary (for a notebook cell's printed output)."""
        head = f"{self.model} judged by {self.judge_model}" + (f" [{SMOKE_TEST_NOTE}]" if self.smoke_test else "")
        said = self.response.text if self.response.ok else f"(no response: {self.response.error})"
        lines = [head, f"response: {said}"]
        for v in self.verdicts:
            lines.append(f"  {requirement(v.requirement).label}: {VERDICT_STYLES[verdict_kind(v.violation, v.error)][1]}"
                         + (f" ({v.error})" if v.error else ""))
        return "\n".join(lines)


def verdict_kind(violation: bool | float | None, error: str | None) -> str:
    """``violation``, ``pass``, ``error`` or ``pending`` for one check result (store or record)."""
    if error == PENDING:
        return "pending"
    if error:
        return "error"
    if violation is None or pd.isna(violation):
        return "pending"
    return "violation" if bool(violation) else "pass"


def _badge(kind: str) -> str:
    colour, label = VERDICT_STYLES[kind]
    return f"<span style='background:{colour};color:white;padding:0 0.4em;border-radius:3px;white-space:nowrap'>{label}</span>"


def _verdict_row(kind: str, cells: Sequence[str], detail: str) -> str:
    colour = VERDICT_STYLES[kind][0]
    tds = "".join(f"<td style='padding:0.2em 0.4em;vertical-align:top'>{c}</td>" for c in cells)
    return (
        f"<tr data-verdict='{kind}' style='border-left:4px solid {colour};background:{_ROW_TINTS[kind]}'>{tds}<td>{_badge(kind)}</td>"
        f"<td style='padding:0.2em 0.4em;color:{colour if kind == 'error' else 'inherit'}'>{html.escape(detail)}</td></tr>"
    )


def _smoke_banner() -> str:
    return f"<div style='background:#fff3cd;padding:0.3em;border:1px solid #e0c36a'><b>{SMOKE_TEST_NOTE}</b></div>"


def result_html(result: PromptResult) -> str:
    """The response (escaped) above one row per requirement: verdict and reasoning, or error."""
    reply = result.response
    body = html.escape(reply.text) if reply.ok else f"<span style='color:#757575'>no response: {html.escape(reply.error or '')}</span>"
    usage = f"{reply.usage.prompt_tokens} + {reply.usage.completion_tokens} tokens, {reply.latency_s:.1f} s"
    rows = "".join(
        _verdict_row(verdict_kind(v.violation, v.error), [html.escape(requirement(v.requirement).label)], v.error or v.reasoning or "")
        for v in result.verdicts
    )
    return (
        (_smoke_banner() if result.smoke_test else "")
        + f"<div><b>{html.escape(result.model)}</b> ({usage})</div>"
        + f"<div class='response' style='{TEXT_BOX_STYLE}'>{body}</div>"
        + f"<div>judge <b>{html.escape(result.judge_model)}</b>, one row per requirement:</div>"
        + f"<table class='verdicts' style='border-collapse:collapse'>{rows}</table>"
    )


async def judge_one_prompt(model: EndpointSettings, judge_settings: EndpointSettings, choice: PromptChoice, config: RunConfig,
                           *, clients: dict[str, ReliableClient | None] | None = None) -> PromptResult:
    """Respond to ``choice`` with ``model`` and judge every requirement of it; nothing is stored.

    ``config`` (``CallSettings.config`` of the two settings) supplies the endpoints, key
    variables and call parameters, exactly as a run would use them. ``clients``, when given,
    receives the two clients while they work (``"model NAME"``, ``"judge"``), so a caller can
    show their attempts."""
    responder, judge_client = open_clients(config)
    if clients is not None:
        clients[f"model {model.model}"] = responder
        clients["judge"] = judge_client
    try:
        reply, verdicts = await respond_and_judge(
            responder, judge_client, choice.text, choice.requirements, config, prompt_id=choice.prompt_id
        )
    finally:
        await responder.provider.aclose()
        await judge_client.provider.aclose()
    return PromptResult(
        model=model.model, judge_model=judge_settings.model, prompt=choice, response=reply, verdicts=tuple(verdicts),
        smoke_test=model.smoke_test or judge_settings.smoke_test or config.is_smoke_test,
    )


def run_table(store_path: str | os.PathLike[str], run_id: str) -> pd.DataFrame | None:
    """The run's long table with each result's reasoning, or None before the run is in the store."""
    try:
        frame = load_judgments(store_path, [run_id])
    except (FileNotFoundError, KeyError):
        return None
    details = verdict_details(store_path, run_id)
    keys = ["prompt_id", "requirement", *(c for c in ("epoch", "judge_repeat") if c in details.columns)]
    return frame.merge(details[[*keys, "reasoning"]], on=keys, how="left")


def run_table_html(frame: pd.DataFrame | None, limit: int = MAX_TABLE_ROWS) -> str:
    """Counts, then one coloured row per check (the first ``limit``)."""
    if frame is None:
        return "<i>waiting for the run to start</i>"
    kinds = [verdict_kind(v, e) for v, e in zip(frame["violation"], frame["error"])]
    counts = {k: kinds.count(k) for k in VERDICT_STYLES}
    judged = counts["violation"] + counts["pass"]
    rate = f"{counts['violation'] / judged:.1%}" if judged else "n/a"
    failed_model, failed_judge = error_split(e for e, k in zip(frame["error"], kinds) if k == "error")
    done = counts_text({k: v for k, v in counts.items() if k != "error"})
    errors = [f"{failed_model} without a response (the model call failed; nothing to judge)" if failed_model else "",
              f"{failed_judge} judge error{'s' if failed_judge != 1 else ''}" if failed_judge else ""]
    # A run with epochs or judge repeats has a row per response and judge call: say which.
    repeats = any(c in frame.columns and len(frame) and frame[c].max() > 1 for c in ("epoch", "judge_repeat"))
    unit = "results (checks x epochs x judge calls)" if repeats else "checks"
    summary = (
        f"<div>{len(frame)} {unit}: {', '.join(p for p in (done, *errors) if p) or 'none yet'} "
        f"(violation rate {rate} of {judged} verdicts; errors excluded)</div>"
    )

    def cells(r: Any) -> list[str]:
        out = [html.escape(str(r.prompt_id)), html.escape(requirement(r.requirement).label)]
        return out + [f"epoch {int(r.epoch)}, call {int(r.judge_repeat)}"] if repeats else out

    rows = "".join(
        _verdict_row(kind, cells(r), (r.error if kind in ("error", "pending") else r.reasoning) or "")
        for kind, r in zip(kinds[:limit], frame.head(limit).itertuples(index=False))
    )
    more = f"<div><i>first {limit} of {len(frame)} rows shown</i></div>" if len(frame) > limit else ""
    banner = _smoke_banner() if bool(frame["smoke_test"].any()) else ""
    return f"{banner}{summary}<table class='run-results' style='border-collapse:collapse'>{rows}</table>{more}"


class PromptPicker(widgets.VBox):
    """A benchmark prompt by id or words (or at random), or a prompt typed by hand with the
    requirements to judge it on."""

    def __init__(self, bench: Benchmark, *, seed: int | None = None) -> None:
        self.bench = bench
        self._index = PromptIndex.build(bench.prompts)
        self._rng = random.Random(seed)
        self.search = widgets.Text(description="search", placeholder="prompt id or words", continuous_update=False)
        self.matches = widgets.Dropdown(description="prompt", layout=widgets.Layout(width="95%"))
        self.random_button = widgets.Button(description="Random prompt")
        self.own = widgets.Checkbox(description="type my own prompt", value=False)
        self.own_text = widgets.Textarea(placeholder="your prompt", layout=widgets.Layout(width="95%", height="6em"))
        self.own_requirements = widgets.SelectMultiple(
            options=[(r.label, r.key) for r in REQUIREMENTS], description="judge on", rows=len(REQUIREMENTS)
        )
        self.preview = widgets.HTML()
        self.search.observe(lambda _: self._refresh(), names="value")
        self.matches.observe(lambda _: self._show(), names="value")
        self.own.observe(lambda _: self._show(), names="value")
        self.random_button.on_click(lambda _: self.pick_random())
        super().__init__([
            widgets.HBox([self.search, self.random_button]), self.matches, self.own, self.own_text,
            self.own_requirements, self.preview,
        ])
        self._refresh()

    def _refresh(self) -> None:
        query = self.search.value.strip()
        prompts = self.bench.prompts
        if query:
            found = prompts[(prompts["prompt_id"] == query) | self._index.mask(text=query)]
        else:
            found = prompts
        current = self.matches.value
        options = [(f"{r.prompt_id} · {r.source} · {r.text[:80]!r}", r.prompt_id) for r in found.head(MAX_MATCHES).itertuples()]
        self.matches.options = options
        # ipywidgets 8 leaves nothing selected after new options; keep the choice or take the first.
        ids = [pid for _, pid in options]
        self.matches.value = current if current in ids else (ids[0] if ids else None)
        self._show()

    def pick_random(self) -> str:
        """Select a random benchmark prompt; returns its id."""
        pid = str(self.bench.prompts["prompt_id"].iloc[self._rng.randrange(len(self.bench.prompts))])
        self.own.value = False
        self.search.value = pid
        self.matches.value = pid
        return pid

    def _show(self) -> None:
        self.own_text.layout.display = self.own_requirements.layout.display = None if self.own.value else "none"
        if self.own.value or self.matches.value is None:
            self.preview.value = "" if self.own.value else "<i>no prompt matches</i>"
            return
        row = self.bench.prompts.loc[self.bench.prompts["prompt_id"] == self.matches.value].iloc[0]
        self.preview.value = render_prompt(row, self.search.value.strip() or None)

    def choice(self) -> PromptChoice:
        """The selection; raises ``ValueError`` when it is incomplete."""
        if self.own.value:
            text = self.own_text.value
            if not text.strip():
                raise ValueError("type a prompt, or untick 'type my own prompt'")
            if not self.own_requirements.value:
                raise ValueError("choose at least one requirement to judge your prompt on")
            return PromptChoice("", text, tuple(self.own_requirements.value))
        if self.matches.value is None:
            raise ValueError("no benchmark prompt selected")
        row = self.bench.prompts.loc[self.bench.prompts["prompt_id"] == self.matches.value].iloc[0]
        return PromptChoice(str(row["prompt_id"]), str(row["text"]), tuple(row["requirements"]))


class CallSettings(widgets.VBox):
    """Sampling and limits, defaulting to the authors' protocol (see ``RunConfig``)."""

    def __init__(self) -> None:
        defaults = RunConfig(model="", base_url="", judge_model="", judge_base_url="")
        self.system_prompt = widgets.Textarea(description="system", placeholder="optional system prompt (none by default)")
        self.temperature = widgets.BoundedFloatText(value=defaults.temperature, min=0, max=2, step=0.1, description="temperature")
        self.max_tokens = widgets.BoundedIntText(value=defaults.max_tokens, min=1, max=100_000, description="max tokens")
        self.judge_max_tokens = widgets.BoundedIntText(value=defaults.judge_max_tokens, min=1, max=100_000, description="judge tokens")
        self.timeout_s = widgets.BoundedFloatText(value=defaults.timeout_s, min=1, max=3600, description="timeout s")
        self.max_retries = widgets.BoundedIntText(value=defaults.max_retries, min=0, max=20, description="retries")
        self.protocol = widgets.Dropdown(options=[(f"{p.name}: {p.description}", p.name) for p in PROTOCOLS.values()],
                                         value=defaults.protocol, description="protocol", layout=widgets.Layout(width="95%"))
        self.model_extra_body = widgets.Text(description="model extra", placeholder='provider fields as JSON, e.g. {"reasoning": {"effort": "medium"}}',
                                             layout=widgets.Layout(width="95%"))
        self.judge_extra_body = widgets.Text(description="judge extra", placeholder="provider fields for the judge, as JSON",
                                             layout=widgets.Layout(width="95%"))
        self.condition = widgets.Text(description="condition", placeholder="optional study condition, e.g. baseline")
        self.system_prompt_file = widgets.Text(description="prompt file", placeholder="or a UTF-8 file holding the system prompt")
        for field in (self.system_prompt, self.temperature, self.max_tokens, self.judge_max_tokens, self.timeout_s, self.max_retries,
                      self.protocol, self.model_extra_body, self.judge_extra_body, self.condition, self.system_prompt_file):
            field.style.description_width = "95px"  # "temperature" and "judge tokens" uncut
        wrap = widgets.Layout(flex_flow=_WRAP)
        super().__init__([
            widgets.HBox([self.temperature, self.max_tokens, self.judge_max_tokens], layout=wrap),
            widgets.HBox([self.timeout_s, self.max_retries], layout=wrap), self.protocol, self.model_extra_body,
            self.judge_extra_body, self.system_prompt,
            widgets.HBox([self.condition, self.system_prompt_file], layout=wrap),
        ])

    def config(self, model: EndpointSettings, judge_settings: EndpointSettings, **subset: Any) -> RunConfig:
        """A ``RunConfig`` for these endpoints and settings (plus subset fields for a run)."""
        return RunConfig(
            model=model.model, base_url=model.base_url, api_key_env=model.api_key_env,
            judge_model=judge_settings.model, judge_base_url=judge_settings.base_url, judge_api_key_env=judge_settings.api_key_env,
            system_prompt=self.system_prompt.value.strip() or None, temperature=float(self.temperature.value),
            max_tokens=int(self.max_tokens.value), judge_max_tokens=int(self.judge_max_tokens.value),
            timeout_s=float(self.timeout_s.value), max_retries=int(self.max_retries.value), protocol=self.protocol.value,
            model_extra_body=parse_extra_body(self.model_extra_body.value, "model extra body"),
            judge_extra_body=parse_extra_body(self.judge_extra_body.value, "judge extra body"),
            smoke_test=True if (model.smoke_test or judge_settings.smoke_test) else None,
            condition=self.condition.value.strip() or None, system_prompt_file=self.system_prompt_file.value.strip() or None,
            **subset,
        )


class LiveJudgingUI(widgets.VBox):
    """The whole notebook-2 interface. Controls are public attributes so code and tests can drive
    them; ``task`` is the last scheduled action (await it to wait for a click's work)."""

    def __init__(self, bench: Benchmark, *, store_path: str | os.PathLike[str] | None = None, seed: int | None = None) -> None:
        self.bench = bench
        self.model = EndpointPicker("Model under test")
        self.judge = EndpointPicker("Judge", judge=True)
        self.model_b = EndpointPicker("Second model (compare)")
        self.settings = CallSettings()
        self.prompt = PromptPicker(bench, seed=seed)
        self.task: asyncio.Task | None = None

        self.run_button = widgets.Button(description="Run", button_style="primary")
        self.single_status = widgets.HTML()
        self.single_output = widgets.HTML()
        self.compare_button = widgets.Button(description="Compare", button_style="primary")
        self.compare_status = widgets.HTML()
        self.compare_table = widgets.HTML()
        self.left = widgets.HTML(layout=widgets.Layout(flex=_COLUMN, min_width="0"))
        self.right = widgets.HTML(layout=widgets.Layout(flex=_COLUMN, min_width="0"))

        self.requirements = widgets.SelectMultiple(options=[(r.label, r.key) for r in REQUIREMENTS], description="requirements", rows=len(REQUIREMENTS))
        self.source = widgets.Dropdown(options=[("both", "")] + [(s, s) for s in SOURCES], description="source")
        self.limit = widgets.BoundedIntText(value=5, min=0, max=len(bench.prompts), description="limit (0 = all)")
        self.concurrency = widgets.BoundedIntText(value=8, min=1, max=256, description="concurrency")
        # Epochs and judge repeats (judging.repeats): K responses per prompt, J judge calls on each.
        self.epochs = widgets.BoundedIntText(value=1, min=1, max=MAX_REPEATS, description="epochs")
        self.judge_repeats = widgets.BoundedIntText(value=1, min=1, max=MAX_REPEATS, description="judge calls")
        # The dashboard's store when EUDAIMONIA_DASHBOARD_SOURCE names one, as notebook 4 does.
        self.store_path = widgets.Text(value=str(store_path or store_from_environment()), description="store", layout=widgets.Layout(width="95%"))
        for field in (self.requirements, self.source, self.limit, self.concurrency, self.epochs, self.judge_repeats,
                      self.store_path):
            field.style.description_width = "110px"  # "requirements" and "limit (0 = all)" uncut
        self.launch_button = widgets.Button(description="Launch run", button_style="primary")
        # One Stop per action: it cancels the action's task; a run keeps what it has stored.
        self.stop_single, self.stop_compare, self.stop_button = (
            widgets.Button(description="Stop", button_style="danger", disabled=True, layout=widgets.Layout(width="auto"))
            for _ in range(3))
        for stop in (self.stop_single, self.stop_compare, self.stop_button):
            stop.on_click(lambda _: self.stop())
        self._clients: dict[str, ReliableClient | None] = {}
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="checks")
        self.run_status = widgets.HTML()
        self.run_results = widgets.HTML()
        self.batch_status = BatchStatus()  # batches of a run submitted with --batch (issue 20)

        self.run_button.on_click(lambda _: self._schedule(self.run_single, self.run_button, self.single_status, self.stop_single))
        self.compare_button.on_click(lambda _: self._schedule(self.run_compare, self.compare_button, self.compare_status,
                                                              self.stop_compare))
        self.launch_button.on_click(lambda _: self._schedule(self.run_subset, self.launch_button, self.run_status,
                                                             self.stop_button))

        tabs = widgets.Tab(children=[
            widgets.VBox([self.prompt, widgets.HBox([self.run_button, self.stop_single]), self.single_status,
                          self.single_output]),
            widgets.VBox([self.model_b, self.prompt_note(), widgets.HBox([self.compare_button, self.stop_compare]),
                          self.compare_status, self.compare_table,
                          widgets.HBox([self.left, self.right], layout=widgets.Layout(flex_flow=_WRAP))]),
            widgets.VBox([self.requirements, self.source, self.limit, self.concurrency,
                          widgets.HBox([self.epochs, self.judge_repeats], layout=widgets.Layout(flex_flow=_WRAP)),
                          self.store_path,
                          widgets.HBox([self.launch_button, self.stop_button]), self.progress, self.run_status,
                          self.batch_status, self.run_results]),
        ])
        for i, title in enumerate(("One prompt", "Compare two models", "Run a subset")):
            tabs.set_title(i, title)
        for picker in (self.model, self.judge):
            picker.layout.flex = _COLUMN
        endpoints = widgets.HBox([self.model, self.judge], layout=widgets.Layout(width="100%", flex_flow=_WRAP))
        super().__init__([endpoints, widgets.HTML("<b>Call settings</b>"), self.settings, tabs])

    @staticmethod
    def prompt_note() -> widgets.HTML:
        return widgets.HTML("<i>Uses the prompt chosen in the first tab and the judge above.</i>")

    def use_local(self, base_url: str = LOCAL_BASE_URL, *, max_tokens: int | None = None, judge_max_tokens: int | None = None) -> None:
        """Point model, second model and judge at a local server (the smoke-test preset)."""
        for picker in (self.model, self.model_b, self.judge):
            picker.select(LOCAL_PRESET, base_url=base_url)
        if max_tokens is not None:
            self.settings.max_tokens.value = max_tokens
        if judge_max_tokens is not None:
            self.settings.judge_max_tokens.value = judge_max_tokens

    def _redact(self, text: str) -> str:
        return Redactor([s for s in (p.secret() for p in (self.model, self.model_b, self.judge)) if s])(text)

    def _schedule(self, action: Callable[[], Awaitable[Any]], button: widgets.Button, status: widgets.HTML,
                  stop: widgets.Button | None = None, poll_s: float = 0.5) -> asyncio.Task:
        """Run ``action`` as a task on the kernel's loop; while it works, ``status`` counts the
        calls' attempts (retries included) and ``stop`` can cancel it; a failure is shown there."""
        button.disabled = True
        if stop is not None:
            stop.disabled = False
        status.value = "<i>working…</i>"
        self._clients = {}
        self._stopped = ""
        self.task = asyncio.get_running_loop().create_task(action())
        watch = asyncio.get_running_loop().create_task(self._watch(self.task, status, poll_s))

        def finished(task: asyncio.Task) -> None:
            watch.cancel()
            button.disabled = False
            if stop is not None:
                stop.disabled = True
            if task.cancelled():
                status.value = self._stopped or "<i>stopped</i>"
            elif (exc := task.exception()) is not None:
                message = self._redact(f"{type(exc).__name__}: {exc}")
                log.error("live judging action failed: %s", message)
                status.value = f"<span style='color:#c62828'>{html.escape(message)}</span>"

        self.task.add_done_callback(finished)
        return self.task

    async def _watch(self, task: asyncio.Task, status: widgets.HTML, poll_s: float) -> None:
        """Until ``task`` ends: "working…" with the attempts of the calls so far."""
        while not task.done():
            await asyncio.sleep(poll_s)
            attempts = attempts_text(self._clients)
            if attempts and not task.done() and status.value.startswith("<i>working"):
                status.value = f"<i>working… {html.escape(attempts)}</i>"

    def stop(self) -> bool:
        """Cancel the action that is running (True if there was one). A run keeps every result it
        stored; launching it again resumes it."""
        if self.task is None or self.task.done():
            return False
        self.task.cancel()
        return True
    async def run_single(self) -> PromptResult:
        """Respond and judge the chosen prompt with the model under test; shows and returns it."""
        choice, model, judge_settings = self.prompt.choice(), self.model.settings(), self.judge.settings()
        self.single_output.value = ""
        result = await judge_one_prompt(model, judge_settings, choice, self.settings.config(model, judge_settings),
                                        clients=self._clients)
        self.single_output.value = self._redact(result_html(result))
        self.single_status.value = _status(result)
        return result

    async def run_compare(self) -> tuple[PromptResult, PromptResult]:
        """Both models on the chosen prompt, same judge, side by side."""
        choice, judge_settings = self.prompt.choice(), self.judge.settings()
        models = (self.model.settings(), self.model_b.settings())
        self.left.value = self.right.value = ""
        results = await asyncio.gather(*(
            judge_one_prompt(m, judge_settings, choice, self.settings.config(m, judge_settings), clients=self._clients)
            for m in models
        ))
        self.left.value, self.right.value = (self._redact(result_html(r)) for r in results)
        self.compare_status.value = f"{_status(results[0])} | {_status(results[1])}"
        self.compare_table.value = self._redact(compare_html(*results))
        return results[0], results[1]

    def subset_config(self) -> RunConfig:
        """The run the subset controls describe (model under test and judge from the pickers)."""
        model, judge_settings = self.model.settings(), self.judge.settings()
        store = self.store_path.value.strip()
        if not store:
            raise ValueError("store path is empty")
        return self.settings.config(
            model, judge_settings, requirements=tuple(self.requirements.value) or None, source=self.source.value or None,
            limit=int(self.limit.value) or None, concurrency=int(self.concurrency.value), store_path=str(Path(store).expanduser()),
            epochs=int(self.epochs.value), judge_repeats=int(self.judge_repeats.value),
        )

    async def run_subset(self, poll_s: float = 1.0) -> RunSummary:
        """Start (or resume) the run; the progress bar and table follow the store as it fills."""
        config = self.subset_config()
        runner = Runner(config, benchmark=self.bench)
        self.progress.max = runner.plan.n_results  # every epoch and judge call of every check
        repeats = describe_repeats(config.epochs, config.judge_repeats)
        repeats = f" x {repeats}" if repeats else ""
        self.refresh_results(config.store_path, runner.run_id)  # a resumed run starts from what is stored
        self.run_status.value = html.escape(f"run {runner.run_id}: {len(runner.prompts)} prompts, "
                                            f"{len(runner.checks)} checks{repeats}")
        work = asyncio.ensure_future(runner.run(progress=False))
        try:
            while not work.done():
                await asyncio.wait({work}, timeout=poll_s)
                self._clients = runner.clients
                self.refresh_results(config.store_path, runner.run_id)
        except asyncio.CancelledError:
            # Stop: the run's own cancellation ends its calls, releases its lock and keeps every
            # result it stored; the same settings resume it.
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
            frame = self.refresh_results(config.store_path, runner.run_id)
            done = 0 if frame is None else int((frame["error"] != PENDING).sum())
            self._stopped = html.escape(
                f"Stopped: run {runner.run_id} has results for {done} of {len(runner.checks)} checks, kept in the store; "
                "Launch run again with the same settings to resume where it stopped.")
            raise
        summary = work.result()
        frame = self.refresh_results(config.store_path, runner.run_id, comparability=True)
        # Whose call failed: a check without a response never reached the judge.
        model_failed, judge_failed = error_split(frame["error"] if frame is not None else ())
        parts = [f"{summary.verdicts} verdicts of {summary.n_checks} checks{repeats}"]
        if model_failed:
            parts.append(f"{model_failed} without a response (the model call failed; the judge was not called)")
        if judge_failed:
            parts.append(f"{judge_failed} judge error{'s' if judge_failed != 1 else ''}")
        self.run_status.value = html.escape(
            f"run {summary.run_id}: " + ", ".join(parts) + f"; {summary.input_tokens + summary.output_tokens} tokens "
            f"this time, {summary.elapsed_s:.1f} s" + "".join(f"; {n} x {reason}" for reason, n in summary.error_reasons)
        )
        return summary

    def refresh_results(self, store_path: str, run_id: str, *, comparability: bool = False) -> pd.DataFrame | None:
        """Re-read the run from the store into the progress bar and the table (and return it);
        with ``comparability``, the run's differences from the published protocol next to its rate."""
        frame = run_table(store_path, run_id)
        self.progress.value = 0 if frame is None else int((frame["error"] != PENDING).sum())
        said = comparability_html(store_path, run_id) if comparability and frame is not None else ""
        self.run_results.value = self._redact(said + run_table_html(frame))
        self.batch_status.refresh(store_path, run_id)
        return frame


def _status(result: PromptResult) -> str:
    if not result.response.ok:  # the model's call failed: its checks are not the judge's errors
        return html.escape(failure_text(result.model, result.response.error, len(result.verdicts)))
    kinds = [verdict_kind(v.violation, v.error) for v in result.verdicts]
    text = counts_text(Counter(kinds)) or "no verdicts"
    return html.escape(f"{result.model}: {text}")


def compare_html(first: PromptResult, second: PromptResult) -> str:
    """The two models' verdicts aligned by requirement; rows where they differ are marked
    (a yellow tint, a black bar and ≠, readable without colour vision)."""
    other = {v.requirement: v for v in second.verdicts}
    names = [first.model, second.model]
    if names[0] == names[1]:  # two endpoints of one model: the columns still need telling apart
        names = [f"first: {names[0]}", f"second: {names[1]}"]
    rows = []
    for v in first.verdicts:
        w = other.get(v.requirement)
        a, b = verdict_kind(v.violation, v.error), (verdict_kind(w.violation, w.error) if w else "pending")
        style = " style='background:#fff3b0;border-left:4px solid #000'" if a != b else ""
        rows.append(f"<tr class='{'differ' if a != b else 'agree'}'{style}><td style='padding:0.2em 0.4em'>"
                    f"{html.escape(requirement(v.requirement).label)}{' <b>≠</b>' if a != b else ''}</td>"
                    f"<td>{_badge(a)}</td><td>{_badge(b)}</td></tr>")
    return ("<table class='compare' style='border-collapse:collapse;margin:0.4em 0'><tr><th>Requirement</th>"
            f"<th>{html.escape(names[0])}</th><th>{html.escape(names[1])}</th></tr>{''.join(rows)}</table>")
