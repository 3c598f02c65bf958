"""The three outcomes of validation (Holochain's): Valid, Invalid(reason), Unresolved(missing).

A missing dependency is never proof of invalidity: the op waits and is retried.
"""

from __future__ import annotations

from dataclasses import dataclass

from node.core.cid import Cid


@dataclass(frozen=True, slots=True)
class Valid:
    pass


@dataclass(frozen=True, slots=True)
class Invalid:
    rule: str
    reason: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Unresolved:
    missing: tuple[Cid | bytes, ...]


Outcome = Valid | Invalid | Unresolved
VALID = Valid()


class MissingDependency(Exception):
    """Raised by a `must_get_*` call inside validation; becomes Unresolved."""

    def __init__(self, *addresses: Cid | bytes) -> None:
        super().__init__(f"missing {len(addresses)} dependencies")
        self.addresses = addresses
