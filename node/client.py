"""The two Clients of the front door (node/api.py chooses one, once): `LocalClient` works on
the home directly; `SocketClient` (node/client_socket.py), when the home's node runs, asks
it over its socket what needs the network (status, another agent's inventory, traces
across chains, countersigning, the chains reports gather) and sends it every write
(node/client_writes.py): the node signs with the key it unlocked at start, so no
passphrase is asked, and publishes at once.

Answers are plain data (JSON-able); errors are CoreError subclasses in words for any
caller (the CLI adds its own hints: a flag, a command to run).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from node.client_commons import HomeCommons
from node.core.errors import CoreError, LocalError, NotFound
from node.core.refusals import NoNode, NoPeerKnown
from node.store.home import Agent, PassphraseSource

if TYPE_CHECKING:
    from node.core.cid import Cid
    from node.core.records import Record
    from node.vf_ledger import Ledger
    from zomes.accounting.dataset import Dataset
    from zomes.valueflows.coordinator import EventRequest
    from zomes.valueflows.entries import EconomicEvent, Intent
    from zomes.valueflows.obligations import ClaimRequest
    from zomes.valueflows.offers import ProposalRequest


T = TypeVar("T")


class NotStoredHere(NotFound):
    """Nothing at this address in the home (the network may hold it)."""

    def __init__(self, address: str) -> None:
        super().__init__(f"nothing stored at {address} here")
        self.address = address


class Found:
    """What `get` found: its JSON view, and the exact stored DAG-CBOR bytes when the home
    holds it (None when it came from the network). (A plain class: a dataclass costs every
    command that imports this module most of a millisecond.)"""

    __slots__ = ("data", "view")

    def __init__(self, view: dict[str, Any], data: bytes | None) -> None:
        self.view = view
        self.data = data


class LocalClient(HomeCommons):
    """The operations on the home alone: its chain, its ledger, its DHT store."""

    def __init__(self, home: Path, passphrase: PassphraseSource, warnings: list[str]) -> None:
        self.home = home
        self.passphrase = passphrase
        self.warnings = warnings

    def _agent(self) -> AbstractContextManager[Agent]:
        from node.store.home import open_agent

        return self._warned(open_agent(self.home, self.passphrase), lambda agent: agent)

    def _ledger(self) -> AbstractContextManager[Ledger]:
        from node.vf_ledger import open_ledger

        return self._warned(open_ledger(self.home, self.passphrase), lambda led: led.agent)

    @contextmanager
    def _warned(self, opened: AbstractContextManager[T],
                agent_of: Callable[[T], Agent]) -> Iterator[T]:
        """Yield what `opened` opens; then keep its agent's warning for the caller."""
        with opened as value:
            try:
                yield value
            finally:
                self._warn(agent_of(value))

    def _warn(self, agent: Agent) -> None:
        """Keep the agent's warning (a damaged chain) for the caller to show."""
        warning = agent.warning()
        if warning is not None and warning not in self.warnings:
            self.warnings.append(warning)

    # -- writing ---------------------------------------------------------------------

    def record(self, event: EventRequest, *, detail: bool = False) -> dict[str, Any]:
        """Sign and commit one economic event: its address; with `detail`, also the event,
        the resources it created and the states of those it touched."""
        with self._ledger() as led:
            done = led.record(event)
            if not detail:
                return {"address": str(done.event)}
            view = led.view()
        made = view.events[str(done.event)]
        touched = [r for r in (made.resource_inventoried_as, made.to_resource_inventoried_as)
                   if r]
        states = [
            dict(view.states[r].to_content(),
                 name=view.resources[r].name if r in view.resources else None)
            for r in touched if r in view.states
        ]
        return {
            "address": str(done.event),
            "event": made.to_content(),
            "created_resources": {k: str(v) for k, v in done.created_resources.items()},
            "resources": states,
        }

    def create_spec(self, name: str, unit: str, allow_negative: bool, note: str | None,
                    classified_as: Sequence[str] = (), mass: str | None = None) -> str:
        """A resource specification; `classified_as`: what its resources are (byproduct...);
        `mass`: the mass of one `unit` of it."""
        with self._ledger() as led:
            return str(led.create_spec(name, unit, allow_negative, note, tuple(classified_as),
                                       mass))

    def create_process_spec(self, name: str, note: str | None) -> str:
        with self._ledger() as led:
            return str(led.create_process_spec(name, note))

    def create_process(self, name: str, based_on: str | None, note: str | None) -> str:
        with self._ledger() as led:
            return str(led.create_process(name, based_on, note))

    def create_place(self, place: dict[str, Any]) -> str:
        """A place (SpatialThing content: name, mappableAddress, lat, long, alt, note)."""
        with self._ledger() as led:
            return str(led.create_place(place))

    def finish_process(self, process: str) -> str:
        with self._ledger() as led:
            return str(led.finish_process(process))

    def create_equation(self, document: Any) -> dict[str, Any]:
        from zomes.accounting.coordinator import create_equation

        with self._ledger() as led:
            address, equation = led.commit(lambda s, v: create_equation(s, document))
        return {"address": str(address), "name": equation.name,
                "equation": equation.to_content()}

    def declare_footprint(self, spec: str, per: str, factors: list[str],
                          note: str | None) -> str:
        from zomes.accounting.coordinator import declare_footprint

        with self._ledger() as led:
            return str(led.commit(lambda s, v: declare_footprint(s, spec, per, factors, note)))

    def allocate_footprint(self, process: str, shares: list[str], note: str | None) -> str:
        from zomes.accounting.coordinator import allocate

        with self._ledger() as led:
            return str(led.commit(lambda s, v: allocate(s, process, shares, note)))

    def set_budget(self, *, kind: str, allocated: str, start_us: int, end_us: int,
                   material: str | None, holder: str, name: str | None) -> dict[str, Any]:
        """`holder`: "me", "network" (the progenitor only) or an agent id."""
        from zomes.accounting.coordinator import set_budget

        with self._ledger() as led:
            me = str(led.agent.agent_id)
            agent = None if holder == "network" else me if holder == "me" else holder
            address = led.commit(lambda s, v: set_budget(
                s, kind=kind, allocated=allocated, start_us=start_us, end_us=end_us,
                material=material, agent=agent, name=name))
        return {"address": str(address), "kind": kind, "agent": agent}

    def import_vf_jsonld(self, document: Any, agents: Mapping[str, str],
                         as_iri: str | None = None) -> dict[str, Any]:
        """Record a ValueFlows JSON-LD document's events, all or nothing; `agents` maps an
        agent of the document to one of ours ("me": this agent); `as_iri` is this agent's
        IRI in the document."""
        from node.imports import import_vf_jsonld

        with self._ledger() as led:
            me = str(led.agent.agent_id)
            mapping = {old: me if new == "me" else new for old, new in agents.items()}
            return import_vf_jsonld(led, document, mapping, as_iri)

    def create_recipe(self, document: Any) -> dict[str, Any]:
        """Publish a recipe (its processes, flows and exchanges) from its JSON form."""
        from zomes.valueflows.recipes import create_recipe

        with self._ledger() as led:
            made: dict[str, Any] = led.commit(lambda s, v: create_recipe(s, document))
        return made

    def plan_status(self, plan: str, now_us: int, period: str = "year") -> dict[str, Any]:
        """A plan this home holds against what was recorded as of `now_us`, and its
        footprint against the budgets that apply (zomes/accounting/plan_report.py)."""
        from zomes.accounting.plan_report import plan_status_of

        with self._agent() as agent:
            records = self._held_records(agent)
        return plan_status_of(records, plan, now_us, period, self.fulfilling)

    def fulfilling(self, held: Sequence[tuple[str, EconomicEvent]],
                   flows: Sequence[str]) -> dict[str, list[tuple[str, EconomicEvent]]]:
        """The (address, event) fulfilling or satisfying each of `flows` (commitments,
        intents) among the events `held` here. (A node's client may add the network's.)"""
        from zomes.valueflows.plan_status import fulfilments

        return fulfilments(held, flows)

    @staticmethod
    def _held_records(agent: Agent) -> list[Record]:
        """Our chain's records and the chains of others our DHT store holds (validated)."""
        from node.store.dht import DhtStore

        records = list(agent.store.records())
        dht = DhtStore(agent.store)
        for author in dht.activity_authors():
            if author != agent.agent_id:
                records.extend(dht.activity(author))
        return records
    def propose(self, request: ProposalRequest, replaces: str | None = None) -> dict[str, Any]:
        """Publish an offer or a request: its intents, the proposal and its links;
        `replaces`: a proposal of this agent's withdrawn in the same commit (an update)."""
        from zomes.valueflows.offers import publish, withdraw

        with self._ledger() as led:
            author, now = str(led.agent.agent_id), led.agent.clock()
            old, intents = ([], []) if replaces is None else self._withdrawal(led, replaces)
            done, gone = led.commit(lambda s, v: (
                publish(s, author, request, now), withdraw(s, old, intents)))
        out = {"proposal": str(done.proposal), "purpose": request.purpose,
               "intents": [str(i) for i in done.intents],
               "reciprocal": [str(i) for i in done.reciprocal],
               "links": [str(x) for x in done.links]}
        if replaces is not None:
            out.update(replaces=replaces, deleted_links=[str(d) for d in gone])
        return out

    def withdraw_proposal(self, proposal: str) -> dict[str, Any]:
        """Delete this agent's open links to `proposal`: it leaves every listing."""
        from zomes.valueflows.offers import withdraw

        with self._ledger() as led:
            links, intents = self._withdrawal(led, proposal)
            deleted = led.commit(lambda s, v: withdraw(s, links, intents))
        return {"proposal": proposal, "withdrawn": True,
                "deleted_links": [str(d) for d in deleted]}

    @staticmethod
    def _withdrawal(led: Ledger, proposal: str) -> tuple[list[tuple[Cid, Cid]],
                                                         list[tuple[Cid, Cid, Intent]]]:
        """(link, base) of this agent's open links to `proposal` (LocalError if none), and
        its intents not yet finished: what withdrawing it deletes and finishes."""
        from node.core.cid import Cid
        from zomes.valueflows.offers import open_intents, open_links

        try:
            target = Cid.parse(proposal)
        except CoreError:
            raise LocalError(f"{proposal!r} is not an address (bafy...)") from None
        records = list(led.agent.store.records())
        links = open_links(records, target)
        if not links:
            raise LocalError(f"{proposal} is no open proposal of this agent")
        return links, open_intents(records, target)

    def claim(self, request: ClaimRequest) -> dict[str, Any]:
        """Record a claim of this agent (its receiver) triggered by an event."""
        from zomes.valueflows.obligations import create_claim

        with self._ledger() as led:
            me, now = str(led.agent.agent_id), led.agent.clock()
            address = led.commit(lambda s, v: create_claim(s, me, request, now))
        return {"address": str(address), "receiver": me, "provider": request.provider}

    # -- reading ---------------------------------------------------------------------

    def events(self, *, action: str | None = None, resource: str | None = None,
               process: str | None = None, since_us: int | None = None,
               until_us: int | None = None, after: str | None = None,
               limit: int = 50) -> dict[str, Any]:
        """A page of this chain's economic events, newest first (node/events.py): filtered
        by action, resource (either side), process (either side) and time; `after`, the
        "next" cursor of the page before. The node's socket is not needed (its own chain)."""
        from node.events import events_page, open_chain
        from node.store.event_index import EventFilter

        where = EventFilter(action, resource, process, since_us, until_us)
        with open_chain(self.home, self._warned_once) as store:
            return events_page(store, where, after, limit)

    def things(self, kind: str) -> list[dict[str, Any]]:
        """This chain's specifications, processes, intents, proposals, plans... of one kind
        (node/events.py THING_KINDS), each as its latest version, oldest first."""
        from node.events import open_chain, things

        with open_chain(self.home, self._warned_once) as store:
            return things(store, kind)

    def whoami(self) -> dict[str, Any]:
        """This home's agent: its id and name."""
        from node.events import whoami

        return whoami(self.home)

    def _warned_once(self, warning: str) -> None:
        if warning not in self.warnings:
            self.warnings.append(warning)

    def commitments(self, everything: bool = False) -> list[dict[str, Any]]:
        """The commitments and claims this agent is a party to, with what the events that
        fulfil or settle them add up to: its own chain's, and with a node those linked
        to it and from them (the bases' authorities asked)."""
        from zomes.valueflows.obligations import list_through

        with self._agent() as agent:
            me, now = str(agent.agent_id), agent.clock()
            records = list(agent.store.records())
        return list_through(me, records, now, self.links, lambda a: self.get(a).view,
                            everything)

    def get(self, address: str) -> Found:
        """A record (by action address) or an entry (by entry address) the home holds."""
        from node.core.cid import Cid
        from node.core.jsonview import jsonable, record_json
        from node.core.records import Record

        try:
            cid = Cid.parse(address)
        except CoreError:
            raise LocalError(f"{address!r} is not an address (bafy...)") from None
        with self._agent() as ag:
            try:
                found = ag.get(cid)
            except NotFound:
                raise NotStoredHere(str(cid)) from None
        if isinstance(found, Record):
            return Found(record_json(found), found.signed.data)
        return Found({"entry_address": str(found.address), "entry": jsonable(found.value)},
                     found.data)

    def inventory(self, agent: str | None = None) -> list[dict[str, Any]]:
        """Resources with their accounting and onhand quantities (another `agent`'s needs
        the node)."""
        if agent is not None:
            raise NoNode("no node is running for this home")
        from node.events import open_chain
        from node.own_view import inventory

        with open_chain(self.home, self._warned_once) as store:
            return inventory(store)

    def flows(self, address: str, backwards: bool,
              limit: int | None = None) -> list[dict[str, Any]]:
        """The ValueFlows trace (backwards) or track (forwards) on this chain, its first
        `limit` steps (None: all): over the view kept for the chain's head (own_view)."""
        from node.events import open_chain
        from node.own_view import flows

        with open_chain(self.home, self._warned_once) as store:
            return flows(store, address, backwards, limit)

    def gather(self, max_agents: int, network: bool = True) -> tuple[Dataset, str]:
        """(dataset, this agent's id) for reports: this chain and those the DHT store holds."""
        from node.gather import gather_local

        return gather_local(self.home, self.passphrase)

    # -- the running node: none here --------------------------------------------------

    def _no_node(self) -> NoNode:
        return NoNode("no node is running for this home")

    def status(self) -> dict[str, Any]:
        raise self._no_node()

    def get_many(self, addresses: Sequence[str]) -> list[dict[str, Any] | None]:
        raise self._no_node()

    def peers(self) -> list[dict[str, Any]]:
        raise self._no_node()

    def connect(self, address: str) -> dict[str, Any]:
        raise self._no_node()

    def sync(self) -> dict[str, Any]:
        raise self._no_node()

    def countersign(self, event: dict[str, Any], to: str, wait_s: float) -> dict[str, Any]:
        raise self._no_node()

    def session(self, id: str) -> dict[str, Any]:  # noqa: A002 - the session's id
        raise self._no_node()

    def sessions(self, everything: bool = False) -> list[dict[str, Any]]:
        raise self._no_node()

    def accept(self, id: str) -> dict[str, Any]:  # noqa: A002
        raise self._no_node()

    def decline(self, id: str, reason: str | None = None) -> dict[str, Any]:  # noqa: A002
        raise self._no_node()

    def links(self, base: str, link_type: str | None = None, tag_prefix: str = "",
              include_deleted: bool = False, after: str | None = None,
              limit: int = 1000) -> dict[str, Any]:
        """A page of the links from `base` across the network (the node asks the base's
        authorities): {"links": [...], "next": where the next page starts, or None}."""
        raise self._no_node()

    def recover(self, force: bool, bootstrap: Sequence[str], timeout: float, *,
                quiet: bool = True) -> dict[str, Any]:
        """Fetch this chain's records back from the network in a short session of this
        home's node (through `bootstrap` and the network file's members, waiting up to
        `timeout` for them); `quiet` silences its log lines, which the result repeats."""
        return recover_in_session(self.home, self.passphrase, force, bootstrap, timeout,
                                   quiet=quiet)


