"""Whether a rate's judge belongs to the family of the model it judged.

A judge may favour responses of its own family (the paper's judge, Claude Opus 4.6, judged
itself and the other Anthropic models). The family of a model comes from
``data/published/model_attributes.csv`` (its ``family`` column, sourced from the leaderboard),
found through the authors' recipes (``benchmark.recipes``: a model id or leaderboard name), and
for a model no recipe names, from the vendor prefix of its id when every recipe with that
prefix has the same family (``anthropic/claude-3-haiku`` is Anthropic). A model whose family
cannot be found this way gets no note: the note is never guessed.
"""

from __future__ import annotations

from functools import cache

import pandas as pd

from ..benchmark.recipes import UnknownRecipeError, recipe_book


@cache
def _families() -> tuple[dict[str, str], dict[str, str]]:
    """(lower-case leaderboard name -> family, vendor prefix -> family where unambiguous)."""
    from .attributes import load_attributes

    table = load_attributes()
    by_name = {str(m).lower(): str(f) for m, f in zip(table["model"], table["family"]) if isinstance(f, str) and f}
    prefixes: dict[str, set[str]] = {}
    for recipe in recipe_book().recipes:
        family = by_name.get(recipe.name.lower())
        if family and "/" in recipe.model:
            prefixes.setdefault(recipe.model.split("/", 1)[0].lower(), set()).add(family)
    return by_name, {prefix: next(iter(f)) for prefix, f in prefixes.items() if len(f) == 1}


def family_of(model: object) -> str | None:
    """The family of a model id or leaderboard name, or None when the data does not say."""
    if not isinstance(model, str) or not model.strip():
        return None
    by_name, by_prefix = _families()
    name = model.strip()
    if name.lower() in by_name:
        return by_name[name.lower()]
    try:
        recipe = recipe_book().find(name)
    except UnknownRecipeError:
        recipe = None
    if recipe is not None and recipe.name.lower() in by_name:
        return by_name[recipe.name.lower()]
    if "/" in name:
        return by_prefix.get(name.split("/", 1)[0].lower())
    return None


def same_family_note(model: object, judge_model: object) -> str | None:
    """The note beside a rate whose judge shares the model's family (None otherwise)."""
    family = family_of(model)
    if family is None or family != family_of(judge_model):
        return None
    return (f"same family: the judge {judge_model} and {model} are both {family} models; a judge may favour "
            f"its own family's responses")


def same_family_notes(frame: pd.DataFrame) -> pd.Series:
    """Per ``model`` label of a judgments frame, its same-family note ("" when none): the
    model name (``model_name`` when the frame has it) against the frame's ``judge_model``."""
    if "judge_model" not in frame.columns or frame.empty:
        return pd.Series(dtype=object)
    name = frame["model_name"] if "model_name" in frame.columns else frame["model"]
    pairs = pd.DataFrame({"model": frame["model"], "name": name, "judge": frame["judge_model"]}).drop_duplicates("model")
    return pd.Series([same_family_note(n, j) or "" for n, j in zip(pairs["name"], pairs["judge"])],
                     index=pairs["model"].to_numpy())
