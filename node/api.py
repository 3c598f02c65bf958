"""The node's public facade: homes, agents and networks, for the CLI and for scripts.

The home itself lives in node.store.home; this module adds what needs more than the
store: creating an agent (its peer id computed by py-libp2p) and a network's DNA.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from node.core.dna import DnaDef, ZomeRef
from node.core.errors import LocalError
from node.core.identity import AgentId, AgentKey
from node.store.dht import DhtStore
from node.store.home import (
    Agent,
    HomePaths,
    PassphraseSource,
    default_home,
    gc_paused,
    open_agent,
)
from node.store.keyfile import write_key_file
from node.store.sqlite import chain_length, open_store

__all__ = [
    "Agent",
    "HomePaths",
    "PassphraseSource",
    "default_home",
    "gc_paused",
    "init_home",
    "libp2p_peer_id",
    "new_dna",
    "open_agent",
]


def libp2p_peer_id(key: AgentKey) -> str:
    """The key's peer id as py-libp2p computes it (imports libp2p: for `init` only)."""
    from libp2p.crypto.ed25519 import Ed25519PrivateKey
    from libp2p.peer.id import ID

    return ID.from_pubkey(Ed25519PrivateKey.from_bytes(key.seed).get_public_key()).to_base58()


def init_home(home: Path, passphrase: str, name: str | None, *, force: bool = False) -> AgentId:
    """Create a new agent key (and empty database) in `home`; refuse to overwrite a key or
    to write one beside an existing chain (its own key lost) unless `force`d."""
    paths = HomePaths(Path(home))
    if paths.key.exists() and not force:
        raise LocalError(f"{paths.root} already holds agent; use --force to replace it")
    if not force and paths.db.exists() and paths.db.stat().st_size:
        length = chain_length(paths.db)
        if length:
            raise LocalError(
                f"{paths.root} holds a chain of {length} actions whose key file is missing: "
                "restore the key from a backup (--force would destroy this chain)"
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


def new_dna(
    name: str, progenitor: AgentId, zomes: tuple[ZomeRef, ...], properties: dict[str, str]
) -> DnaDef:
    """A fresh network definition with a random seed."""
    return DnaDef(
        name=name,
        zomes=zomes,
        properties=properties,
        progenitor=str(progenitor),
        network_seed=secrets.token_hex(16),
    )
