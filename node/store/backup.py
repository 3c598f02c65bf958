"""A home's backup file: a consistent snapshot taken while its node runs, encrypted with a
key derived from the agent's own key; and its restore into an empty home.

Each database of the home is copied by SQLite's online backup (one step: one read
snapshot, however the node writes meanwhile); the network file and config.toml are
copied as they are. The file is:

    b"coledger backup\\n"
    one line of JSON (the header): format, agent id and name, when, the key file (sealed
        by the passphrase, as on disk: a restore opens it with the passphrase), the cipher
    frames: a 4-byte big-endian length, then a crypto_secretstream_xchacha20poly1305
        message: first the manifest (the files' names and sizes; the header bytes are its
        associated data), then the files' bytes in chunks, then an empty final message.

The stream's key is blake2b(seed, person "coledger-backup"): only the agent's key opens it;
a frame changed, dropped, reordered, or the end cut off fails its authentication. Every
length and name read from the file is bounded and checked before it is used.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import nacl.bindings as sodium
import nacl.encoding
import nacl.exceptions
import nacl.hash

from node.core.errors import CoreError, LocalError
from node.core.identity import AgentId, AgentKey
from node.store.keyfile import read_key_file
from node.store.sqlite import RESTORED_META, chain_length, open_store

MAGIC: Final = b"coledger backup\n"
FORMAT: Final = 1
CIPHER: Final = "xchacha20poly1305-secretstream, key blake2b-256(seed, person coledger-backup)"
CHUNK: Final = 1 << 20
"""Plaintext bytes of one frame (the last of a file may be shorter)."""
MAX_HEADER: Final = 64 * 1024
MAX_FILES: Final = 64
KEY_FILE: Final = "agent.key"
COPIED: Final = ("network.json", "config.toml")
"""The home's files copied as they are (the databases are snapshotted, the key goes in
the header); a lock, a socket or a log is not part of a home's state."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ABYTES: Final = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
_FINAL: Final = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
_MESSAGE: Final = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE

PassphraseSource = Callable[[], str]


class BackupRefused(LocalError):
    """A backup file that cannot be restored: not one, damaged, cut short, not this key's."""


@dataclass(frozen=True, slots=True)
class BackupHeader:
    agent_id: AgentId
    name: str | None
    created_us: int
    key_file: bytes
    raw: bytes  # (the header line as written: the stream's associated data)


def stream_key(key: AgentKey) -> bytes:
    """The backup's symmetric key, derived from the agent's secret seed."""
    return nacl.hash.blake2b(b"backup", key=key.seed, digest_size=32,
                             person=b"coledger-backup", encoder=nacl.encoding.RawEncoder)


# -- taking a backup ---------------------------------------------------------------------


def snapshot_db(source: Path, target: Path) -> None:
    """A consistent copy of the database at `source` in `target`, while others write it:
    SQLite's online backup in one step (one read transaction)."""
    try:
        src = sqlite3.connect(source, timeout=10.0)  # (reads only; -shm may need creating)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode=DELETE")  # (one file, no -wal beside it)
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as e:
        raise LocalError(f"cannot take a snapshot of {source}: {e}") from None


