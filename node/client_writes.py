"""SocketClient's writes (node/client.py): every write of the Client protocol sent to the
home's running node, which signs it with the key it unlocked when it started and commits
it on its own ledger (node/in_node_writes.py): no passphrase is asked of the caller, and
the node publishes what it wrote at once. The checks and their one-line errors are
LocalClient's own, run in the node (its error comes back of its type: socket_client).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from node.core.records import Record
    from zomes.valueflows.coordinator import EventRequest
    from zomes.valueflows.obligations import ClaimRequest
    from zomes.valueflows.offers import ProposalRequest

WRITE_TIMEOUT = 130.0
"""Seconds a write may take in the node (its socket gives a request 120)."""


class NodeWrites:
    """The writes of the Client protocol, done by the running node."""

    if TYPE_CHECKING:  # (SocketClient's own)
        def _call(self, method: str, timeout: float = 60.0, **params: Any) -> Any: ...

    def _write(self, method: str, **params: Any) -> Any:
        """The node's answer to the write `method` (a JSON-able value)."""
        return self._call(method, WRITE_TIMEOUT, **params)

    def record(self, event: EventRequest, *, detail: bool = False) -> dict[str, Any]:
        done: dict[str, Any] = self._write("record", event=asdict(event), detail=detail)
        return done

    def create_spec(self, name: str, unit: str, allow_negative: bool, note: str | None,
                    classified_as: Sequence[str] = (), mass: str | None = None) -> str:
        return str(self._write("create_spec", name=name, unit=unit,
                               allow_negative=allow_negative, note=note,
                               classified_as=list(classified_as), mass=mass))

    def create_process_spec(self, name: str, note: str | None) -> str:
        return str(self._write("create_process_spec", name=name, note=note))

    def create_process(self, name: str, based_on: str | None, note: str | None) -> str:
        return str(self._write("create_process", name=name, based_on=based_on, note=note))

    def create_place(self, place: dict[str, Any]) -> str:
        return str(self._write("create_place", place=place))

    def finish_process(self, process: str) -> str:
        return str(self._write("finish_process", process=process))

    def create_equation(self, document: Any) -> dict[str, Any]:
        made: dict[str, Any] = self._write("create_equation", document=document)
        return made

    def declare_footprint(self, spec: str, per: str, factors: list[str],
                          note: str | None) -> str:
        return str(self._write("declare_footprint", spec=spec, per=per, factors=factors,
                               note=note))

    def allocate_footprint(self, process: str, shares: list[str], note: str | None) -> str:
        return str(self._write("allocate_footprint", process=process, shares=shares,
                               note=note))

    def set_budget(self, *, kind: str, allocated: str, start_us: int, end_us: int,
                   material: str | None, holder: str, name: str | None) -> dict[str, Any]:
        made: dict[str, Any] = self._write(
            "set_budget", kind=kind, allocated=allocated, start_us=start_us, end_us=end_us,
            material=material, holder=holder, name=name)
        return made

    def import_vf_jsonld(self, document: Any, agents: Mapping[str, str],
                         as_iri: str | None = None) -> dict[str, Any]:
        done: dict[str, Any] = self._write("import_vf_jsonld", document=document,
                                           agents=dict(agents), as_iri=as_iri)
        return done

    def create_recipe(self, document: Any) -> dict[str, Any]:
        made: dict[str, Any] = self._write("create_recipe", document=document)
        return made

    def _plan(self, recipe: str, quantity: str, due_us: int, name: str | None,
              buy: Sequence[str], fetched: Sequence[Record],
              held: list[Record] | None = None) -> dict[str, Any]:
        """The plan written by the node, from what it holds and the chains this client
        fetched from the network (`held` is the node's own to read)."""
        from node.runtime.reports import pack

        made: dict[str, Any] = self._write(
            "plan_from_recipe", recipe=recipe, quantity=quantity, due_us=due_us, name=name,
            buy=list(buy), fetched=[pack(r) for r in fetched])
        return made

    def propose(self, request: ProposalRequest, replaces: str | None = None) -> dict[str, Any]:
        done: dict[str, Any] = self._write("propose", request=asdict(request),
                                           replaces=replaces)
        return done

    def withdraw_proposal(self, proposal: str) -> dict[str, Any]:
        done: dict[str, Any] = self._write("withdraw_proposal", proposal=proposal)
        return done

    def claim(self, request: ClaimRequest) -> dict[str, Any]:
        done: dict[str, Any] = self._write("claim", request=asdict(request))
        return done
