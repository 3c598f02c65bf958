"""The node's front door, for the CLI, scripts and (next) an HTTP API: homes, agents and
networks; `open_ledger` and `open_node`; and the `Client`, chosen once by `open_client`,
that does every operation a caller asks of a home, whether its node runs or not.

The home itself lives in node.store.home. What needs the runtime (the ledger, the node,
the clients' work) is imported when first used: every command imports this module, and
a command pays only for what it uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from node.core.errors import Field, LocalError
from node.core.identity import AgentId, AgentKey
from node.core.refusals import HomeTaken, KeyMissing
from node.store.home import (
    Agent,
    HomePaths,
    PassphraseSource,
    check_home,
    default_home,
    gc_paused,
    open_agent,
)
from node.store.keyfile import rewrap_key_file, write_key_file
from node.store.sqlite import chain_length, open_store

if TYPE_CHECKING:
    from node.client import Found
    from node.core.dna import DnaDef, ZomeRef
    from node.runtime.node import Node
    from node.vf_ledger import Ledger
    from validation.pipeline import Validator
    from zomes.accounting.dataset import Dataset
    from zomes.valueflows.coordinator import EventRequest
    from zomes.valueflows.obligations import ClaimRequest
    from zomes.valueflows.offers import ProposalRequest

__all__ = [
    "Agent",
    "Client",
    "change_passphrase",
    "HomePaths",
    "HomeTaken",
    "KeyMissing",
    "PassphraseSource",
    "configure_logs",
    "default_home",
    "gc_paused",
    "init_home",
    "libp2p_peer_id",
    "log_event",
    "make_validator",
    "new_dna",
    "node_running",
    "open_agent",
    "open_client",
    "open_ledger",
    "open_node",
]

FORCE = Field("force", "force")
"""`init_home`'s `force`: the one way to replace a home's agent."""


def libp2p_peer_id(key: AgentKey) -> str:
    """The key's peer id as py-libp2p computes it (imports libp2p: for `init` only)."""
    from libp2p.crypto.ed25519 import Ed25519PrivateKey
    from libp2p.peer.id import ID

    return ID.from_pubkey(Ed25519PrivateKey.from_bytes(key.seed).get_public_key()).to_base58()


def init_home(home: Path, passphrase: str, name: str | None, *, force: bool = False) -> AgentId:
    """Create a new agent key (and empty database) in `home`; refuse to overwrite a key or
    to write one beside an existing chain (its own key lost) unless `force`d."""
    from node.store.dht import DhtStore  # (the DHT's tables: `init` alone creates them)

    paths = HomePaths(Path(home))
    if paths.key.exists() and not force:
        raise HomeTaken(f"{paths.root} already holds agent; use ", FORCE, " to replace it")
    if not force and paths.db.exists() and paths.db.stat().st_size:
        length = chain_length(paths.db)
        if length:
            raise KeyMissing(
                f"{paths.root} holds a chain of {length} actions whose key file is missing: "
                "restore the key from a backup (", FORCE, " would destroy this chain)"
            )
    key = AgentKey.generate()
    peer_id = libp2p_peer_id(key)
    if peer_id != str(key.agent_id):  # our pure encoding must be libp2p's, byte for byte
        raise AssertionError(f"peer id mismatch: {peer_id} != {key.agent_id}")
    created = not paths.root.exists()
    try:
        paths.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        if created or not any(paths.root.iterdir()):
            paths.root.chmod(0o700)  # the home is the agent's alone
    except OSError as e:
        raise LocalError(f"cannot create {paths.root}: {e.strerror or e}") from None
    if force:
        paths.key.unlink(missing_ok=True)  # a crash below leaves no key beside an old chain
        for stale in (paths.db, paths.network):
            stale.unlink(missing_ok=True)
            for suffix in ("-wal", "-shm"):
                Path(str(stale) + suffix).unlink(missing_ok=True)
    # The database first, the key last: a crash between them leaves an empty database and
    # no key, which `init` takes again; never a key beside no database.
    with open_store(paths.db, create=True) as store:
        DhtStore(store)  # every table exists from the start (a read-only home cannot add them)
    write_key_file(paths.key, key, passphrase, name)
    return key.agent_id