def write_backup(home: Path, key: AgentKey, name: str | None, target: Path) -> dict[str, Any]:
    """Snapshot `home` and write it, encrypted, to `target` (0600, atomically: a crash
    leaves the old file or none, never half of one). What was written."""
    home, target = Path(home).resolve(), Path(target).absolute()
    if target.resolve().parent == home:
        raise LocalError(f"{target} is inside the home it backs up: write the backup elsewhere")
    staging = _private_dir(home)
    try:
        files: list[tuple[str, Path]] = []
        for db in sorted(home.glob("*.db")):
            copy = staging / db.name
            snapshot_db(db, copy)
            files.append((db.name, copy))
        files += [(n, home / n) for n in COPIED if (home / n).is_file()]
        length = chain_length(staging / "coledger.db") if (staging / "coledger.db").exists() \
            else 0
        header = json.dumps({
            "format": FORMAT, "agent_id": str(key.agent_id), "name": name,
            "created_us": time.time_ns() // 1000, "cipher": CIPHER,
            "key_file": json.loads((home / KEY_FILE).read_bytes()),
        }, separators=(",", ":")).encode() + b"\n"
        sizes = [(n, p.stat().st_size) for n, p in files]
        with _atomic(target) as out:
            out.write(MAGIC + header)
            state = sodium.crypto_secretstream_xchacha20poly1305_state()
            out.write(sodium.crypto_secretstream_xchacha20poly1305_init_push(
                state, stream_key(key)))
            manifest = json.dumps({"files": [{"name": n, "size": s} for n, s in sizes]})
            _push(out, state, manifest.encode(), header)
            for _, path in files:
                with open(path, "rb") as f:
                    while chunk := f.read(CHUNK):
                        _push(out, state, chunk)
            _push(out, state, b"", tag=_FINAL)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"file": str(target), "agent_id": str(key.agent_id), "head_seq": length - 1,
            "files": [n for n, _ in sizes] + [KEY_FILE], "bytes": target.stat().st_size}


def _push(out: IO[bytes], state: Any, message: bytes, aad: bytes | None = None,
          tag: int = _MESSAGE) -> None:
    frame = sodium.crypto_secretstream_xchacha20poly1305_push(state, message, aad, tag)
    out.write(struct.pack(">I", len(frame)) + frame)


def _private_dir(home: Path) -> Path:
    """A fresh directory only we may read, in the home (same disk, already private); the
    snapshots a killed backup left behind are removed first."""
    for old in home.glob(".backup-*-*"):
        pid = old.name.split("-")[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    path = home / f".backup-{os.getpid()}-{time.monotonic_ns()}"
    try:
        path.mkdir(mode=0o700)
    except OSError as e:
        raise LocalError(f"cannot write a snapshot in {home}: {e.strerror or e}") from None
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # (another user's process: alive)
        return True
    return True


@contextmanager
def _atomic(target: Path) -> Iterator[IO[bytes]]:
    """A new file that replaces `target` only once fully written and on disk (mode 0600)."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_dir(target.parent)


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- reading one -------------------------------------------------------------------------


def read_header(f: IO[bytes], source: Path) -> BackupHeader:
    """The backup's header, checked; BackupRefused if `f` is not a coledger backup."""
    if f.read(len(MAGIC)) != MAGIC:
        raise BackupRefused(f"{source} is not a coledger backup")
    raw = f.readline(MAX_HEADER)
    try:
        doc = json.loads(raw)
        assert isinstance(doc, dict) and raw.endswith(b"\n")
        version = doc.get("format")
        if version != FORMAT:
            raise BackupRefused(f"{source} is a backup of format {version}; this coledger"
                                f" reads format {FORMAT}: upgrade coledger")
        agent = AgentId.parse(str(doc["agent_id"]))
        created, name = doc["created_us"], doc.get("name")
        key_file = json.dumps(doc["key_file"], indent=2).encode() + b"\n"
        assert type(created) is int and isinstance(doc["key_file"], dict)
    except (ValueError, KeyError, AssertionError, TypeError, CoreError) as e:
        if isinstance(e, BackupRefused):
            raise
        raise BackupRefused(f"{source} is damaged: its header is not a backup's") from None
    return BackupHeader(agent, name if isinstance(name, str) else None, created, key_file, raw)


class _Frames:
    """The decrypted messages of a backup's stream, each checked as it is read."""

    def __init__(self, f: IO[bytes], key: bytes, source: Path) -> None:
        self.f, self.source = f, source
        self.state = sodium.crypto_secretstream_xchacha20poly1305_state()
        head = f.read(sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES)
        try:
            sodium.crypto_secretstream_xchacha20poly1305_init_pull(self.state, head, key)
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            raise self.cut() from None
        self.ended = False

    def cut(self) -> BackupRefused:
        return BackupRefused(f"{self.source} is damaged or cut short: nothing was restored")

    def next(self, aad: bytes | None = None, first: bool = False) -> bytes:
        size_bytes = self.f.read(4)
        if len(size_bytes) < 4 or self.ended:
            raise self.cut()
        (size,) = struct.unpack(">I", size_bytes)
        if not _ABYTES <= size <= CHUNK + _ABYTES:
            raise self.cut()
        frame = self.f.read(size)
        if len(frame) != size:
            raise self.cut()
        try:
            message, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                self.state, frame, aad)
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            if first:
                raise BackupRefused(
                    f"{self.source} does not open with the key it carries (it was not written"
                    " with this agent's key, or it is damaged): nothing was restored") from None
            raise self.cut() from None
        self.ended = tag == _FINAL
        return bytes(message)


