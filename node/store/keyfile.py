"""The agent's key file: the Ed25519 seed encrypted at rest (argon2id + XSalsa20-Poly1305).

The file is JSON so a person can see which agent it holds; only the seed is secret.
Written with mode 0600 via a temporary file and an atomic rename. A short check value
derived from the passphrase (not the secretbox key) tells a wrong passphrase from a
damaged ciphertext; each failure to read the file says which it is.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils

from node.core.errors import CoreError, LocalError, WrongPassphrase
from node.core.identity import AgentId, AgentKey
from node.core.refusals import NoKey

FORMAT_VERSION = 1
# Above OWASP's argon2id minimum (19 MiB, t=2); kept in the file so it can be raised.
OPSLIMIT = 2
MEMLIMIT = 32 * 1024 * 1024
# nonce + Poly1305 tag + the 32-byte Ed25519 seed
_SEALED_SIZE = nacl.secret.SecretBox.NONCE_SIZE + nacl.secret.SecretBox.MACBYTES + 32


@dataclass(frozen=True, slots=True)
class KeyFileInfo:
    """The public part of a key file, readable without the passphrase."""

    agent_id: AgentId
    name: str | None


_RESTORE = "restore it from a backup"


def _check_value(secret: bytes) -> str:
    """A value that shows the passphrase was right without revealing the box key."""
    return hashlib.blake2b(secret, digest_size=16, person=b"coledger-keychk").hexdigest()


def _derive(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    return nacl.pwhash.argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE,
        passphrase.encode("utf-8"),
        salt,
        opslimit=opslimit,
        memlimit=memlimit,
    )


def write_key_file(
    path: Path, key: AgentKey, passphrase: str, name: str | None,
    *, opslimit: int = OPSLIMIT, memlimit: int = MEMLIMIT,
) -> None:
    """Encrypt `key` under `passphrase` and write it atomically with mode 0600.

    The KDF cost is stored in the file; only simulations lower it (node.testing)."""
    if not passphrase:
        raise LocalError("the passphrase must not be empty")
    salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
    secret = _derive(passphrase, salt, opslimit, memlimit)
    box = nacl.secret.SecretBox(secret)
    doc = {
        "version": FORMAT_VERSION,
        "agent_id": str(key.agent_id),
        "name": name,
        "kdf": {
            "alg": "argon2id13", "opslimit": opslimit, "memlimit": memlimit, "salt": salt.hex()
        },
        "secretbox": bytes(box.encrypt(key.seed)).hex(),
        "check": _check_value(secret),
    }
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power loss
    finally:
        os.close(dir_fd)


def _load(path: Path) -> dict[str, object]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise NoKey(f"no agent key at {path}") from None
    except OSError as e:
        raise LocalError(f"key file {path} is unreadable ({e.strerror or e})") from None
    if not raw.strip():
        raise LocalError(f"key file {path} is empty ({len(raw)} bytes): it was truncated; "
                         + _RESTORE)
    try:
        doc = json.loads(raw)
    except ValueError:
        raise LocalError(f"key file {path} is damaged (truncated or overwritten: it is not "
                         "the JSON coledger writes); " + _RESTORE) from None
    if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION:
        raise LocalError(f"key file {path} is not a coledger key file (version {FORMAT_VERSION})")
    return doc


def _damaged(path: Path, what: str) -> LocalError:
    return LocalError(f"key file {path} is damaged ({what}); " + _RESTORE)


def read_key_info(path: Path) -> KeyFileInfo:
    doc = _load(path)
    name = doc.get("name")
    try:
        agent_id = AgentId.parse(str(doc["agent_id"]))
    except (KeyError, CoreError):
        raise _damaged(path, "its agent_id is missing or not an agent id") from None
    return KeyFileInfo(agent_id, name if isinstance(name, str) else None)


def read_key_file(path: Path, passphrase: str) -> AgentKey:
    """Decrypt the key; WrongPassphrase if the passphrase is wrong, LocalError saying how
    the file is damaged otherwise."""
    doc = _load(path)
    try:
        kdf = doc["kdf"]
        assert isinstance(kdf, dict) and kdf["alg"] == "argon2id13"
        salt, opslimit, memlimit = bytes.fromhex(kdf["salt"]), kdf["opslimit"], kdf["memlimit"]
        sealed = bytes.fromhex(str(doc["secretbox"]))
        # bounds, so a damaged number cannot make argon2id take minutes or gigabytes
        assert type(opslimit) is int and 1 <= opslimit <= 64
        assert type(memlimit) is int and 8192 <= memlimit <= 4 << 30
    except (KeyError, AssertionError, ValueError, TypeError):
        raise _damaged(path, "its kdf or secretbox field is missing or malformed") from None
    if len(sealed) != _SEALED_SIZE:
        raise _damaged(path, f"the sealed key is {len(sealed)} bytes, not {_SEALED_SIZE}")
    try:
        secret = _derive(passphrase, salt, opslimit, memlimit)
    except (ValueError, TypeError, nacl.exceptions.CryptoError):
        raise _damaged(path, "its kdf parameters are invalid") from None
    check = doc.get("check")
    try:
        seed = nacl.secret.SecretBox(secret).decrypt(sealed)
    except nacl.exceptions.CryptoError:
        if isinstance(check, str) and check == _check_value(secret):
            raise _damaged(path, "the passphrase is right but the sealed key fails its "
                                 "authentication") from None
        if check is None:
            raise WrongPassphrase("wrong passphrase for this agent's key (or a damaged key "
                                  "file: it is too old to tell which)") from None
        raise WrongPassphrase("wrong passphrase for this agent's key") from None
    key = AgentKey(seed)
    if str(key.agent_id) != doc.get("agent_id"):
        raise _damaged(path, f"the key is not agent {doc.get('agent_id')}")
    return key


def rewrap_key_file(path: Path, old: str, new: str) -> AgentKey:
    """Encrypt the key at `path` under `new` (WrongPassphrase if `old` is wrong), its name
    and KDF cost kept; written as `write_key_file` writes, so a crash before the rename
    leaves the old file whole, readable with `old`."""
    key = read_key_file(path, old)
    doc = _load(path)
    kdf = doc["kdf"]
    assert isinstance(kdf, dict)  # (read_key_file checked it)
    name = doc.get("name")
    write_key_file(path, key, new, name if isinstance(name, str) else None,
                   opslimit=kdf["opslimit"], memlimit=kdf["memlimit"])
    return key
