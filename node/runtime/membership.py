"""The membership workflow: hello, discovery and refusal; who counts as a peer.

Queue: the peers' addresses learnt from hellos and the bootstrap list (`addresses`),
each dialled by `discover` at most every DIAL_INTERVAL_US while not connected; and the
peers refused in a handler (`to_drop`), disconnected by the next `discover`. The hello
message itself (its bytes, the membrane proof check) is node/runtime/hello.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet

from dht.transport import NotServed, PeerUnreachable, Transport, TransportError, peer_in
from node.core.cid import Cid
from node.core.errors import CoreError, DecodeError
from node.core.identity import AgentId
from node.core.records import SignedAction
from node.runtime.hello import Hello, check_hello, fitting
from node.runtime.logs import event as log_event
from node.runtime.population import Population

log = logging.getLogger("coledger.node")

REQUEST_TIMEOUT = 20.0
"""Seconds for any request to a peer, unless the node is given another."""
DIAL_INTERVAL_US = 15_000_000
MAX_REFUSED = 1024
"""Refused peers remembered: a stranger makes new peer ids at will (one forgotten is
refused again when it says hello)."""
MAX_ADDRESSES = 4096
"""Peers' addresses learnt from hellos, at most (a member could name peers without end)."""


class NotAMember(Exception):
    """A request from a peer that has not shown a valid membrane proof."""


