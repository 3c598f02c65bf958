"""`coledger service install`: the node as a systemd service, its unit (Type=notify: the
node's sd_notify is node/service.py's; Restart=on-failure; the passphrase from a systemd
credential)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from clicmd.common import OPTS, arg, command, emit
from node.core.errors import LocalError
from node.service import CREDENTIAL, START_TIMEOUT_S, STOP_TIMEOUT_S, unit_path


@command("service install",
         arg("--user", dest="system", action="store_false", default=False,
             help="a unit of this user's systemd (~/.config/systemd/user) [the default]"),
         arg("--system", dest="system", action="store_true",
             help="a unit of the system's systemd (/etc/systemd/system; needs root)"),
         arg("--credential", type=Path, metavar="FILE",
             help="the file holding the passphrase, which systemd hands the node "
                  "(LoadCredential=) [/etc/credstore/coledger.passphrase for --system, "
                  "~/.config/coledger/passphrase for --user]"),
         arg("--run-as", metavar="USER",
             help="the user a --system unit runs as [$SUDO_USER, else this user]"),
         arg("--out", type=Path, metavar="FILE", help="write the unit here instead"),
         arg("--print", dest="show", action="store_true",
             help="print the unit instead of writing it"))
def cmd_service_install(a: argparse.Namespace) -> None:
    """Write a systemd unit that runs this home's node (`coledger run`): started at boot
    (--system) or login (--user), restarted on failure, stopped cleanly, ready when it
    listens (Type=notify); the passphrase comes from a credential file (see
    docs/operations.md, "Running as a service")."""
    home = OPTS.home.expanduser().absolute()
    credential = a.credential or (
        Path("/etc/credstore/coledger.passphrase") if a.system
        else Path.home() / ".config" / "coledger" / "passphrase")
    user = (a.run_as or os.environ.get("SUDO_USER") or _login()) if a.system else None
    req = UnitRequest(command=_coledger(), home=home,
                      credential=credential.expanduser().absolute(), system=a.system,
                      user=user)
    text = unit_text(req)
    if a.show:
        print(text, end="")
        return
    path = a.out or unit_path(a.system)
    _write(path, text)
    scope = "" if a.system else " --user"
    emit({"unit": str(path), "credential": str(req.credential), "system": a.system},
         f"wrote {path}\n"
         f"put the passphrase in {req.credential} (mode 0600), then:\n"
         f"  systemctl{scope} daemon-reload\n"
         f"  systemctl{scope} enable --now {path.name}")


def _coledger() -> tuple[str, ...]:
    """The command that runs coledger now: this Python and cli.py when run as a script,
    else the installed `coledger` executable."""
    script = Path(sys.argv[0]).absolute()
    if script.name == "cli.py":
        return (sys.executable, str(script))
    import shutil

    found = shutil.which("coledger") or shutil.which(sys.argv[0])
    if found is None:
        return (sys.executable, "-m", "cli")
    return (str(Path(found).absolute()),)


def _login() -> str:
    import getpass

    return getpass.getuser()


def _write(path: Path, text: str) -> None:
    """Write the unit atomically (a temporary file renamed over it)."""
    if path.name in ("", ".", "..") or path.is_dir():
        raise LocalError(f"cannot write the unit to {str(path) or repr('')}: give a file, "
                         "not a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    except PermissionError:
        raise LocalError(f"cannot write {path}: permission denied (a --system unit needs "
                         "root; or give --out)") from None


@dataclass(frozen=True, slots=True)
class UnitRequest:
    """What a unit runs: `command` (the coledger executable and its first words), the
    home (whose config.toml the node reads), the credential file holding the passphrase,
    and for a system unit the user it runs as."""

    command: tuple[str, ...]
    home: Path
    credential: Path
    system: bool
    user: str | None = None


def unit_text(req: UnitRequest) -> str:
    """The systemd unit of the node for `req` (Type=notify, restarted on failure)."""
    words = [*req.command, "--home", str(req.home), "run", "--passphrase-file", f"%d/{CREDENTIAL}"]
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




def _escaped(text: str) -> str:
    """`text` with systemd's specifier character doubled (a literal `%`)."""
    return text.replace("%", "%%")


def _exec_line(words: list[str]) -> str:
    """ExecStart's command line: each word quoted as a shell would (systemd's own rules
    agree for these), `%` and `$` doubled (no specifier, no variable) except in the
    credential's `%d`."""
    return " ".join(w if w.startswith("%d/") else shlex.quote(_escaped(w).replace("$", "$$"))
                    for w in words)
