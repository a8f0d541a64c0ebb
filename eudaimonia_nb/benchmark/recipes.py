"""The authors' per-model recipes: how each leaderboard row was called, as published facts.

``recipes.toml`` (package data) holds one entry per leaderboard row and per thinking-budget
variant of Claude Opus 4.6: the model id, the route (OpenRouter, DeepSeek's API or a local
OpenAI-compatible server) with its default base URL and key variable, temperature, max_tokens,
the provider fields the authors merged into every request body (verbatim JSON), the model-call
timeout, whether it is one of their thinking models, the published rate, and the source of each
fact; and the judge's settings. Judging builds a reproduction's configuration from a recipe
(``judging.reproduce``); the analysis compares any run whose model matches a recipe with it,
field by field (``analysis.comparability``).
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

RECIPES_FILE = "recipes.toml"


class RecipeError(ValueError):
    """A recipe file that cannot be read (names the file, the entry and the field)."""


class UnknownRecipeError(KeyError):
    """No recipe of that name; the message lists the names there are."""


@dataclass(frozen=True)
class Route:
    """Where a model was called."""

    key: str
    """``openrouter``, ``deepseek`` or ``local``."""
    name: str
    """Its name in sentences ("OpenRouter")."""
    base_url: str
    """The OpenAI-compatible endpoint the authors used (for ``local``, their script's default)."""
    api_key_env: str | None
    """The environment variable a reproduction reads the key from; None for a keyless local server."""

    @property
    def host(self) -> str:
        """The host of ``base_url`` (what comparability compares)."""
        return urlsplit(self.base_url).hostname or ""


@dataclass(frozen=True)
class Recipe:
    """One leaderboard row (or thinking variant), as the authors called it."""

    name: str
    """The leaderboard name ("GPT-5.5") or the variant's name ("Claude Opus 4.6 (thinking budget 2k)")."""
    model: str
    """The model id the authors sent."""
    route: Route
    """Where they sent it."""
    temperature: float
    """Sampling temperature."""
    max_tokens: int
    """Output token limit."""
    extra_body: dict | None
    """Provider fields merged into every request body; None when they sent none."""
    extra_body_json: str
    """``extra_body`` as written in the file, verbatim ("" for none)."""
    timeout_s: float
    """Seconds they allowed a model call."""
    thinking: bool
    """One of the authors' thinking models."""
    published_rate: float | None
    """The published overall violation rate as a fraction (None for the thinking variants)."""
    aliases: tuple[str, ...]
    """Other names it is found by (``T2k``, the authors' column key)."""
    sources: dict[str, str]
    """Fact group (``request``, ``thinking``, ``published_rate``) -> where it comes from."""

    @property
    def on_leaderboard(self) -> bool:
        """A leaderboard row (the thinking variants are not)."""
        return self.published_rate is not None

    def as_json(self) -> dict:
        """The row of ``eudaimonia-nb recipes --json``."""
        return {"name": self.name, "model": self.model, "route": self.route.key, "base_url": self.route.base_url,
                "temperature": self.temperature, "max_tokens": self.max_tokens, "extra_body": self.extra_body,
                "timeout_s": self.timeout_s, "thinking": self.thinking, "published_rate": self.published_rate,
                "sources": dict(self.sources)}


@dataclass(frozen=True)
class JudgeRecipe:
    """The authors' judge."""

    model: str
    """``anthropic/claude-opus-4.6``."""
    route: Route
    """OpenRouter."""
    temperature: float
    """0."""
    max_tokens: int
    """1,024."""
    extra_body: dict | None
    """None: no thinking, no provider fields."""
    timeout_s: float
    """Seconds per judge call."""
    thinking: bool
    """False."""
    source: str
    """Where these facts come from."""


@dataclass(frozen=True)
class RecipeBook:
    """Every recipe, the judge and the routes, as read from the file."""

    recipes: tuple[Recipe, ...]
    """In leaderboard order, then the thinking variants."""
    judge: JudgeRecipe
    """The judge the authors used for every row."""
    routes: dict[str, Route]
    """Route key -> route."""

    def names(self) -> list[str]:
        return [r.name for r in self.recipes]

    def find(self, name: str) -> Recipe:
        """The recipe called ``name``: its leaderboard name, an alias or its model id, any case,
        with or without a vendor prefix ("gpt-5.5", "GPT-5.5", "openai/gpt-5.5"). A model id
        shared by several recipes (Claude Opus 4.6 and its thinking variants) finds the
        leaderboard row. Raises ``UnknownRecipeError`` listing the names."""
        wanted = _key(name)
        for match in (lambda r: _key(r.name) == wanted, lambda r: wanted in {_key(a) for a in r.aliases},
                      lambda r: _key(r.model) == wanted, lambda r: _key(_bare(r.model)) == _key(_bare(name))):
            hits = [r for r in self.recipes if match(r)]
            if hits:
                return next((r for r in hits if r.on_leaderboard), hits[0])
        raise UnknownRecipeError(f"no recipe {name!r}; the recipes are: {', '.join(self.names())} "
                                 f"(see `eudaimonia-nb recipes`)")

    def for_run(self, model: str, extra_body: dict | None = None, recipe: str | None = None) -> Recipe | None:
        """The recipe a run is compared with: the one it recorded (``RunConfig.recipe``), else the
        one whose model id matches (vendor prefix and case ignored); among several with that id,
        the one whose extra body the run sent (a thinking variant), else the leaderboard row.
        None for a model no recipe names."""
        if recipe:
            try:
                return self.find(recipe)
            except UnknownRecipeError:
                pass
        hits = [r for r in self.recipes if _key(_bare(r.model)) == _key(_bare(model))]
        if not hits:
            return None
        same_body = [r for r in hits if (r.extra_body or None) == (extra_body or None)]
        pool = same_body or hits
        return next((r for r in pool if r.on_leaderboard), pool[0])


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def _bare(model: str) -> str:
    return model.strip().rsplit("/", 1)[-1]


def _read(path: Path | None) -> tuple[dict, str]:
    if path is None:
        text = resources.files(__package__).joinpath(RECIPES_FILE).read_text(encoding="utf-8")
        return tomllib.loads(text), RECIPES_FILE
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8")), str(path)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RecipeError(f"{path}: cannot be read as a recipe file ({exc})") from None


def _extra_body(text: str, where: str) -> dict | None:
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise RecipeError(f"{where}: field 'extra_body': not a JSON object ({exc})") from None
    if not isinstance(value, dict):
        raise RecipeError(f"{where}: field 'extra_body': expected a JSON object, got {type(value).__name__}")
    return value


def _field(entry: dict, name: str, kind: type | tuple[type, ...], where: str) -> object:
    if name not in entry:
        raise RecipeError(f"{where}: missing field {name!r}")
    value = entry[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind in (int, float, (int, float)):
        raise RecipeError(f"{where}: field {name!r}: expected {getattr(kind, '__name__', 'a number')}, got {value!r}")
    return value


def _source(sources: dict, key: str, where: str) -> str:
    if key not in sources:
        raise RecipeError(f"{where}: source {key!r} is not in [sources] ({', '.join(sources)})")
    return sources[key]


def load_recipe_book(path: str | Path | None = None) -> RecipeBook:
    """The recipe file (default: the packaged ``recipes.toml``), validated: every fact has a source."""
    data, name = _read(Path(path) if path is not None else None)
    sources = data.get("sources") or {}
    routes = {}
    for key, entry in (data.get("routes") or {}).items():
        where = f"{name}: [routes.{key}]"
        routes[key] = Route(key=key, name=str(_field(entry, "name", str, where)),
                            base_url=str(_field(entry, "base_url", str, where)),
                            api_key_env=str(_field(entry, "api_key_env", str, where)) or None)
        _source(sources, str(_field(entry, "source", str, where)), where)

    def route_of(entry: dict, where: str) -> Route:
        key = str(_field(entry, "route", str, where))
        if key not in routes:
            raise RecipeError(f"{where}: field 'route': {key!r} is not a route ({', '.join(routes)})")
        return routes[key]

    recipes = []
    for index, entry in enumerate(data.get("recipe") or [], start=1):
        where = f"{name}: recipe {index} ({entry.get('name', '?')})"
        rate = entry.get("published_rate")
        if rate is not None and (not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 100):
            raise RecipeError(f"{where}: field 'published_rate': expected a percentage, got {rate!r}")
        groups = {"request": "request_source", "thinking": "thinking_source"}
        if rate is not None:
            groups["published_rate"] = "published_rate_source"
        recipe_sources = {group: _source(sources, str(_field(entry, column, str, where)), where)
                          for group, column in groups.items()}
        body_text = str(_field(entry, "extra_body", str, where))
        recipes.append(Recipe(
            name=str(_field(entry, "name", str, where)), model=str(_field(entry, "model", str, where)),
            route=route_of(entry, where), temperature=float(_field(entry, "temperature", (int, float), where)),
            max_tokens=int(_field(entry, "max_tokens", int, where)), extra_body=_extra_body(body_text, where),
            extra_body_json=body_text, timeout_s=float(_field(entry, "timeout_s", (int, float), where)),
            thinking=bool(_field(entry, "thinking", bool, where)),
            published_rate=None if rate is None else round(float(rate) / 100.0, 6),
            aliases=tuple(entry.get("aliases") or ()), sources=recipe_sources,
        ))
    names = [r.name.lower() for r in recipes]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise RecipeError(f"{name}: two recipes are called {duplicate!r}")
    where = f"{name}: [judge]"
    entry = data.get("judge") or {}
    judge = JudgeRecipe(
        model=str(_field(entry, "model", str, where)), route=route_of(entry, where),
        temperature=float(_field(entry, "temperature", (int, float), where)),
        max_tokens=int(_field(entry, "max_tokens", int, where)),
        extra_body=_extra_body(str(_field(entry, "extra_body", str, where)), where),
        timeout_s=float(_field(entry, "timeout_s", (int, float), where)),
        thinking=bool(_field(entry, "thinking", bool, where)),
        source=_source(sources, str(_field(entry, "source", str, where)), where),
    )
    return RecipeBook(recipes=tuple(recipes), judge=judge, routes=routes)


@cache
def recipe_book() -> RecipeBook:
    """The packaged recipe book (read once)."""
    return load_recipe_book()


def find_recipe(name: str) -> Recipe:
    """``recipe_book().find(name)``."""
    return recipe_book().find(name)


def flatten_body(body: dict | None) -> str:
    """An extra body in words: ``reasoning.effort=medium``, ``enable_thinking=false``; "none"."""
    if not body:
        return "none"
    parts: list[str] = []

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict) and value:
            for key in sorted(value):
                walk(f"{prefix}.{key}" if prefix else str(key), value[key])
        else:
            parts.append(f"{prefix}={json.dumps(value) if not isinstance(value, str) else value}")

    walk("", body)
    return ", ".join(parts)