class Membership:
    """Whom this node talks to: the members (their hellos admitted), their addresses, the
    peers refused; and the population authorities are chosen from."""

    def __init__(self, avp: SignedAction, transport: Transport, clock: Callable[[], int], *,
                 network_id: Cid, progenitor: AgentId, redundancy: int,
                 blocked: AbstractSet[AgentId], refused: set[AgentId],
                 request_timeout: float) -> None:
        self.me = me = avp.action.author
        self.transport = transport
        self.clock = clock
        self.network_id = network_id
        self.progenitor = progenitor
        self.redundancy = redundancy
        self.blocked = blocked
        self.refused = refused
        self.request_timeout = request_timeout
        self.members: set[AgentId] = {me, progenitor}
        self.addresses: dict[AgentId, tuple[str, ...]] = {}
        self.joined: set[AgentId] = set()  # peers whose hello was admitted
        self.hello = Hello(avp)
        self.population = Population(me, transport, redundancy)
        self._dialed_at: dict[AgentId, int] = {}
        self._to_drop: set[AgentId] = set()

    # -- who counts --------------------------------------------------------------------

    def check_member(self, peer: AgentId) -> None:
        """Raise NotAMember unless `peer` showed a membrane proof and is not blocked."""
        if peer not in self.members:
            raise NotAMember(f"{peer} has not shown a membrane proof (say hello first)")
        if peer in self.blocked:
            raise NotAMember(f"{peer} is blocked")

    def counted(self) -> Population:
        """The population, brought up to date with the members and the blocked."""
        self.population.refresh(self.members, self.blocked)
        return self.population

    def peers(self) -> list[AgentId]:
        """Member peers we can reach, and ourselves: the population authorities come from."""
        return self.counted().peers()

    def authorities(self, basis: bytes) -> list[AgentId]:
        """The R counted peers closest to `basis` (all of them when fewer)."""
        return self.counted().authorities(basis)

    def receipts_needed(self) -> int:
        """min(R, the peers we count, ourselves included): the receipts from an op's
        current authorities that confirm it published; one of them must be another
        member's (node/runtime/publish.py): an op only its author holds is not published."""
        return self.counted().size_at_most(self.redundancy)

    # -- hello -------------------------------------------------------------------------

    def hello_bytes(self, to: AgentId) -> bytes:
        """Our hello to `to`: the member peers we know only if `to` is a member (a
        stranger learns nothing of the members before it shows its proof)."""
        mine = (self.me, tuple(self.transport.listen_addrs()[:8]))
        peers = tuple(
            (p, self.addresses.get(p, ())[:8]) for p in self.transport.connected_peers()
            if p in self.members and self.addresses.get(p)
        ) if to in self.members else ()
        return Hello(self.hello.avp, fitting((mine, *peers[:200]))).to_bytes()

    def admit(self, peer: AgentId, hello: Hello) -> None:
        problem = check_hello(hello, peer, network_id=self.network_id, progenitor=self.progenitor)
        if problem is not None:
            log.info("refused peer %s: %s", peer, problem,
                     extra=log_event("peer_refused", peer=peer, reason=problem))
            self._note_refused(peer)
            raise NotAMember(f"{peer} is not a member: {problem}")
        if peer not in self.joined:
            self.joined.add(peer)
            log.info("peer %s joined", peer, extra=log_event("peer_joined", peer=peer))
        self.members.add(peer)
        for other, addrs in hello.peers:
            if other == peer and addrs:
                self.addresses[peer] = addrs  # its own word on where it listens
            elif other != self.me and addrs and len(self.addresses) < MAX_ADDRESSES:
                self.addresses.setdefault(other, addrs)

    def admit_bytes(self, peer: AgentId, data: bytes) -> None:
        """`admit` of a peer's hello bytes: one that does not decode shows no valid
        membrane proof either (NotAMember), whatever is inside."""
        try:
            hello = Hello.from_bytes(data)
        except DecodeError as e:
            self.refused.add(peer)
            raise NotAMember(f"{peer} is not a member: its hello does not decode: {e}") from None
        self.admit(peer, hello)

    async def on_hello(self, peer: AgentId, data: bytes) -> bytes:
        """The "hello" handler: admit the peer and answer with our hello."""
        try:
            self.admit_bytes(peer, data)
        except NotAMember:
            self._to_drop.add(peer)  # (refused in a handler: discovery closes the connection)
            raise
        return self.hello_bytes(peer)

    async def greet(self, peer: AgentId) -> None:
        answer = await self.transport.request(
            peer, "hello", self.hello_bytes(peer), timeout=self.request_timeout
        )
        try:
            self.admit_bytes(peer, answer)
        except NotAMember:
            await self.transport.disconnect(peer)
            raise

    # -- refusal -----------------------------------------------------------------------

    async def _refuse(self, peer: AgentId, why: str) -> None:
        log.log(logging.DEBUG if peer in self.refused else logging.INFO,  # (said once)
                "refused peer %s: %s", peer, why,
                extra=log_event("peer_refused", peer=peer, reason=why))
        self._note_refused(peer)
        self._to_drop.discard(peer)
        await self.transport.disconnect(peer)

    def _note_refused(self, peer: AgentId) -> None:
        """Remember a refused peer, forgetting some when there are more than MAX_REFUSED."""
        refused = self.refused
        if peer not in refused:
            while len(refused) >= MAX_REFUSED:
                refused.pop()
            refused.add(peer)

    # -- discovery ---------------------------------------------------------------------

    async def join(self, bootstrap: Iterable[str]) -> None:
        """Connect to the bootstrap addresses. They are kept with the addresses peers
        tell us of, so discovery dials them again while not connected (a node started
        before its bootstrap peer joins when that peer comes)."""
        for address in dict.fromkeys(bootstrap):
            try:
                peer = peer_in(address)
            except PeerUnreachable as e:
                log.warning("could not join %s: %s", address, e)
                continue
            self.addresses.setdefault(peer, (address,))
            self._dialed_at[peer] = self.clock()
            await self.connect(address)

    async def connect(self, multiaddr: str) -> AgentId | None:
        """Connect and shake hands; None (and a log line) if it fails or is no member."""
        try:
            peer = await self.transport.connect(multiaddr)
            # greeted here: discovery leaves it alone for a while (a peer that refused
            # our hello gets the time to greet us and refuse us in turn)
            self._dialed_at[peer] = self.clock()
            await self.greet(peer)
        except NotServed:
            log.warning("could not join %s: it serves none of this network's protocols"
                        " (a node of another network?)", multiaddr)
            return None
        except (TransportError, CoreError, NotAMember) as e:
            log.warning("could not join %s: %s", multiaddr, e)
            return None
        self.addresses.setdefault(peer, (multiaddr,))
        return peer

    async def discover(self) -> None:
        """Connect to the peers others told us about, and the bootstrap ones: those not
        connected, each tried at most every DIAL_INTERVAL seconds (a dead peer costs
        little); and greet the connected peers that never said hello: one that answers
        with no valid membrane proof, or speaks none of this network's protocols, is
        refused (one that cannot be reached is only left: it may be a member whose
        connection dropped)."""
        now = self.clock()
        if len(self._dialed_at) > 256:  # (a time older than the interval says nothing)
            self._dialed_at = {p: t for p, t in self._dialed_at.items()
                               if now - t <= DIAL_INTERVAL_US}
        connected = set(self.transport.connected_peers()) if self.addresses else set()
        refused = self.blocked | self.refused
        todo = [(p, a) for p, a in self.addresses.items()
                if p not in connected and p not in refused and p != self.me
                and now - self._dialed_at.get(p, 0) > DIAL_INTERVAL_US][:16]
        for peer, addrs in todo:
            self._dialed_at[peer] = now
            for addr in addrs:
                if await self.connect(addr) is not None:
                    break
        for peer in list(self._to_drop):
            await self._refuse(peer, "no valid membrane proof")
        strangers = set(self.transport.connected_peers()) - self.members - set(self.blocked)
        for peer in strangers - self.refused:
            if now - self._dialed_at.get(peer, 0) > DIAL_INTERVAL_US:
                self._dialed_at[peer] = now
                try:
                    await self.greet(peer)  # connected to us but never said hello
                except (NotServed, NotAMember) as e:
                    # it speaks none of this network's protocols, or has no valid proof
                    await self._refuse(peer, str(e))
                except (TransportError, CoreError) as e:
                    log.info("could not greet %s: %s", peer, e)
