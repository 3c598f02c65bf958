"""The node as a systemd service: sd_notify (READY=1 once the node listens and serves its
socket, STOPPING=1 when it is told to stop), and where a unit goes and the timeouts it
gives (the command line writes the unit: clicmd/service.py).

sd_notify is the datagram systemd's documentation describes (sd_notify(3)): one
`KEY=VALUE` line per state to the socket named by $NOTIFY_SOCKET ("@" for the abstract
namespace); without $NOTIFY_SOCKET (not under systemd) nothing is sent. Stdlib only.
"""

from __future__ import annotations

import os
import socket
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


def unit_path(system: bool) -> Path:
    """Where a user's (~/.config/systemd/user) or the system's (/etc/systemd/system)
    unit goes."""
    if system:
        return Path("/etc/systemd/system") / UNIT_NAME
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "systemd" / "user" / UNIT_NAME
