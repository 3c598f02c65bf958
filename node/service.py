"""The node as a systemd service: the unit `coledger service install` writes, and sd_notify
(READY=1 once the node listens and serves its socket, STOPPING=1 when it is told to stop).

sd_notify is the datagram systemd's documentation describes (sd_notify(3)): one
`KEY=VALUE` line per state to the socket named by $NOTIFY_SOCKET ("@" for the abstract
namespace); without $NOTIFY_SOCKET (not under systemd) nothing is sent. Stdlib only.
"""

from __future__ import annotations

import os
import shlex
import socket
from dataclasses import dataclass
from pathlib import Path

CREDENTIAL = "passphrase"
"""The credential's name in the unit (LoadCredential=passphrase:FILE, read as %d/passphrase)."""
STOP_TIMEOUT_S = 30
"""TimeoutStopSec: the node stops well within it (its loops cancelled, the socket removed)."""
START_TIMEOUT_S = 180
"""TimeoutStartSec: unlocking the key (argon2id) and joining the network come first."""
UNIT_NAME = "coledger.service"


def sd_notify(state: str) -> bool:
    """Tell systemd `state` (e.g. "READY=1"); False when not run by systemd or when the
    socket cannot be reached (a service manager gone is no reason to stop the node)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address or address[0] not in "@/":
        return False
    target = "\0" + address[1:] if address[0] == "@" else address
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(target)
            sock.sendall(state.encode())
    except OSError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class UnitRequest:
    """What a unit runs: `command` (the coledger executable and its first words), the
    home, a config file (or None: the home's), the credential file holding the passphrase,
    and for a system unit the user it runs as."""

    command: tuple[str, ...]
    home: Path
    config: Path | None
    credential: Path
    system: bool
    user: str | None = None


def unit_text(req: UnitRequest) -> str:
    """The systemd unit of the node for `req` (Type=notify, restarted on failure)."""
    words = [*req.command, "--home", str(req.home)]
    if req.config is not None:
        words += ["--config", str(req.config)]
    words += ["run", "--passphrase-file", f"%d/{CREDENTIAL}"]
    service = [
        "Type=notify",
        "NotifyAccess=main",
        f"ExecStart={_exec_line(words)}",
        f"LoadCredential={CREDENTIAL}:{_escaped(str(req.credential))}",
        "Environment=PYTHONUNBUFFERED=1",
        "Restart=on-failure",
        "RestartSec=5",
        f"TimeoutStartSec={START_TIMEOUT_S}",
        f"TimeoutStopSec={STOP_TIMEOUT_S}",
        "KillSignal=SIGTERM",
        "KillMode=mixed",
    ]
    if req.system and req.user:
        service.append(f"User={req.user}")
    wanted = "multi-user.target" if req.system else "default.target"
    return "\n".join([
        "# Written by `coledger service install`: the coledger node of this home.",
        "[Unit]",
        f"Description=coledger node ({_escaped(str(req.home))})",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        *service,
        "",
        "[Install]",
        f"WantedBy={wanted}",
        "",
    ])


def unit_path(system: bool) -> Path:
    """Where a user's (~/.config/systemd/user) or the system's (/etc/systemd/system)
    unit goes."""
    if system:
        return Path("/etc/systemd/system") / UNIT_NAME
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "systemd" / "user" / UNIT_NAME


def _escaped(text: str) -> str:
    """`text` with systemd's specifier character doubled (a literal `%`)."""
    return text.replace("%", "%%")


def _exec_line(words: list[str]) -> str:
    """ExecStart's command line: each word quoted as a shell would (systemd's own rules
    agree for these), `%` and `$` doubled (no specifier, no variable) except in the
    credential's `%d`."""
    return " ".join(w if w.startswith("%d/") else shlex.quote(_escaped(w).replace("$", "$$"))
                    for w in words)
