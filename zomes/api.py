"""What a zome is: an integrity part (entry types + deterministic validate) that the
DNA pins, and a coordinator part (functions the CLI and API call) that it does not.

A test can define a throwaway zome inline:

    ZOME = Zome(IntegrityZome("notes", "1", {"Note": parse_note}, validate_notes, (__name__,)))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from node.core.cid import Cid
from node.core.identity import AgentId
from node.core.ops import Op
from node.core.outcome import Outcome
from node.core.records import Entry, Record


class Deps(Protocol):
    """Must-get style reads available to validation; each raises MissingDependency."""

    def must_get_record(self, address: Cid) -> Record: ...

    def must_get_entry(self, address: Cid) -> Entry: ...

    def must_get_agent_activity(self, author: AgentId, chain_top: Cid) -> Sequence[Record]:
        """The author's chain from seq 0 up to and including `chain_top`, verified."""
        ...


EntryParser = Callable[[Any], Any]
Validate = Callable[[Op, Deps], Outcome]


@dataclass(frozen=True)
class IntegrityZome:
    """Entry types and the validation rule; `modules` hold the code the DNA hashes."""

    name: str
    version: str
    entry_types: Mapping[str, EntryParser]
    validate: Validate
    modules: tuple[str, ...]

    def entry_type_name(self, local: str) -> str:
        """The qualified name stored in actions: `zome.Type`."""
        return f"{self.name}.{local}"


@dataclass(frozen=True)
class Zome:
    integrity: IntegrityZome
    coordinator: Mapping[str, Callable[..., Any]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.integrity.name


def split_entry_type(qualified: str) -> tuple[str, str]:
    """`zome.Type` -> (zome, Type); ValueError on anything else."""
    zome, sep, local = qualified.partition(".")
    if not sep or not zome or not local:
        raise ValueError(f"entry type {qualified!r} is not of the form zome.Type")
    return zome, local