def change_passphrase(home: Path, old: str, new: str) -> AgentId:
    """Encrypt the home's agent key under `new` (WrongPassphrase if `old` is wrong); the
    key file is replaced atomically. A running node keeps the key it unlocked (the key
    itself is unchanged): it needs the new passphrase at its next start."""
    paths = HomePaths(Path(home))
    check_home(paths)
    return rewrap_key_file(paths.key, old, new).agent_id


def new_dna(
    name: str, progenitor: AgentId, zomes: tuple[ZomeRef, ...], properties: dict[str, str]
) -> DnaDef:
    """A fresh network definition with a random seed."""
    import secrets

    from node.core.dna import DnaDef

    return DnaDef(
        name=name,
        zomes=zomes,
        properties=properties,
        progenitor=str(progenitor),
        network_seed=secrets.token_hex(16),
    )


# -- the ledger and the node ----------------------------------------------------------


def open_ledger(home: Path, passphrase: PassphraseSource) -> AbstractContextManager[Ledger]:
    """The home's ledger: its agent, its network's validator, every write checked, and
    the ValueFlows calls (record, inventory, trace ...) as its methods."""
    from node.vf_ledger import open_ledger as opened

    return opened(home, passphrase)


def make_validator(dna: DnaDef) -> Validator:
    """A validator of `dna`'s network (its integrity zomes and its membrane)."""
    from node.runtime.ledger import make_validator as made

    return made(dna)


def open_node(home: Path, passphrase: PassphraseSource, *, rpc: bool = True,
              **options: Any) -> AbstractAsyncContextManager[Node]:
    """Run the home's node until the block exits (node.runtime.conductor.open_node takes
    the `options`); with `rpc`, its socket serves the Client's operations (node/in_node.py)."""
    from node.runtime.conductor import open_node as opened

    if not rpc:
        return opened(home, passphrase, **options)
    from node.in_node import rpc_methods

    return opened(home, passphrase, rpc=rpc_methods, **options)


def configure_logs(level: str, fmt: str) -> None:
    """The running node's log lines on stderr: `level` and over, as text or JSON lines."""
    from node.runtime.logs import configure

    configure(level, fmt)


def log_event(name: str, **fields: Any) -> dict[str, Any]:
    """The `extra` of a log call that records the event `name` with `fields`."""
    from node.runtime.logs import event

    return event(name, **fields)


# -- the client ------------------------------------------------------------------------


