"""The `coledger` command: parses arguments and calls node.api; prints text or --json.

Errors are one line on stderr and a non-zero exit (a traceback only with --debug).
Heavy imports (libp2p, pint, rich) happen inside the commands that need them.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from node.core.errors import CoreError, LocalError

app = typer.Typer(
    help="coledger: an agent-centric ledger of ValueFlows economic events for cooperatives.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
chain_app = typer.Typer(help="This agent's source chain.", no_args_is_help=True)
network_app = typer.Typer(help="Networks (DNAs) this agent creates or joins.", no_args_is_help=True)
app.add_typer(chain_app, name="chain")
app.add_typer(network_app, name="network")


@dataclass
class Options:
    home: Path
    json: bool
    debug: bool


OPTS = Options(home=Path("."), json=False, debug=False)


@app.callback()
def _global(
    home: Annotated[
        Path | None,
        typer.Option(help="Agent home directory [default: $COLEDGER_HOME or ~/.coledger]"),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks on errors.")] = False,
) -> None:
    from node.api import default_home

    OPTS.home = home if home is not None else default_home()
    OPTS.json = json_out
    OPTS.debug = debug


# -- helpers -------------------------------------------------------------------


def emit(data: Any, text: str | None = None) -> None:
    """Print `data` as JSON under --json, else `text` (or the JSON if no text)."""
    if OPTS.json or text is None:
        print(json.dumps(data, indent=2, sort_keys=False))
    else:
        print(text)


def passphrase() -> str:
    """From COLEDGER_PASSPHRASE, else a prompt when there is a terminal."""
    env = os.environ.get("COLEDGER_PASSPHRASE")
    if env is not None:
        return env
    if not sys.stdin.isatty():
        raise LocalError("no passphrase: set COLEDGER_PASSPHRASE or run in a terminal")
    import getpass

    return getpass.getpass("Passphrase: ")


def new_passphrase() -> str:
    env = os.environ.get("COLEDGER_PASSPHRASE")
    if env is not None:
        return env
    if not sys.stdin.isatty():
        raise LocalError("no passphrase: set COLEDGER_PASSPHRASE or run in a terminal")
    import getpass

    first = getpass.getpass("New passphrase: ")
    if first != getpass.getpass("Repeat passphrase: "):
        raise LocalError("the passphrases differ")
    return first


def agent():  # type: ignore[no-untyped-def]
    from node.api import open_agent

    return open_agent(OPTS.home, passphrase)


def parse_address(text: str):  # type: ignore[no-untyped-def]
    from node.core.cid import Cid

    return Cid.parse(text)


# -- commands --------------------------------------------------------------------


@app.command()
def init(
    name: Annotated[str | None, typer.Option(help="A name for this agent (a cooperative, a person).")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing agent in this home (destroys it).")] = False,
) -> None:
    """Create this agent's key and home; print its agent id."""
    from node.api import init_home

    agent_id = init_home(OPTS.home, new_passphrase(), name, force=force)
    emit({"agent_id": str(agent_id), "home": str(OPTS.home), "name": name}, str(agent_id))


@chain_app.command("show")
def chain_show(
    limit: Annotated[int | None, typer.Option(help="Show only the last N actions.")] = None,
) -> None:
    """List the actions of this agent's chain."""
    from node.core.jsonview import record_json

    with agent() as a:
        head = a.head()
        start = 0 if head is None or limit is None else max(0, head.seq - limit + 1)
        records = [record_json(r) for r in a.store.records(start=start)]
    lines = [
        f"{r['action']['seq']:>6}  {r['action']['type']:<18} {r['address']}"
        + (f"  {r['action']['entry_type']}" if "entry_type" in r["action"] else "")
        for r in records
    ]
    emit(records, "\n".join(lines) if lines else "(empty chain)")


@chain_app.command("verify")
def chain_verify() -> None:
    """Verify every link and signature of this agent's chain."""
    with agent() as a:
        head = a.verify()
    data = {"ok": True, "length": 0 if head is None else head.seq + 1, "head": head and str(head.address)}
    emit(data, f"ok: {data['length']} actions verified" + (f", head {head.address}" if head else ""))


@app.command()
def get(
    address: Annotated[str, typer.Argument(help="An action or entry address (bafy...).")],
    format: Annotated[str, typer.Option("--format", help="text, json or cbor (raw stored bytes).")] = "text",
) -> None:
    """Show a record (by action address) or an entry (by entry address)."""
    from node.core.jsonview import jsonable, record_json
    from node.core.records import Record

    if format not in ("text", "json", "cbor"):
        raise LocalError(f"unknown --format {format!r}: use text, json or cbor")
    cid = parse_address(address)
    with agent() as a:
        found = a.get(cid)
    if format == "cbor":
        data = found.signed.data if isinstance(found, Record) else found.data
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    view = record_json(found) if isinstance(found, Record) else {"entry_address": str(found.address), "entry": jsonable(found.value)}
    if format == "json":
        OPTS.json = True
    emit(view, _render_record(view))


def _render_record(view: dict[str, Any]) -> str:
    lines = []
    if "address" in view:
        lines.append(f"action {view['address']}")
        for k, v in view["action"].items():
            lines.append(f"  {k}: {v}")
    if "entry" in view:
        lines.append(f"entry {view['entry_address']}")
        lines.append("  " + json.dumps(view["entry"], indent=2).replace("\n", "\n  "))
    return "\n".join(lines)


def _parse_properties(pairs: list[str]) -> dict[str, str]:
    props = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise LocalError(f"--property takes KEY=VALUE, got {pair!r}")
        props[key] = value
    return props


@network_app.command("create")
def network_create(
    name: Annotated[str, typer.Argument(help="The network's name; writes NAME.network.json.")],
    property: Annotated[list[str], typer.Option("--property", help="A network property KEY=VALUE (repeatable).")] = [],  # noqa: B006
    out: Annotated[Path | None, typer.Option(help="Where to write the network file [default: ./NAME.network.json].")] = None,
) -> None:
    """Create a network with this agent as progenitor, and join it (genesis)."""
    from node.membership import create_network

    props = _parse_properties(property)
    target = out if out is not None else Path(f"{name}.network.json")
    with agent() as a:
        dna = create_network(a, name, props, target)
    emit(
        {"network_id": str(dna.address), "name": name, "file": str(target), "progenitor": dna.progenitor},
        f"network {dna.address}\nwritten to {target}",
    )


def main() -> None:
    try:
        app()
    except CoreError as e:
        if OPTS.debug:
            raise
        print(f"coledger: error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("coledger: interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
