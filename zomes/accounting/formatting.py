"""How accounting reports write numbers, times and JSON: exact decimals (rounded only
where a ratio never terminates), ISO 8601 times and exact JSON numbers.

Not hashed into the DNA: editing a formatter keeps the network id.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any, Final

from zomes.accounting.common import AccountingError
from zomes.valueflows.units import decimal_string, exact_decimal

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
SHOWN_PLACES: Final = 6  # decimal places a non-terminating ratio is shown with


def shown(value: Fraction, places: int = SHOWN_PLACES) -> Decimal:
    """The Fraction for presentation: exact when it terminates, else rounded half-up."""
    exact = exact_decimal(value)
    if exact is not None:
        return exact
    return round_half_up(value, Decimal(1).scaleb(-places))


def round_half_up(value: Fraction, step: Decimal) -> Decimal:
    """`value` rounded half away from zero to a multiple of `step` (e.g. Decimal("0.01"))."""
    steps = value / Fraction(step)
    sign = -1 if steps < 0 else 1
    whole = math.floor(abs(steps) + Fraction(1, 2))
    return (Decimal(sign * whole) * step).quantize(step, rounding=ROUND_HALF_UP)


def text(value: Fraction | Decimal) -> str:
    """The canonical decimal text of an exact value (non-terminating values rounded)."""
    return decimal_string(shown(value) if isinstance(value, Fraction) else value)


def measure_json(value: Fraction | Decimal, unit: str) -> dict[str, str]:
    """{hasNumericalValue, hasUnit}, as VF and OM2 name them."""
    return {"hasNumericalValue": text(value), "hasUnit": unit}


def iso_time(microseconds: int) -> str:
    """An instant in µs since the epoch as ISO 8601 UTC (`Z`), microseconds when not 0."""
    moment = EPOCH + timedelta(microseconds=microseconds)
    spec = "microseconds" if moment.microsecond else "seconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def parse_iso_time(value: str) -> int:
    """ISO 8601 with an offset (or `Z`) to µs since the epoch; raises AccountingError."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise AccountingError(f"not an ISO 8601 date-time: {value!r}") from None
    if moment.tzinfo is None:
        raise AccountingError(f"date-time {value!r} has no time zone offset")
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def dumps_json(document: Any, indent: int | None = 2) -> str:
    """JSON text of a document that may hold Decimals, written as exact JSON numbers
    (json.dumps would refuse them, and floats would round them)."""
    return _encode(document, indent, 0)


def _encode(value: Any, indent: int | None, level: int) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise AccountingError(f"cannot write {value} as a JSON number")
        return decimal_string(value)
    if isinstance(value, dict):
        items = [
            f"{json.dumps(str(key))}: {_encode(item, indent, level + 1)}"
            for key, item in value.items()
        ]
        return _join("{", items, "}", indent, level)
    if isinstance(value, list | tuple):
        return _join("[", [_encode(item, indent, level + 1) for item in value], "]", indent, level)
    if isinstance(value, float):
        raise AccountingError("floats are not written: use Decimal for numbers")
    return json.dumps(value, ensure_ascii=False)


def _join(open_: str, items: list[str], close: str, indent: int | None, level: int) -> str:
    if not items:
        return open_ + close
    if indent is None:
        return open_ + ", ".join(items) + close
    inner = "\n" + " " * (indent * (level + 1))
    return open_ + inner + ("," + inner).join(items) + "\n" + " " * (indent * level) + close