def _manifest(raw: bytes, source: Path) -> list[tuple[str, int]]:
    try:
        files = json.loads(raw)["files"]
        out = [(str(f["name"]), f["size"]) for f in files]
        assert len(out) <= MAX_FILES and len({n for n, _ in out}) == len(out)
        assert all(_NAME.fullmatch(n) and n != KEY_FILE and type(s) is int and s >= 0
                   for n, s in out)
    except (ValueError, KeyError, TypeError, AssertionError):
        raise BackupRefused(f"{source} is damaged: its list of files is malformed") from None
    return out


# -- restoring ---------------------------------------------------------------------------


def restore_backup(source: Path, home: Path, passphrase: PassphraseSource) -> dict[str, Any]:
    """Restore the backup at `source` into `home`, which must be empty or absent; the key
    is opened with the passphrase. The home is marked restored: it writes nothing until its
    node has compared its chain with the network (node/runtime/recovery.py). All or
    nothing: the files are written beside the home and moved in at the end."""
    home = Path(home).absolute()
    if home.exists() and (not home.is_dir() or any(home.iterdir())):
        raise LocalError(f"{home} is not empty: restore only into an empty or new home")
    try:
        f = open(source, "rb")  # noqa: SIM115 (closed below)
    except OSError as e:
        raise LocalError(f"cannot read {source}: {e.strerror or e}") from None
    staging = home.with_name(f".{home.name}.restoring-{os.getpid()}")
    try:
        with f:
            header = read_header(f, source)
            home.parent.mkdir(parents=True, exist_ok=True)
            staging.mkdir(mode=0o700)
            key_path = staging / KEY_FILE
            _write_new(key_path, [header.key_file])
            key = read_key_file(key_path, passphrase())
            if key.agent_id != header.agent_id:
                raise BackupRefused(f"{source} is damaged: its key is not agent"
                                    f" {header.agent_id}")
            frames = _Frames(f, stream_key(key), source)
            files = _manifest(frames.next(header.raw, first=True), source)
            for name, size in files:
                _write_new(staging / name, _chunks(frames, size))
            if frames.next() != b"" or not frames.ended or f.read(1):
                raise frames.cut()
        length = _mark_restored(staging, header)
        _sync_dir(staging)
        if home.exists():
            home.rmdir()  # (empty: checked above)
        os.rename(staging, home)
        _sync_dir(home.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {"home": str(home), "agent_id": str(header.agent_id), "name": header.name,
            "created_us": header.created_us, "head_seq": length - 1,
            "files": [KEY_FILE, *(n for n, _ in files)]}


def _chunks(frames: _Frames, size: int) -> Iterator[bytes]:
    left = size
    while left > 0:
        chunk = frames.next()
        if len(chunk) > left or frames.ended:
            raise frames.cut()
        left -= len(chunk)
        yield chunk


def _write_new(path: Path, chunks: Iterator[bytes] | list[bytes]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        for chunk in chunks:
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())


def _mark_restored(staging: Path, header: BackupHeader) -> int:
    """Mark the restored database unchecked (RESTORED_META); its chain's length."""
    db = staging / "coledger.db"
    if not db.exists():
        raise BackupRefused("the backup holds no coledger.db: nothing was restored")
    mark = json.dumps({"backup_created_us": header.created_us,
                       "restored_us": time.time_ns() // 1000}).encode()
    with open_store(db) as store:
        store.set_meta(RESTORED_META, mark)
    return chain_length(db)
