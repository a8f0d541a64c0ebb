"""The facts of ../shared/reference/model_recipes.md, parsed for the tests (never from the package)."""

from __future__ import annotations

import json
import re
from pathlib import Path

RECIPES_MD = Path(__file__).resolve().parents[2] / "shared" / "reference" / "model_recipes.md"


def reference_table() -> dict[str, dict]:
    """The per-model table of model_recipes.md: name -> model, route, temperature, max_tokens, extra body."""
    rows = {}
    for line in RECIPES_MD.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[1].startswith("`"):
            continue
        model, route = re.match(r"`([^`]+)` \(([^)]+)\)", cells[1]).groups()
        temperature, max_tokens = (float(x) for x in cells[2].split(" / "))
        body = re.match(r"`(\{.*\})`", cells[3])
        rows[cells[0]] = {"model": model, "route": route, "temperature": temperature, "max_tokens": int(max_tokens),
                          "extra_body": json.loads(body.group(1)) if body else None}
    return rows


def expected_request(name: str) -> dict:
    table = reference_table()
    if name in table:
        return table[name]
    budget = int(re.search(r"\((?:thinking budget )?(\d+)k\)", name).group(1)) * 1000
    # "Claude Opus 4.6 with {"thinking": {"type": "enabled", "budget_tokens": N}}, temperature 1.0, max_tokens N + 2048".
    return {"model": "anthropic/claude-opus-4.6", "route": "OpenRouter", "temperature": 1.0, "max_tokens": budget + 2048,
            "extra_body": {"thinking": {"type": "enabled", "budget_tokens": budget}}}
