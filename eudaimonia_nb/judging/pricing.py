"""A user-editable price table (USD per million input/output tokens) that turns token usage into cost.

The table is ``data/prices.csv`` of the source checkout unless another file is given. A model
missing from the table has an unknown cost (``None``), never a cost of zero, so a total is
never silently understated.

Batch prices: the optional columns ``batch_input_usd_per_million`` and
``batch_output_usd_per_million`` give a model's batch price where its provider lists one; left
empty, a batch costs the live price times the provider's discount in ``BATCH_DISCOUNTS`` (half,
for the three dialects, each named with its source).
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

from ..paths import project_root

PRICES_FILENAME = "prices.csv"
_COLUMNS = ("model", "input_usd_per_million", "output_usd_per_million")
_BATCH_COLUMNS = ("batch_input_usd_per_million", "batch_output_usd_per_million")
"""Optional columns: the model's own batch price (empty: the provider's discount applies)."""


@dataclass(frozen=True)
class BatchDiscount:
    """What a provider's batch API charges, as a share of its live price."""

    share: float
    """Batch price / live price, for input and output tokens alike."""
    source: str
    """Where the provider says so."""


BATCH_DISCOUNTS: dict[str, BatchDiscount] = {
    "openai": BatchDiscount(0.5, "OpenAI Batch API: 50% discount on input and output tokens against the synchronous API"),
    "anthropic": BatchDiscount(0.5, "Anthropic Message Batches API: 50% of the standard API prices"),
    "openrouter": BatchDiscount(0.5, "OpenRouter Batch API: typically 50% of the model's sync per-token price "
                                     "(each model page shows its batch price; put it in the batch_* columns)"),
}
"""Batch discount per dialect, named with its source."""


class PriceTableError(ValueError):
    """A price table that cannot be read, naming the file, the line and the column."""


@dataclass(frozen=True)
class Price:
    """What one model costs."""

    input_usd_per_million: float
    """USD per million prompt (input) tokens."""
    output_usd_per_million: float
    """USD per million completion (output) tokens."""
    batch_input_usd_per_million: float | None = None
    """The model's own batch input price, when the table gives one."""
    batch_output_usd_per_million: float | None = None
    """The model's own batch output price, when the table gives one."""

    def batch(self, provider: str) -> Price:
        """The price of the same tokens through ``provider``'s batch API."""
        share = BATCH_DISCOUNTS[provider].share
        return Price(self.input_usd_per_million * share if self.batch_input_usd_per_million is None else self.batch_input_usd_per_million,
                     self.output_usd_per_million * share if self.batch_output_usd_per_million is None else self.batch_output_usd_per_million)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_usd_per_million + completion_tokens * self.output_usd_per_million) / 1e6


def default_prices_path() -> Path | None:
    root = project_root()
    return root / "data" / PRICES_FILENAME if root is not None else None


def load_prices(path: str | os.PathLike[str] | None = None) -> dict[str, Price]:
    """Model name (lower-case) -> price; an empty table when no file exists and none was asked for."""
    file = Path(path) if path is not None else default_prices_path()
    if file is None or (path is None and not file.is_file()):
        return {}
    # Comment and blank lines are skipped, but errors name the line of the file itself.
    numbered = [(n, line) for n, line in enumerate(_read_text(file).split("\n"), start=1)
                if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        raise PriceTableError(f"{file}: the file is empty; expected a header line {','.join(_COLUMNS)}")
    reader = csv.DictReader(line.rstrip("\r") for _, line in numbered)
    missing = [c for c in _COLUMNS if c not in [(f or "").strip() for f in (reader.fieldnames or [])]]
    if missing:
        raise PriceTableError(f"{file}: missing column(s) {', '.join(missing)}; expected {', '.join(_COLUMNS)}")
    table: dict[str, Price] = {}
    seen: dict[str, int] = {}
    for (number, _), row in zip(numbered[1:], reader):
        where = f"{file}, line {number}"
        name = (row["model"] or "").strip().lower()
        if not name:
            raise PriceTableError(f"{where}: column 'model': expected a model name")
        if name in seen:
            raise PriceTableError(f"{where}: column 'model': {name!r} is already priced on line {seen[name]}")
        seen[name] = number
        values: list[float | None] = []
        for column in _COLUMNS[1:] + _BATCH_COLUMNS:
            raw = row.get(column)
            if column in _BATCH_COLUMNS and (raw is None or not raw.strip()):
                values.append(None)  # no batch price of its own: the provider's discount applies
                continue
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise PriceTableError(f"{where}: column {column!r}: expected a number, got {raw!r}") from None
            if not 0 <= value < math.inf:  # also rejects nan
                raise PriceTableError(f"{where}: column {column!r}: expected a finite number >= 0, got {raw!r}")
            values.append(value)
        table[name] = Price(*values)
    return table


def _read_text(file: Path) -> str:
    """The file's text; a UTF-8 byte-order mark (Excel's "CSV UTF-8") is accepted."""
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise PriceTableError(f"{file}: cannot be read ({exc.strerror or exc})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PriceTableError(f"{file}, line {line}: not UTF-8 text (byte {raw[exc.start]:#04x}); save it as CSV UTF-8") from None


def price_for(model: str, prices: dict[str, Price]) -> Price | None:
    """Exact name first, then the name after a provider prefix (``openai/gpt-4o`` -> ``gpt-4o``)."""
    name = model.strip().lower()
    return prices.get(name) or prices.get(name.rsplit("/", 1)[-1])


def mode_price(model: str, mode: str, prices: dict[str, Price]) -> Price | None:
    """The model's price in ``mode``: ``live`` or a batch dialect."""
    price = price_for(model.removesuffix(":batch"), prices)
    if price is None:
        return None
    return price if mode == "live" else price.batch(mode)


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int, prices: dict[str, Price], mode: str = "live") -> float | None:
    price = mode_price(model, mode, prices)
    return None if price is None else price.cost(prompt_tokens, completion_tokens)
