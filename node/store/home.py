"""A home on disk: the agent's key file, its database and its network file.

`open_agent` opens an initialised home for work without the network; the key is
decrypted only when something must be signed. A home whose key and chain do not belong
together (one without the other, an empty database beside a key) is refused; a chain
found damaged at open (node.store.integrity) or while read can be read, with a warning,
but not written (`write_refusal`).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from node.core.chain import ChainHead, verify_chain
from node.core.cid import Cid
from node.core.clock import now_us
from node.core.collector import gc_paused as gc_paused  # re-exported: the runtime imports it here
from node.core.errors import Field, LocalError, NotFound
from node.core.identity import AgentId, AgentKey
from node.core.records import Entry, Record
from node.core.refusals import NoChain, NodeAlreadyRunning, WriteRefused
from node.store.integrity import open_check
from node.store.keyfile import KeyFileInfo, read_key_file, read_key_info
from node.store.sessions import SessionCommit
from node.store.sqlite import Store, chain_length, open_store, refuse_if_unchecked

if TYPE_CHECKING:  # (commit imports it: a home opened to read writes nothing)
    from node.core.scratch import Scratch

T = TypeVar("T")
PassphraseSource = Callable[[], str]

KEY_FILE = "agent.key"
DB_FILE = "coledger.db"
NETWORK_FILE = "network.json"
LOCK_FILE = "node.lock"


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

    @property
    def lock(self) -> Path:
        return self.root / LOCK_FILE


def check_home(paths: HomePaths) -> None:
    """Refuse, in one line saying which, a home whose key and chain do not belong together:
    a key without a database (or with an empty one: a lost chain that joining again with
    the same key would fork), or a chain without its key. NotFound for a home never made."""
    has_key = paths.key.exists()
    if not has_key:
        length = chain_length(paths.db) if paths.db.exists() and _size(paths.db) else 0
        if length:
            raise LocalError(
                f"{paths.root} holds a chain of {length} actions but no agent key ({KEY_FILE} "
                "is missing): restore the key file from a backup"
            )
        return  # read_key_info says: run `coledger init`
    lost = (
        "restore it from a backup; do not join again with this key (that would fork its"
        " chain)"
    )
    if not paths.db.exists():
        raise NoChain(f"{paths.root} has an agent key but no chain ({DB_FILE} is"
                               " missing): " + lost)
    if _size(paths.db) == 0:
        raise LocalError(f"{paths.db} is empty (0 bytes) though {paths.root} has an agent key:"
                         " its chain is lost; " + lost)


@contextmanager
def hold_node_lock(paths: HomePaths) -> Iterator[None]:
    """Hold the home's node lock (flock on node.lock, which names the holder's pid) for
    the block: one running node per home. The kernel drops the lock when the process
    dies, however it dies, so no stale lock outlives a crash."""
    try:
        fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise LocalError(f"cannot open {paths.lock}: {e.strerror or e}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise NodeAlreadyRunning(
                f"a node is already running for {paths.root} (pid {holder}); "
                "stop it first or use another ", Field("home", "home")
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


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
        refusal = write_refusal(self)
        if refusal is not None:
            raise WriteRefused(refusal)
        refuse_if_unchecked(self.store.db)  # (before the passphrase is asked for)
        from node.core.scratch import Scratch

        key = self.key()
        with gc_paused():
            scratch = Scratch(self.store.head(), key, self.clock)
            result = build(scratch)
            if check is not None:
                check(scratch)
            self.store.flush(scratch.base, scratch.records, now_us=self.clock(), session=session)
        return result

    def warning(self) -> str | None:
        """What a reader of this home should be told (a damaged chain), or None."""
        damage = self.store.damage
        if damage is None:
            return None
        return f"this chain is damaged ({damage}): what is shown may be incomplete"

    def verify(self) -> ChainHead | None:
        """Verify every stored link and signature; ChainError names the first bad seq, a
        LocalError the damage the check at open found elsewhere in the file."""
        head = verify_chain(self.store.rows())
        if self.store.damage is not None:
            raise LocalError(f"the database is damaged: {self.store.damage} "
                             "(the chain's links and signatures verify)")
        return head

    def get(self, address: Cid) -> Record | Entry:
        """A record by action address, or an entry by entry address, from the local store."""
        record = self.store.get_record(address)
        if record is not None:
            return record
        entry = self.store.get_entry(address)
        if entry is not None:
            return entry
        raise NotFound(f"nothing stored at {address}")


def write_refusal(agent: Agent) -> str | None:
    """Why nothing may be written on this home's chain now (one line), or None.

    The one place a write asks; other conditions (a chain the network knows to be
    longer) join here."""
    damage = agent.store.damage
    if damage is not None:
        return f"refusing to write: this chain is damaged ({damage}); nothing was written"
    return None


@contextmanager
def open_home_store(home: Path, check: Callable[[Store, AgentId], str | None] = open_check,
                    ) -> Iterator[tuple[HomePaths, KeyFileInfo, Store]]:
    """An initialised home's paths, key info and store, its chain checked by `check` (a
    problem noted on the store as damage: reads go on, writes are refused); NotFound if
    `init` was never run there."""
    paths = HomePaths(Path(home))
    check_home(paths)
    info = read_key_info(paths.key)
    with open_store(paths.db) as store:
        problem = check(store, info.agent_id)
        if problem is not None:
            store.note_damage(problem)
        yield paths, info, store


@contextmanager
def open_agent(home: Path, passphrase: PassphraseSource) -> Iterator[Agent]:
    """Open an initialised home, checking its head (node.store.integrity); NotFound if
    `init` was never run there, LocalError if its key and chain do not belong together."""
    with open_home_store(home) as (paths, info, store):
        yield Agent(paths, store, info, passphrase)
