"""The writes of the front door inside a running node: what node/client_writes.py sends
over the socket, done by LocalClient's own code on the node's ledger and agent, whose key
the node unlocked when it started. So a write through the node is checked by the same
rules and fails with the same one-line error as on the home; the node publishes it at once.

These methods write without a passphrase: the socket is the home user's alone (mode 0600
in a 0700 home, node/runtime/rpc.py checks it).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cache
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from pydantic import BaseModel, create_model

from node.client import LocalClient
from node.core.errors import CoreError, LocalError, Phrased
from node.runtime.node import Node
from node.runtime.reports import unpack
from node.runtime.rpc import STRICT, Relayed, validated
from node.store.home import Agent
from node.vf_ledger import Ledger
from zomes.valueflows.coordinator import EventRequest
from zomes.valueflows.obligations import ClaimRequest
from zomes.valueflows.offers import ProposalRequest

R = TypeVar("R")


def _unlocked() -> str:
    """The node's passphrase source for its writes: never asked (the key is unlocked)."""
    raise LocalError("the running node's key is locked: restart it with its passphrase")


class NodeWriter(LocalClient):
    """LocalClient's writes on the running node's own agent and ledger."""

    def __init__(self, node: Node) -> None:
        runtime = node.ledger
        super().__init__(runtime.agent.paths.root, _unlocked, [])
        self.ledger = Ledger(runtime.agent, runtime.dna, runtime.validator, runtime.dht,
                             runtime.app)

    def _agent(self) -> AbstractContextManager[Agent]:
        return _given(self.ledger.agent)

    def _ledger(self) -> AbstractContextManager[Ledger]:
        return _given(self.ledger)


@contextmanager
def _given(value: R) -> Iterator[R]:
    """`value` as a context manager (the node's own, which it closes when it stops)."""
    yield value


class InNodeWrites:
    """The socket's write methods: each the Client's write of the same name."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.writer = NodeWriter(node)

    def _published(self, write: Callable[[], R]) -> R:
        """What `write` returns, once what it added is queued for publishing; its error
        relayed of its type (a rule's RuleBroken stays one for the caller)."""
        try:
            result = write()
        except Phrased:
            raise  # (the socket relays it by type and parts)
        except CoreError as e:
            raise Relayed(e) from None
        self.node.enqueue_new_records()
        return result

    async def record(self, event: dict[str, Any], detail: bool) -> dict[str, Any]:
        return self._published(
            lambda: self.writer.record(request_of(EventRequest, event), detail=detail))

    async def create_spec(self, name: str, unit: str, allow_negative: bool, note: str | None,
                          classified_as: list[str], mass: str | None) -> str:
        return self._published(lambda: self.writer.create_spec(
            name, unit, allow_negative, note, classified_as, mass))

    async def create_process_spec(self, name: str, note: str | None) -> str:
        return self._published(lambda: self.writer.create_process_spec(name, note))

    async def create_process(self, name: str, based_on: str | None, note: str | None) -> str:
        return self._published(lambda: self.writer.create_process(name, based_on, note))

    async def create_place(self, place: dict[str, Any]) -> str:
        return self._published(lambda: self.writer.create_place(place))

    async def finish_process(self, process: str) -> str:
        return self._published(lambda: self.writer.finish_process(process))

    async def create_equation(self, document: Any) -> dict[str, Any]:
        return self._published(lambda: self.writer.create_equation(document))

    async def declare_footprint(self, spec: str, per: str, factors: list[str],
                                note: str | None) -> str:
        return self._published(lambda: self.writer.declare_footprint(spec, per, factors, note))

    async def allocate_footprint(self, process: str, shares: list[str],
                                 note: str | None) -> str:
        return self._published(lambda: self.writer.allocate_footprint(process, shares, note))

    async def set_budget(self, kind: str, allocated: str, start_us: int, end_us: int,
                         material: str | None, holder: str, name: str | None) -> dict[str, Any]:
        return self._published(lambda: self.writer.set_budget(
            kind=kind, allocated=allocated, start_us=start_us, end_us=end_us,
            material=material, holder=holder, name=name))

    async def import_vf_jsonld(self, document: Any, agents: dict[str, str],
                               as_iri: str | None) -> dict[str, Any]:
        return self._published(lambda: self.writer.import_vf_jsonld(document, agents, as_iri))

    async def create_recipe(self, document: Any) -> dict[str, Any]:
        return self._published(lambda: self.writer.create_recipe(document))

    async def plan_from_recipe(self, recipe: str, quantity: str, due_us: int, name: str | None,
                               buy: list[str], fetched: list[list[str | None]]) -> dict[str, Any]:
        """The plan from the records this node holds and those its client `fetched` (in
        reports.pack's form: each decoded and its signature checked)."""
        try:
            records = [unpack(packed) for packed in fetched]
        except (ValueError, TypeError):
            raise LocalError("bad request: a fetched record is not [action, signature, "
                             "entry] in base64") from None
        return self._published(
            lambda: self.writer._plan(recipe, quantity, due_us, name, buy, records))

    async def propose(self, request: dict[str, Any], replaces: str | None) -> dict[str, Any]:
        return self._published(
            lambda: self.writer.propose(request_of(ProposalRequest, request), replaces))

    async def withdraw_proposal(self, proposal: str) -> dict[str, Any]:
        return self._published(lambda: self.writer.withdraw_proposal(proposal))

    async def claim(self, request: dict[str, Any]) -> dict[str, Any]:
        return self._published(lambda: self.writer.claim(request_of(ClaimRequest, request)))


WRITES = ("record", "create_spec", "create_process_spec", "create_process", "create_place",
          "finish_process", "create_equation", "declare_footprint", "allocate_footprint",
          "set_budget", "import_vf_jsonld", "create_recipe", "plan_from_recipe", "propose",
          "withdraw_proposal", "claim")
"""The socket's write methods: every write of the Client protocol (node/api.py)."""


def write_methods(node: Node) -> dict[str, Callable[..., Awaitable[object]]]:
    """The socket's write methods on `node`, by name."""
    writes = InNodeWrites(node)
    return {name: getattr(writes, name) for name in WRITES}


def request_of(kind: type[R], fields: dict[str, Any], what: str | None = None) -> R:
    """A request dataclass (EventRequest ...) from its JSON fields, each checked."""
    checked = validated(request_model(kind), what or kind.__name__, fields)  # type: ignore[arg-type]
    return kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in checked.items()})


@cache
def request_model(kind: type[Any]) -> type[BaseModel]:
    """The fields of a request dataclass, each of its type (a tuple as a JSON list)."""
    hints = get_type_hints(kind)
    fields: dict[str, Any] = {}
    for name, param in inspect.signature(kind).parameters.items():
        hint = hints[name]
        if get_origin(hint) is tuple:
            hint = list[get_args(hint)[0]]  # type: ignore[misc]  # (a JSON array)
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[name] = (hint, default)
    return create_model(f"{kind.__name__}_fields", __config__=STRICT, **fields)
