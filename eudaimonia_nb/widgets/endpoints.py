"""The endpoint pickers of the live-judging widgets: known OpenAI-compatible endpoints
(``PRESETS``), and ``EndpointPicker`` (preset, base URL, model, key) resolving to an
``EndpointSettings`` that names a key's environment variable and never holds the key.

A key typed into the ``Password`` field is moved at once into an environment variable of this
kernel process (a random name) and the field is emptied, so no widget state a saved notebook
could capture holds it. A preset's key variable belongs to the preset's host: an edited URL
elsewhere does not get it (``judging.keys.key_env_for``, the command line's rule), and the
picker says so."""

from __future__ import annotations

import html
import os
import uuid
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

from ..judging.keys import key_env_for
from ..judging.protocols import AUTHORS_JUDGE_MODEL
from .run_controls import endpoint_note, is_local

LOCAL_BASE_URL = "http://127.0.0.1:8080/v1"
SMOKE_TEST_NOTE = "smoke-test model: verdicts are not research results"


@dataclass(frozen=True)
class EndpointPreset:
    """A known OpenAI-compatible endpoint the pickers offer."""

    name: str
    """Label in the drop-down."""
    base_url: str
    """Its ``.../v1`` URL ("" for a custom endpoint)."""
    model: str
    """Suggested model under test."""
    judge_model: str
    """Suggested judge model."""
    key_env: str
    """Conventional environment variable for its key ("" when no key is needed)."""
    smoke_test: bool
    """The local smoke-test model: its verdicts are not research results."""


PRESETS: tuple[EndpointPreset, ...] = (
    EndpointPreset("OpenAI", "https://api.openai.com/v1", "gpt-4o-mini", "gpt-4o", "OPENAI_API_KEY", False),
    # The authors' judge was Claude Opus 4.6 on OpenRouter.
    EndpointPreset("OpenRouter", "https://openrouter.ai/api/v1", "openai/gpt-4o-mini", AUTHORS_JUDGE_MODEL, "OPENROUTER_API_KEY", False),
    EndpointPreset(
        f"Local llama.cpp server ({SMOKE_TEST_NOTE})", LOCAL_BASE_URL,
        "SmolLM2-135M-Instruct (smoke test)", "SmolLM2-135M-Instruct (smoke test)", "", True,
    ),
    EndpointPreset("Custom (vLLM, Ollama, any OpenAI-compatible URL)", "", "", "", "", False),
)
LOCAL_PRESET = next(p for p in PRESETS if p.smoke_test)


@dataclass(frozen=True)
class EndpointSettings:
    """What a picker resolved to: enough to open a client, and no secret."""

    base_url: str
    """OpenAI-compatible endpoint."""
    model: str
    """Model name as the endpoint knows it."""
    api_key_env: str | None
    """Environment variable holding the key; None for keyless servers."""
    smoke_test: bool
    """Chosen through the local smoke-test preset."""