class Client(Protocol):
    """Every operation a caller asks of a home, with plain data in and out (JSON-able dicts
    and lists) and errors as CoreError subclasses. `open_client` chooses it once: on the
    home directly, or through its running node's socket, which adds the network."""

    warnings: list[str]

    # writing this agent's chain (by its running node when one runs: no passphrase asked)
    def record(self, event: EventRequest, *, detail: bool = False) -> dict[str, Any]: ...
    def create_spec(self, name: str, unit: str, allow_negative: bool,
                    note: str | None, classified_as: Sequence[str] = (),
                    mass: str | None = None) -> str: ...
    def create_process_spec(self, name: str, note: str | None) -> str: ...
    def create_process(self, name: str, based_on: str | None, note: str | None) -> str: ...
    def create_place(self, place: dict[str, Any]) -> str: ...
    def finish_process(self, process: str) -> str: ...
    def create_equation(self, document: Any) -> dict[str, Any]: ...
    def declare_footprint(self, spec: str, per: str, factors: list[str],
                          note: str | None) -> str: ...
    def allocate_footprint(self, process: str, shares: list[str], note: str | None) -> str: ...
    def set_budget(self, *, kind: str, allocated: str, start_us: int, end_us: int,
                   material: str | None, holder: str, name: str | None) -> dict[str, Any]: ...
    def import_vf_jsonld(self, document: Any, agents: Mapping[str, str],
                         as_iri: str | None = None) -> dict[str, Any]: ...
    def create_recipe(self, document: Any) -> dict[str, Any]: ...
    def plan_from_recipe(self, recipe: str, quantity: str, due_us: int, *,
                         name: str | None = None, buy: Sequence[str] = ()) -> dict[str, Any]: ...
    def recipes(self, spec: str | None = None,
                network: bool = False) -> list[dict[str, Any]]: ...
    def plan_status(self, plan: str, now_us: int,
                    period: str = "year") -> dict[str, Any]: ...
    def propose(self, request: ProposalRequest,
                replaces: str | None = None) -> dict[str, Any]: ...
    def withdraw_proposal(self, proposal: str) -> dict[str, Any]: ...
    def claim(self, request: ClaimRequest) -> dict[str, Any]: ...

    # reading: here, or across the network when the node runs
    def get(self, address: str) -> Found: ...
    def get_many(self, addresses: Sequence[str]) -> list[dict[str, Any] | None]: ...
    def inventory(self, agent: str | None = None) -> list[dict[str, Any]]: ...
    def surplus(self) -> list[dict[str, Any]]: ...
    def flows(self, address: str, backwards: bool,
              limit: int | None = None) -> list[dict[str, Any]]: ...
    def gather(self, max_agents: int, network: bool = True) -> tuple[Dataset, str]: ...
    def commitments(self, everything: bool = False) -> list[dict[str, Any]]: ...
    def events(self, *, action: str | None = None, resource: str | None = None,
               process: str | None = None, since_us: int | None = None,
               until_us: int | None = None, after: str | None = None,
               limit: int = 50) -> dict[str, Any]: ...
    def things(self, kind: str) -> list[dict[str, Any]]: ...
    def whoami(self) -> dict[str, Any]: ...
    def chains(self, agents: Sequence[str]) -> Dataset: ...

    # the running node (NoNode without one)
    def status(self) -> dict[str, Any]: ...
    def peers(self) -> list[dict[str, Any]]: ...
    def connect(self, address: str) -> dict[str, Any]: ...
    def sync(self) -> dict[str, Any]: ...
    def countersign(self, event: dict[str, Any], to: str, wait_s: float) -> dict[str, Any]: ...
    def agree(self, agreement: dict[str, Any], to: str, wait_s: float) -> dict[str, Any]: ...
    def agreements(self) -> list[dict[str, Any]]: ...
    def session(self, id: str) -> dict[str, Any]: ...
    def sessions(self, everything: bool = False) -> list[dict[str, Any]]: ...
    def accept(self, id: str) -> dict[str, Any]: ...
    def decline(self, id: str, reason: str | None = None) -> dict[str, Any]: ...
    def recover(self, force: bool, bootstrap: Sequence[str], timeout: float, *,
                quiet: bool = True) -> dict[str, Any]: ...
    def links(self, base: str, link_type: str | None = None, tag_prefix: str = "",
              include_deleted: bool = False, after: str | None = None,
              limit: int = 1000) -> dict[str, Any]: ...
    def proposals(self, purpose: str, spec: str | None = None, label: str | None = None,
                  location: str | None = None, at_us: int | None = None,
                  author: str | None = None) -> list[dict[str, Any]]: ...


def open_client(home: Path, passphrase: PassphraseSource, *,
                warnings: list[str] | None = None) -> Client:
    """The home's Client: through its node's socket when one runs, else on the home alone
    (the one place that asks). A reader's warnings (a damaged chain) go to `warnings`."""
    from node.client import LocalClient
    from node.client_socket import SocketClient

    kind = SocketClient if node_running(home) else LocalClient
    return kind(Path(home), passphrase, [] if warnings is None else warnings)


def node_running(home: Path) -> bool:
    """Whether a node runs for `home` (its socket is there)."""
    from node.runtime.socket_client import node_running as running

    return running(home)
