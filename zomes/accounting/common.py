"""What the accounting integrity code shares: its error type and exact unit arithmetic.

The DNA hashes this module (see `INTEGRITY.modules` in zome.py), so it holds only what
validation needs: report formatting lives in `formatting.py` and `events.py`, which
coordinators may edit without changing the network id.
"""

from __future__ import annotations

from fractions import Fraction

from zomes.valueflows.units import UNITS, Measure


class AccountingError(ValueError):
    """Input that an accounting function cannot account for; the message says what to fix."""


def dimension(unit: str) -> str:
    """The dimension of a canonical unit id ("mass", "time", ...)."""
    return UNITS[unit].dimension


def to_base(measure: Measure) -> Fraction:
    """The measure exactly, in its dimension's base unit (kilogram, second, joule, ...)."""
    return Fraction(measure.value) * Fraction(UNITS[measure.has_unit].factor)


def from_base(value: Fraction, unit: str) -> Fraction:
    """A base-unit value exactly, in `unit`."""
    return value / Fraction(UNITS[unit].factor)