def recover_in_session(home: Path, passphrase: PassphraseSource, force: bool,
                        bootstrap: Sequence[str], timeout: float, *,
                        quiet: bool) -> dict[str, Any]:
    """`recover` with no node running: this home's node for as long as it takes."""
    import logging

    import trio

    from node.runtime.conductor import open_node
    from node.runtime.progress import Progress

    async def main() -> dict[str, Any] | CoreError:
        async with open_node(home, passphrase, listen="/ip4/127.0.0.1/tcp/0",
                             bootstrap=bootstrap) as node:
            if not node.addresses:  # nobody to ask: say so now, not after the timeout
                return NoPeerKnown(
                    "no node runs for this home and no member's address is known")
            with trio.move_on_after(timeout):
                while len(node.peers()) < 2:
                    await trio.sleep(0.2)
            with Progress("asking the network for this chain") as progress:
                try:
                    return await node.own_chain.recover(force, progress.update)
                except CoreError as e:
                    return e  # (raised out here, not inside the node's nursery)

    silenced = [logging.getLogger(n) for n in ("coledger", "libp2p")] if quiet else []
    levels = [logger.level for logger in silenced]
    for logger in silenced:
        logger.setLevel(logging.CRITICAL)
    try:
        result = trio.run(main)
    except BaseExceptionGroup as group:  # (a failure to start, from the node's nursery)
        found = group.subgroup(CoreError)
        if found is None:
            raise
        first: BaseException = found
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    finally:  # (as they were: a caller may recover again in this process, as tests do)
        for logger, level in zip(silenced, levels, strict=True):
            logger.setLevel(level)
    if isinstance(result, CoreError):
        raise result
    return result
