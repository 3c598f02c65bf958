"""The agent's key file: the Ed25519 seed encrypted at rest (argon2id + XSalsa20-Poly1305).

The file is JSON so a person can see which agent it holds; only the seed is secret.
Written with mode 0600 via a temporary file and an atomic rename.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils

from node.core.errors import LocalError, NotFound, WrongPassphrase
from node.core.identity import AgentId, AgentKey

FORMAT_VERSION = 1
# Above OWASP's argon2id minimum (19 MiB, t=2); kept in the file so it can be raised.
OPSLIMIT = 2
MEMLIMIT = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class KeyFileInfo:
    """The public part of a key file, readable without the passphrase."""

    agent_id: AgentId
    name: str | None


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
    box = nacl.secret.SecretBox(_derive(passphrase, salt, opslimit, memlimit))
    doc = {
        "version": FORMAT_VERSION,
        "agent_id": str(key.agent_id),
        "name": name,
        "kdf": {
            "alg": "argon2id13", "opslimit": opslimit, "memlimit": memlimit, "salt": salt.hex()
        },
        "secretbox": bytes(box.encrypt(key.seed)).hex(),
    }
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _load(path: Path) -> dict[str, object]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise NotFound(f"no agent key at {path}: run `coledger init` first") from None
    except (OSError, ValueError) as e:
        raise LocalError(f"cannot read key file {path}: {e}") from None
    if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION:
        raise LocalError(f"key file {path} is not a coledger key file (version {FORMAT_VERSION})")
    return doc


def read_key_info(path: Path) -> KeyFileInfo:
    doc = _load(path)
    name = doc.get("name")
    return KeyFileInfo(AgentId.parse(str(doc["agent_id"])), name if isinstance(name, str) else None)


def read_key_file(path: Path, passphrase: str) -> AgentKey:
    """Decrypt the key; WrongPassphrase if it does not open, LocalError if it is damaged."""
    doc = _load(path)
    try:
        kdf = doc["kdf"]
        assert isinstance(kdf, dict) and kdf["alg"] == "argon2id13"
        secret = _derive(passphrase, bytes.fromhex(kdf["salt"]), kdf["opslimit"], kdf["memlimit"])
        sealed = bytes.fromhex(str(doc["secretbox"]))
    except (KeyError, AssertionError, ValueError, TypeError) as e:
        raise LocalError(f"key file {path} is damaged: {e}") from None
    try:
        seed = nacl.secret.SecretBox(secret).decrypt(sealed)
    except nacl.exceptions.CryptoError:
        raise WrongPassphrase("wrong passphrase for this agent's key") from None
    key = AgentKey(seed)
    if str(key.agent_id) != doc["agent_id"]:
        raise LocalError(f"key file {path} is damaged: the key is not agent {doc['agent_id']}")
    return key