class EndpointPicker(widgets.VBox):
    """Preset, base URL, model name and key (a ``Password`` field or an environment variable name)."""

    def __init__(self, title: str, *, judge: bool = False, preset: EndpointPreset = PRESETS[0]) -> None:
        self._judge = judge
        self._key_var = f"EUDAIMONIA_NB_KEY_{uuid.uuid4().hex[:12].upper()}"
        self._key_env_given_for: str | None = None  # a preset's variable belongs to the preset's host
        self._applying_preset = False
        self.preset = widgets.Dropdown(options=[(p.name, i) for i, p in enumerate(PRESETS)], description="endpoint")
        self.base_url = widgets.Text(description="base URL", placeholder="https://host/v1")
        self.model = widgets.Text(description="model")
        self.key = widgets.Password(description="API key", placeholder="paste a key (kept in memory only)", continuous_update=False)
        self.key_env = widgets.Text(description="or key var", placeholder="NAME of an environment variable")
        self.forget_button = widgets.Button(description="Forget key", disabled=True)
        self.key_status = widgets.HTML()
        self.note = widgets.HTML()
        self.preset.observe(lambda _: None if self._following_url else self._apply_preset(), names="value")
        self._following_url = False
        self.base_url.observe(self._url_edited, names="value")
        self.key.observe(self._take_key, names="value")
        self.key_env.observe(self._key_env_edited, names="value")
        self.forget_button.on_click(lambda _: self.forget_key())
        for field in (self.preset, self.base_url, self.model, self.key, self.key_env):
            field.layout = widgets.Layout(width="95%")
        super().__init__([
            widgets.HTML(f"<b>{html.escape(title)}</b>"), self.preset, self.note, self.base_url, self.model,
            self.key, self.key_env, widgets.HBox([self.forget_button, self.key_status]),
        ])
        self.select(preset)

    def select(self, preset: EndpointPreset, *, base_url: str | None = None, model: str | None = None) -> None:
        """Choose a preset, optionally overriding its URL and model."""
        self.preset.value = PRESETS.index(preset)
        self._apply_preset()
        self._applying_preset = True  # an override of the preset's own URL keeps the preset
        try:
            if base_url is not None:
                self.base_url.value = base_url
            if model is not None:
                self.model.value = model
        finally:
            self._applying_preset = False
        self._show_note()

    def _apply_preset(self) -> None:
        p = PRESETS[self.preset.value]
        self._applying_preset = True
        try:
            self.base_url.value = p.base_url
            self.model.value = p.judge_model if self._judge else p.model
            self.key_env.value = p.key_env
        finally:
            self._applying_preset = False
        self._key_env_given_for = p.base_url or None
        self._clear_key_note()
        self._show_note()

    def _show_note(self) -> None:
        p = PRESETS[self.preset.value]
        text = endpoint_note(self.base_url.value.strip(), preset_key_env=p.key_env if p.base_url else "",
                             smoke_test=p.smoke_test)
        colour = "#a15c00" if p.smoke_test else "#555"
        self.note.value = f"<span class='eud-endpoint-note' style='color:{colour}'>{html.escape(text)}</span>" if text else ""

    def _url_edited(self, change: dict[str, Any]) -> None:
        """An edited base URL takes the preset it matches (else Custom); a local URL needs no key,
        and a preset's key variable, meant for the preset's host, is cleared rather than shown."""
        if self._applying_preset:
            return
        url = str(change["new"]).strip().rstrip("/")
        matching = [i for i, p in enumerate(PRESETS) if p.base_url and p.base_url.rstrip("/") == url]
        if not matching and PRESETS[self.preset.value].smoke_test and is_local(url):
            matching = [self.preset.value]  # the local smoke-test server on another port is still it
        custom = next(i for i, p in enumerate(PRESETS) if not p.base_url)
        self._following_url = True
        try:
            self.preset.value = matching[0] if matching else custom
        finally:
            self._following_url = False
        if self._key_env_given_for and not matching and (is_local(url) or key_env_for(url, "x", self._key_env_given_for) is None):
            named, host = self.key_env.value.strip(), self._key_env_given_for
            self._applying_preset = True
            try:
                self.key_env.value = ""  # the preset's variable belongs to its host: never sent here anyway
            finally:
                self._applying_preset = False
            self._key_env_given_for = None
            if named and not self.secret():
                # Said, so the emptied field does not look like a lost setting.
                self._say_not_sent(named, host, ask_for_key=not is_local(url))
        self._show_note()

    def _say_not_sent(self, named: str, host: str, *, ask_for_key: bool = True) -> None:
        self.key_status.value = html.escape(
            f"{named} is meant for {host}, so it is not sent to this URL's host"
            + ("; paste a key or name a variable for this endpoint" if ask_for_key else ""))

    def _clear_key_note(self) -> None:
        """Drop a note about a variable not sent; a pasted key's status stays while the key does."""
        if not self.secret():
            self.key_status.value = ""

    def _key_env_edited(self, change: dict[str, Any]) -> None:
        if not self._applying_preset:
            self._key_env_given_for = None  # named by the user for this endpoint, whatever its host
            self._clear_key_note()

    def _take_key(self, change: dict[str, Any]) -> None:
        # The key leaves widget state at once, so a saved notebook or widget snapshot never holds it.
        value = change["new"]
        if not value:
            return
        self.key.value = ""
        # Pasted keys often carry a newline, which HTTP libraries reject with the header in the error.
        value = value.strip()
        if not value:
            return
        os.environ[self._key_var] = value
        self.forget_button.disabled = False
        self.key_status.value = "<span style='color:#2e7d32'>a key is set for this session (hidden, never stored)</span>"

    def forget_key(self) -> None:
        os.environ.pop(self._key_var, None)
        self.forget_button.disabled = True
        self.key_status.value = ""

    def secret(self) -> str | None:
        """The typed key, for scrubbing it from any text shown (never displayed)."""
        return os.environ.get(self._key_var)

    def settings(self) -> EndpointSettings:
        """The chosen endpoint; raises ``ValueError`` naming the empty field."""
        base_url, model = self.base_url.value.strip(), self.model.value.strip()
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base URL must start with http:// or https://, got {base_url!r}")
        if not model:
            raise ValueError("model name is empty")
        named = self.key_env.value.strip() or None
        # The same rule as the command line's (keys.key_env_for): a preset's variable stays on its host.
        key_env = self._key_var if self.secret() else key_env_for(base_url, named, self._key_env_given_for)
        if named and key_env is None and not self.secret():
            self._say_not_sent(named, str(self._key_env_given_for))
        return EndpointSettings(base_url, model, key_env, PRESETS[self.preset.value].smoke_test)
