"""External agents as people see them: an Agent entry with `sameAs` (no member of the
network: see entries.Agent) is shown as `NAME (external)`, never as a member and never as
having signed, wherever a listing names an event's or a commitment's party."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from node.core.actions import Create
from node.core.records import Record
from zomes.valueflows.entries import Agent, is_member
from zomes.valueflows.parsing import entry_type, thing_address

AGENT_TYPE: Final = entry_type(Agent)
MARK: Final = " (external)"


def external_names(records: Iterable[Record]) -> dict[str, str]:
    """`NAME (external)` of each external agent these records create, by its address."""
    names: dict[str, str] = {}
    for record in records:
        action = record.action
        if (isinstance(action, Create) and action.entry_type == AGENT_TYPE
                and record.entry is not None):
            try:
                agent = Agent.from_content(record.entry.value)
            except ValueError:
                continue
            if agent.same_as is not None:
                names[thing_address(action, record.address)] = agent.name + MARK
    return names


def marked(row: dict[str, Any], names: Mapping[str, str],
           keys: tuple[str, ...] = ("provider", "receiver")) -> dict[str, Any]:
    """`row` with `external: true` and `externalName` when one of its parties (`keys`) is
    an external agent (`names`: external_names'); a party no member names is external."""
    for key in keys:
        party = row.get(key)
        if isinstance(party, str) and not is_member(party):
            row["external"] = True
            row["externalName"] = names.get(party, party[:12] + "…" + MARK)
    return row
