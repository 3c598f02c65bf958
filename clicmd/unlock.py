"""Unlock once: where `coledger run` takes its passphrase (a terminal, COLEDGER_PASSPHRASE,
a file descriptor, a file such as a systemd credential), and `coledger passphrase change`.

While the node runs, every write goes through it (node/client_writes.py): the passphrase
is typed once, when the node starts.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from clicmd.common import OPTS, arg, command, emit, passphrase
from node.core.errors import LocalError

MAX_PASSPHRASE = 64 * 1024
"""Bytes a passphrase file or descriptor may hold at most (a mistaken path read whole
would be read to no end)."""

PASSPHRASE_ARGS = (
    arg("--passphrase-fd", type=int, metavar="N",
        help="read the passphrase from file descriptor N (to its end; one trailing newline "
             "dropped), e.g. `3<secret`"),
    arg("--passphrase-file", type=Path, metavar="FILE",
        help="read the passphrase from FILE (a systemd credential: %%d/passphrase)"),
)
"""The flags of `run` that give the passphrase without a terminal or the environment."""


def run_passphrase(a: argparse.Namespace) -> Callable[[], str]:
    """The passphrase source `run` was given: --passphrase-fd, --passphrase-file, else
    COLEDGER_PASSPHRASE or the terminal. A descriptor or file is read now, once."""
    if a.passphrase_fd is not None and a.passphrase_file is not None:
        raise LocalError("give --passphrase-fd or --passphrase-file, not both")
    if a.passphrase_fd is not None:
        given = _from_fd(a.passphrase_fd)
    elif a.passphrase_file is not None:
        given = _from_file(a.passphrase_file)
    else:
        return passphrase
    return lambda: given


def _from_fd(fd: int) -> str:
    """The passphrase read from descriptor `fd` to its end (then closed)."""
    if fd < 0:
        raise LocalError(f"--passphrase-fd {fd}: not a file descriptor")
    try:
        with os.fdopen(fd, "rb", closefd=True) as f:
            data = f.read(MAX_PASSPHRASE + 1)
    except OSError as e:
        raise LocalError(f"--passphrase-fd {fd}: cannot read it ({e.strerror or e})") from None
    return _one_passphrase(data, f"--passphrase-fd {fd}")


def _from_file(path: Path, flag: str = "--passphrase-file") -> str:
    """The passphrase in the file at `path` (given with `flag`)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_PASSPHRASE + 1)
    except OSError as e:
        raise LocalError(f"{flag} {path}: cannot read it ({e.strerror or e})") from None
    return _one_passphrase(data, f"{flag} {path}")


def _one_passphrase(data: bytes, what: str) -> str:
    """The passphrase in `data`: UTF-8, one trailing line break dropped, not empty."""
    if len(data) > MAX_PASSPHRASE:
        raise LocalError(f"{what}: over {MAX_PASSPHRASE} bytes: not a passphrase")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise LocalError(f"{what}: not UTF-8 text") from None
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise LocalError(f"{what}: empty: no passphrase")
    return text


@command("passphrase change",
         arg("--new-passphrase-file", type=Path, metavar="FILE",
             help="read the new passphrase from FILE (else COLEDGER_NEW_PASSPHRASE, else "
                  "asked twice)"))
def cmd_passphrase_change(a: argparse.Namespace) -> None:
    """Encrypt this agent's key under a new passphrase (the old one asked first). The key
    file is replaced atomically: a crash leaves the old file, readable with the old
    passphrase. A running node keeps working: it holds the key it unlocked, which does not
    change; it asks the new passphrase at its next start."""
    from node.api import change_passphrase, node_running

    old = passphrase()
    new = _new_passphrase(a.new_passphrase_file)
    agent_id = change_passphrase(OPTS.home, old, new)
    running = node_running(OPTS.home)
    note = ("\nthe running node keeps its unlocked key; it asks the new passphrase at its "
            "next start" if running else "")
    emit({"agent_id": str(agent_id), "changed": True, "node_running": running},
         f"the key of {agent_id} is now encrypted under the new passphrase{note}")


def _new_passphrase(path: Path | None) -> str:
    """The new passphrase: from `path`, COLEDGER_NEW_PASSPHRASE, or asked twice."""
    if path is not None:
        return _from_file(path, "--new-passphrase-file")
    env = os.environ.get("COLEDGER_NEW_PASSPHRASE")
    if env is not None:
        return env
    if not sys.stdin.isatty():
        raise LocalError("no new passphrase: give --new-passphrase-file, set "
                         "COLEDGER_NEW_PASSPHRASE or run in a terminal")
    import getpass

    first = getpass.getpass("New passphrase: ")
    if first != getpass.getpass("Repeat new passphrase: "):
        raise LocalError("the new passphrases differ; nothing was changed")
    return first
