"""ValueFlows' side of countersigning (the `CountersignHook` of zomes/api.py): a transfer
from its provider (the initiator) to its receiver (the counterparty), written on both
chains as one `CountersignedEvent`.

The runtime keeps the session; this module drafts the event, names the records of ours it
needs checked, creates the receiving resource a proposal asks for (`new:NAME`), and asks
the network's rules (`judge_event`) about our side before anything is signed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import replace
from typing import Any, Final

from node.core.cid import Cid
from node.core.errors import CoreError, Field, LocalError
from node.core.identity import AgentId
from node.core.outcome import Invalid, MissingDependency, Unresolved
from node.core.records import Record
from node.core.refusals import MissingField, NewNotAllowed, UnknownUnit
from zomes.api import AppLedger, Draft, OwnRecords
from zomes.valueflows import coordinator
from zomes.valueflows.coordinator import EventRequest, build_event
from zomes.valueflows.entries import EconomicEvent, EconomicResource
from zomes.valueflows.zome import COUNTERSIGNED_TYPE, judge_event, parse

TO_RESOURCE: Final = "toResourceInventoriedAs"
_NAMED: Final = ("resourceInventoriedAs", TO_RESOURCE, "resourceConformsTo", "inputOf", "outputOf",
                  "fulfills", "satisfies", "settles")
MAX_CONTEXT_RECORDS: Final = 16
TO_RESOURCE_FIELD: Final = Field("to_resource", "to_resource")


class TransferHook:
    """Countersigned ValueFlows events of one agent: its ledger and its own records."""

    entry_type: str = COUNTERSIGNED_TYPE
    noun: str = "event"
    initiator_is: str = "provider, to its receiver"
    new_field: str = TO_RESOURCE

    def __init__(self, ledger: AppLedger, own: OwnRecords) -> None:
        self.ledger = ledger
        self.own = own

    def draft(self, request: object, me: AgentId, other: AgentId, now_us: int) -> Draft:
        """The event `request` (an EventRequest) describes, from `me` to `other`; a receiving
        resource to create is left for the counterparty (`to_new`)."""
        if not isinstance(request, EventRequest):
            raise LocalError("a countersigned ValueFlows event is asked for by an EventRequest")
        event_req, view = request, self.ledger.view()
        to_new: list[str] = []
        if event_req.to_resource is None:
            source = view.resources.get(event_req.resource or "")
            if source is None:
                raise MissingField("give ", TO_RESOURCE_FIELD, " RES|new:NAME (or a ",
                                   Field("resource", "resource"), " of yours to name it after)")
            event_req = replace(event_req, to_resource=f"new:{source.name}")

        def new_resource(option: str, name: str, *_: Any) -> str | None:
            if option != "to-resource":
                raise NewNotAllowed("only the receiving resource (", TO_RESOURCE_FIELD,
                                    ") may be new:NAME here")
            to_new.append(name)
            return None  # the counterparty creates it and names it on accepting

        event_req = replace(event_req, provider=str(me), receiver=str(other))
        event = build_event(view, str(me), event_req, now_us, new_resource)
        content = event.to_content()
        return Draft(content, to_new[0] if to_new else None,
                     tuple(self.context_records(content)))

    def parties(self, content: Mapping[str, Any]) -> tuple[str, str] | None:
        """The event's provider and receiver; None if it is no EconomicEvent."""
        try:
            event = EconomicEvent.from_content(content)
        except ValueError:
            return None
        return event.provider, event.receiver

    def complete(self, content: Mapping[str, Any], to_new: str | None,
                 staged: Sequence[Record]) -> dict[str, Any]:
        """The event as the counterparty signs it: the receiving resource `to_new` made."""
        final = dict(content)
        if to_new is not None:
            final[TO_RESOURCE] = str(self._create_receiving_resource(to_new, final, staged))
        return final

    def _create_receiving_resource(
        self, name: str, final: dict[str, Any], staged: Sequence[Record]
    ) -> Cid:
        """`new:NAME`: our resource that receives, like the source (its specification and
        unit), else in the unit of the event's quantity."""
        spec, unit = final.get("resourceConformsTo"), _quantity_unit(final)
        source = final.get("resourceInventoriedAs")
        for record in staged:
            entry_type = getattr(record.action, "entry_type", "")
            if str(record.address) == source and record.entry is not None:
                with suppress(ValueError):
                    resource = parse(entry_type, record.entry.value)
                    if isinstance(resource, EconomicResource):
                        spec, unit = resource.conforms_to, resource.unit_of_resource
        if unit is None:
            raise UnknownUnit("cannot tell the receiving resource's unit: name one with ",
                              TO_RESOURCE_FIELD)
        return self.ledger.commit(
            lambda s, v: coordinator.create_resource(s, v, name, unit, spec)
        )

    def context_records(self, content: Mapping[str, Any]) -> list[Record]:
        """The records of ours the event names (resources and their specifications,
        processes), for the other party to check the event without asking the network."""
        wanted = [content.get(k) for k in _NAMED]
        view = self.ledger.view()
        for text in wanted:
            if (
                isinstance(text, str)
                and text in view.resources
                and view.resources[text].conforms_to
            ):
                wanted.append(view.resources[text].conforms_to)
        return own_records(self.own, wanted)

    def precheck(self, content: Mapping[str, Any], me: AgentId, other: AgentId,
                 staged: Sequence[Record], *, placeholder: bool) -> str | None:
        """Our side of the event under the network's rules (ValueError if it is no event);
        with `placeholder`, records we do not hold (the other party's) are not yet a
        reason to refuse."""
        event = EconomicEvent.from_content(content)
        view = self.ledger.view()
        deps = self.ledger.deps(list(staged))
        cosigners = frozenset({str(me), str(other)})
        try:
            outcome = judge_event(event, str(me), view, deps, cosigners)
        except MissingDependency as e:
            outcome = Unresolved(tuple(e.addresses))
        if isinstance(outcome, Invalid):
            return f"{outcome.rule}: {outcome.reason}"
        if isinstance(outcome, Unresolved) and not placeholder:
            missing = ", ".join(str(m) for m in outcome.missing[:3])
            return "it names records not held here: " + missing
        return None


def own_records(own: OwnRecords, addresses: Iterable[object]) -> list[Record]:
    """The records of ours at `addresses` (text; others skipped), each once, at most
    MAX_CONTEXT_RECORDS: what a proposal sends along for the other party to check it."""
    found: list[Record] = []
    for text in dict.fromkeys(a for a in addresses if isinstance(a, str)):
        try:
            record = own.get_record(Cid.parse(text))
        except CoreError:
            continue
        if record is not None:
            found.append(record)
    return found[:MAX_CONTEXT_RECORDS]


def _quantity_unit(content: Mapping[str, Any]) -> str | None:
    quantity = content.get("resourceQuantity")
    unit = quantity.get("hasUnit") if isinstance(quantity, dict) else None
    return unit if isinstance(unit, str) else None
