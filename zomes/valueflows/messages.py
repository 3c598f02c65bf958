"""Pydantic's errors about an entry as one line for a person (`field: what is wrong`, in
words, never a pattern or pydantic's own phrasing): the message of a check_entry_shape
verdict, so the DNA hashes this module too."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic.alias_generators import to_camel

from zomes.valueflows.entries import ADDRESS_PATTERN, AGENT_PATTERN, IRI_PATTERN, PARTY_PATTERN
from zomes.valueflows.units import DECIMAL_PATTERN


def describe_error(error: Exception) -> str:
    """One line for a person: pydantic's first error as `field: what is wrong`, in words
    (never a pattern or pydantic's own phrasing)."""
    errors = getattr(error, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(
            to_camel(p) if isinstance(p, str) else str(p) for p in first.get("loc", ()))
        what = _plain(first)
        return f"{where}: {what}" if where else what
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


_PATTERNS: Final = {
    ADDRESS_PATTERN: "is not an address (bafy...)",
    AGENT_PATTERN: "is not an agent id (12D3KooW...)",
    PARTY_PATTERN: "is not an agent id (12D3KooW...) nor an external agent's address (bafy...)",
    IRI_PATTERN: "is not an absolute IRI (https://..., urn:...)",
    DECIMAL_PATTERN: "is not a decimal number written canonically (e.g. 40 or 2.5)",
}
_TYPES: Final = {
    "string_type": "text", "int_type": "a whole number", "int_parsing": "a whole number",
    "bool_type": "true or false", "bool_parsing": "true or false", "list_type": "a list",
    "dict_type": "a map of names to values", "model_type": "a map of names to values",
    "tuple_type": "a list", "decimal_type": "a decimal number", "float_type": "a number",
    "bytes_type": "bytes", "int_from_float": "a whole number",
}


def _plain(error: Mapping[str, Any]) -> str:
    """What a pydantic error dict says, as a plain sentence."""
    kind, ctx = str(error.get("type", "")), error.get("ctx") or {}
    if kind == "string_too_long":
        return f"is too long (at most {ctx.get('max_length')} characters)"
    if kind in ("string_too_short", "too_short"):
        least = ctx.get("min_length")
        return "cannot be empty" if least in (1, None) else f"is too short (at least {least})"
    if kind == "too_long":
        return f"has too many items (at most {ctx.get('max_length')})"
    if kind == "string_pattern_mismatch":
        return _PATTERNS.get(str(ctx.get("pattern")), "is not written in the expected form")
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        words = {"greater_than_equal": "at least", "greater_than": "more than",
                 "less_than_equal": "at most", "less_than": "less than"}[kind]
        bound = next(iter(ctx.values()), "")
        return f"must be {words} {bound}"
    if kind == "missing":
        return "is missing"
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind in ("literal_error", "enum"):
        return f"must be {ctx.get('expected')}"
    if kind in _TYPES:
        return f"must be {_TYPES[kind]}"
    message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    return message.splitlines()[0][:300] if message else "is not valid"
