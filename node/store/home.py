"""A home on disk: the agent's key file, its database and its network file.

`open_agent` opens an initialised home for work without the network; the key is
decrypted only when something must be signed.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from node.core.chain import ChainHead, verify_chain
from node.core.cid import Cid
from node.core.clock import now_us
from node.core.errors import NotFound
from node.core.identity import AgentId, AgentKey
from node.core.records import Entry, Record
from node.core.scratch import Scratch
from node.store.keyfile import KeyFileInfo, read_key_file, read_key_info
from node.store.sessions import SessionCommit
from node.store.sqlite import Store, open_store

T = TypeVar("T")
PassphraseSource = Callable[[], str]

KEY_FILE = "agent.key"
DB_FILE = "coledger.db"
NETWORK_FILE = "network.json"


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while a batch is built: the many new, live objects of a
    large commit otherwise trigger collections that cost a quarter of its time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def default_home() -> Path:
    """`$COLEDGER_HOME`, else `~/.coledger`."""
    env = os.environ.get("COLEDGER_HOME")
    return Path(env) if env else Path.home() / ".coledger"


@dataclass(frozen=True, slots=True)
class HomePaths:
    root: Path

    @property
    def key(self) -> Path:
        return self.root / KEY_FILE

    @property
    def db(self) -> Path:
        return self.root / DB_FILE

    @property
    def network(self) -> Path:
        return self.root / NETWORK_FILE


class Agent:
    """An opened home: the agent's identity, its store and (lazily) its key."""

    def __init__(
        self,
        paths: HomePaths,
        store: Store,
        info: KeyFileInfo,
        passphrase: PassphraseSource,
        clock: Callable[[], int] = now_us,
    ) -> None:
        self.paths = paths
        self.store = store
        self.info = info
        self._passphrase = passphrase
        self._key: AgentKey | None = None
        self.clock = clock

    @property
    def agent_id(self) -> AgentId:
        return self.info.agent_id

    def key(self) -> AgentKey:
        """Decrypt the key once, on first need."""
        if self._key is None:
            self._key = read_key_file(self.paths.key, self._passphrase())
        return self._key

    def head(self) -> ChainHead | None:
        return self.store.head()

    def commit(
        self,
        build: Callable[[Scratch], T],
        check: Callable[[Scratch], None] | None = None,
        *,
        session: SessionCommit | None = None,
    ) -> T:
        """Run `build` on a scratch at the current head, `check` it, flush atomically.

        Any exception from `build` or `check` leaves the chain untouched; a concurrent
        writer makes the flush raise HeadMoved, also writing nothing.
        """
        key = self.key()
        with gc_paused():
            scratch = Scratch(self.store.head(), key, self.clock)
            result = build(scratch)
            if check is not None:
                check(scratch)
            self.store.flush(scratch.base, scratch.records, now_us=self.clock(), session=session)
        return result

    def verify(self) -> ChainHead | None:
        """Verify every stored link and signature; ChainError names the first bad seq."""
        return verify_chain(self.store.rows())

    def get(self, address: Cid) -> Record | Entry:
        """A record by action address, or an entry by entry address, from the local store."""
        record = self.store.get_record(address)
        if record is not None:
            return record
        entry = self.store.get_entry(address)
        if entry is not None:
            return entry
        raise NotFound(f"nothing stored at {address}")


@contextmanager
def open_agent(home: Path, passphrase: PassphraseSource) -> Iterator[Agent]:
    """Open an initialised home; NotFound if `init` was never run there."""
    paths = HomePaths(Path(home))
    info = read_key_info(paths.key)
    with open_store(paths.db) as store:
        yield Agent(paths, store, info, passphrase)
