"""The HTTP token kept in the home (`http-token`, mode 0600): made on first use, rotated
on demand. Whoever holds it reads and writes through the node's HTTP API and pages."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from node.core.errors import LocalError
from node.core.refusals import NoKey

TOKEN_FILE = "http-token"


def token_path(home: Path) -> Path:
    return Path(home) / TOKEN_FILE


def http_token(home: Path, *, rotate: bool = False) -> str:
    """The home's token: read, or made (32 random bytes, URL-safe) when missing or `rotate`d."""
    path = token_path(home)
    if not rotate:
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            text = ""
        except OSError as e:
            raise LocalError(f"cannot read {path}: {e.strerror or e}") from None
        if text:
            return text
    if not Path(home).is_dir():
        raise NoKey(f"no agent key at {home}")
    token = secrets.token_urlsafe(32)
    fresh = path.with_name(f".{TOKEN_FILE}.{secrets.token_hex(4)}")
    try:  # written aside with mode 0600 from the start, then put in place at once
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        os.replace(fresh, path)
    except OSError as e:
        fresh.unlink(missing_ok=True)
        raise LocalError(f"cannot write {path}: {e.strerror or e}") from None
    return token
