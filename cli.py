"""The `coledger` command: parses arguments, calls node.api / node.ledger, prints text or --json.

Errors are one line on stderr and a non-zero exit (a traceback only with --debug).
argparse (not typer) keeps a one-event command near 100 ms; heavy imports (libp2p,
pint) happen only inside the commands that need them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn, TypeVar

os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")  # skips an entry-point scan

from node.core.errors import CoreError, LocalError, NotFound  # noqa: E402

if TYPE_CHECKING:  # (imported where a command needs them: a command pays for what it uses)
    from node.ledger import Ledger
    from node.store.home import Agent

T = TypeVar("T")
Handler = Callable[[argparse.Namespace], None]


@dataclass
class Options:
    home: Path
    json: bool
    debug: bool


OPTS = Options(home=Path("."), json=False, debug=False)
_COMMANDS: list[tuple[str, Handler, list[tuple[tuple[str, ...], dict[str, Any]]]]] = []


def arg(*flags: str, **kw: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    return flags, kw


def command(
    path: str, *args: tuple[tuple[str, ...], dict[str, Any]]
) -> Callable[[Handler], Handler]:
    """Register `fn` as the command `path` (e.g. "chain show"); its docstring is the help."""

    def register(fn: Handler) -> Handler:
        _COMMANDS.append((path, fn, list(args)))
        return fn

    return register


# -- helpers -------------------------------------------------------------------


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e"
                      r"\u2060-\u206f\ufeff\ufff9-\ufffb]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(value: Any) -> str:
    """`value` as text safe for a terminal: control and format characters (escape codes,
    newlines, bidi overrides) from any chain shown escaped (`\\x1b`), never obeyed."""
    return _CONTROL.sub(_escape_char, "\\n".join(str(value).split("\n")))


def clean_lines(text: str) -> str:
    """Every line of an output made safe with `clean`, the line breaks kept: the last
    guard on every text output, whatever renderer made the text."""
    return "\n".join(clean(line) for line in text.split("\n"))


def iso_time(us: Any) -> Any:
    """Microseconds since the epoch as ISO 8601 UTC (what people read); other values as given."""
    if isinstance(us, bool) or not isinstance(us, int):
        return us
    from datetime import UTC, datetime

    try:
        return datetime.fromtimestamp(us / 1_000_000, UTC).isoformat(timespec="seconds")
    except (OverflowError, ValueError, OSError):
        return us


def _number(text: str, what: str, low: float, high: float, *, low_open: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of {what}") from None
    above = value > low if low_open else value >= low
    if not (above and value <= high):  # also refuses nan
        bound = "more than" if low_open else "at least"
        raise argparse.ArgumentTypeError(
            f"{text!r}: give {bound} {low:g} and at most {high:g} {what}")
    return value


def days(text: str) -> float:
    """An argparse type: days in (0, 36500]."""
    return _number(text, "days", 0, 36_500, low_open=True)


def seconds(text: str) -> float:
    """An argparse type: a duration in seconds, [0, one day]."""
    return _number(text, "seconds", 0, 86_400, low_open=False)


def interval(text: str) -> float:
    """An argparse type: a period in seconds, (0, one hour] (0 would spin)."""
    return _number(text, "seconds", 0, 3_600, low_open=True)


def count(text: str) -> int:
    """An argparse type: a whole number from 1 to 10 million."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 10_000_000:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number from 1 to 10000000")
    return value


def _multiaddr(text: str, *, peer: bool) -> str:
    from dht.libp2p_backend import multiaddr_problem

    problem = multiaddr_problem(text, peer=peer)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def listen_addr(text: str) -> str:
    """An argparse type: a multiaddr to listen on, /ip4|/ip6/ADDRESS/tcp/PORT."""
    return _multiaddr(text, peer=False)


def peer_addr(text: str) -> str:
    """An argparse type: a member's multiaddr ending in /p2p/<agent id>."""
    return _multiaddr(text, peer=True)


def emit(data: Any, text: str | None = None) -> None:
    """Print `data` as JSON under --json, else `text` (or the JSON if there is no text).
    A warning (a damaged chain) goes to stderr and, under --json, into a "warning" key (a
    list becomes {"warning": ..., "result": [...]})."""
    if WARNINGS:
        warning = "; ".join(WARNINGS)
        print(f"coledger: warning: {warning}", file=sys.stderr)
        if OPTS.json:
            data = dict(data, warning=warning) if isinstance(data, dict) else {
                "warning": warning, "result": data}
    if OPTS.json or text is None:
        print(json.dumps(data, indent=2))
    else:
        print(clean_lines(text))


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


def agent() -> AbstractContextManager[Agent]:
    from node.api import open_agent

    return _warned(open_agent(OPTS.home, passphrase), lambda ag: ag)


def ledger() -> AbstractContextManager[Ledger]:
    from node.ledger import open_ledger

    return _warned(open_ledger(OPTS.home, passphrase), lambda led: led.agent)


WARNINGS: list[str] = []


@contextmanager
def _warned(opened: AbstractContextManager[T], agent_of: Callable[[T], Agent]) -> Iterator[T]:
    """Yield what `opened` opens; keep its agent's warning (a damaged chain) for emit."""
    with opened as value:
        try:
            yield value
        finally:
            warning = agent_of(value).warning()
            if warning is not None and warning not in WARNINGS:
                WARNINGS.append(warning)


# -- identity, chain, records ------------------------------------------------------


@command("init", arg("--name", help="a name for this agent (a cooperative, a person)"),
         arg("--force", action="store_true",
             help="replace an existing agent in this home (destroys it)"))
def cmd_init(a: argparse.Namespace) -> None:
    """Create this agent's key and home; print its agent id."""
    from node.api import init_home

    agent_id = init_home(OPTS.home, new_passphrase(), a.name, force=a.force)
    emit({"agent_id": str(agent_id), "home": str(OPTS.home), "name": a.name}, str(agent_id))


@command("chain show", arg("--limit", type=count, help="show only the last N actions"))
def cmd_chain_show(a: argparse.Namespace) -> None:
    """List the actions of this agent's chain."""
    from node.core.jsonview import record_json

    with agent() as ag:
        head = ag.head()
        start = 0 if head is None or a.limit is None else max(0, head.seq - a.limit + 1)
        records = [record_json(r) for r in ag.store.records(start=start)]
    lines = [
        f"{r['action']['seq']:>6}  {r['action']['type']:<18} {r['address']}"
        + (f"  {clean(r['action']['entry_type'])}" if "entry_type" in r["action"] else "")
        + f"  {iso_time(r['action']['timestamp'])}"
        for r in records
    ]
    emit(records, "\n".join(lines) if lines else "(empty chain)")


@command("chain verify")
def cmd_chain_verify(a: argparse.Namespace) -> None:
    """Verify every link and signature of this agent's chain; name the first bad seq."""
    from node.store.behind import ChainBehind, behind_message, read_mark

    with agent() as ag:
        head = ag.verify()
        behind = read_mark(ag.store)
    length = 0 if head is None else head.seq + 1
    if behind is not None:  # valid, but the network holds more of it
        local = -1 if head is None else head.seq
        raise ChainBehind(f"{length} actions verify locally, but "
                          + behind_message(local, behind.network_seq))
    data = {"ok": True, "length": length, "head": str(head.address) if head else None}
    emit(data, f"ok: {length} actions verified" + (f", head {head.address}" if head else ""))


@command("chain recover",
         arg("--force", action="store_true",
             help="also drop actions of this chain that fork from the network's"),
         arg("--bootstrap", type=peer_addr, action="append", default=[], metavar="MULTIADDR",
             help="a member's address (when no node runs; the network file's are added)"),
         arg("--timeout", type=seconds, default=60.0,
             help="seconds to wait for members when no node runs [60]"))
def cmd_chain_recover(a: argparse.Namespace) -> None:
    """Fetch this chain's records back from the network (after a rollback: a restored
    backup, a damaged disk) and append the missing ones; print what was restored."""
    from node.runtime.socket_client import node_running

    if node_running(OPTS.home):
        result = _rpc_long("recover", a.timeout + 150, force=a.force)
    else:
        result = _recover_in_session(a.force, a.bootstrap, a.timeout)
    dropped = f", dropped {result['dropped']} of this chain's" if result.get("dropped") else ""
    emit(result, f"restored {result['restored']} records from the network{dropped};"
                 f" head seq {result['head_seq']}")


def _recover_in_session(force: bool, bootstrap: list[str], timeout: float) -> Any:
    """A short network session of this home's node, for `chain recover` (its log lines,
    such as "behind the network" on start, would only repeat what the result says)."""
    import logging

    import trio

    from node.runtime.conductor import open_node
    from node.runtime.progress import Progress

    async def main() -> Any:
        async with open_node(OPTS.home, passphrase, listen="/ip4/127.0.0.1/tcp/0",
                             bootstrap=bootstrap, rpc=False) as node:
            if not node.addresses:  # nobody to ask: say so now, not after the timeout
                return LocalError(
                    "no node runs for this home and no member's address is known: start"
                    " `coledger run`, or give a member's address with --bootstrap")
            with trio.move_on_after(timeout):
                while len(node.peers()) < 2:
                    await trio.sleep(0.2)
            with Progress("asking the network for this chain") as progress:
                try:
                    return await node.own_chain.recover(force, progress.update)
                except CoreError as e:
                    return e  # (raised out here, not inside the node's nursery)

    quiet = [] if OPTS.debug else [logging.getLogger(n) for n in ("coledger", "libp2p")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.CRITICAL)
    try:
        result = trio.run(main)
    except BaseExceptionGroup as group:  # (a failure to start, from the node's nursery)
        found = group.subgroup(CoreError)
        if found is None:
            raise
        first: BaseException = found
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    finally:  # (as they were: main() may be called again in this process, as tests do)
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)
    if isinstance(result, CoreError):
        raise result
    return result


def _rpc_long(method: str, timeout: float, **params: Any) -> Any:
    from node.runtime.socket_client import call

    return call(OPTS.home, method, timeout=timeout, **params)


@command("get", arg("address", help="an action or entry address (bafy...)"),
         arg("--format", dest="fmt", choices=("text", "json", "cbor"), default="text",
             help="text, json, or cbor: the exact stored DAG-CBOR bytes"))
def cmd_get(a: argparse.Namespace) -> None:
    """Show a record (by action address) or an entry (by entry address)."""
    from node.core.cid import Cid
    from node.core.jsonview import jsonable, record_json
    from node.core.records import Record

    try:
        cid = Cid.parse(a.address)
    except CoreError:
        raise LocalError(f"{a.address!r} is not an address (bafy...)") from None
    with agent() as ag:
        try:
            found = ag.get(cid)
        except NotFound:
            found = None
    if found is None:
        from node.runtime.socket_client import node_running

        if not node_running(OPTS.home):
            raise NotFound(
                f"nothing stored at {cid} here (start `coledger run` to look on the network)"
            )
        view = _rpc("get", address=str(cid))
        if a.fmt == "cbor":
            raise LocalError("--format cbor needs the record stored locally")
        emit(view, _render_record(view))
        return
    if a.fmt == "cbor":
        sys.stdout.buffer.write(found.signed.data if isinstance(found, Record) else found.data)
        sys.stdout.buffer.flush()
        return
    if isinstance(found, Record):
        view = record_json(found)
    else:
        view = {"entry_address": str(found.address), "entry": jsonable(found.value)}
    OPTS.json = OPTS.json or a.fmt == "json"
    emit(view, _render_record(view))


TIME_FIELDS: Final = frozenset({"timestamp", "hasPointInTime", "hasBeginning", "hasEnd",
                               "created", "expires", "start", "end"})


def _times_as_iso(value: Any) -> Any:
    """A JSON view with its microsecond times (by field name) as ISO 8601, for people."""
    if isinstance(value, dict):
        return {k: iso_time(v) if k in TIME_FIELDS else _times_as_iso(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_times_as_iso(v) for v in value]
    return value


def _render_record(view: dict[str, Any]) -> str:
    lines = []
    if "address" in view:
        lines.append(f"action {view['address']}")
        lines.extend(f"  {k}: {clean(v)}" for k, v in _times_as_iso(view["action"]).items())
    if "entry" in view:
        lines.append(f"entry {view['entry_address']}")
        entry = json.dumps(_times_as_iso(view["entry"]), indent=2, ensure_ascii=False)
        lines.append("  " + entry.replace("\n", "\n  "))
    return "\n".join(lines)


# -- networks and membership ------------------------------------------------------------


def _parse_properties(pairs: list[str]) -> dict[str, str]:
    props = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise LocalError(f"--property takes KEY=VALUE, got {pair!r}")
        props[key] = value
    return props


@command("network create", arg("name", help="the network's name; writes NAME.network.json"),
         arg("--property", action="append", default=[], metavar="KEY=VALUE",
             help="a network property, e.g. redundancy=5 (repeatable)"),
         arg("--out", type=Path, help="where to write the network file [./NAME.network.json]"))
def cmd_network_create(a: argparse.Namespace) -> None:
    """Create a network with this agent as progenitor, and join it (genesis)."""
    from node.membership import create_network

    target = a.out if a.out is not None else Path(f"{a.name}.network.json")
    with agent() as ag:
        dna = create_network(ag, a.name, _parse_properties(a.property), target)
    emit({"network_id": str(dna.address), "name": a.name, "file": str(target),
          "progenitor": dna.progenitor},
         f"network {dna.address}\nwritten to {target}")


@command("network file",
         arg("--output", type=Path, metavar="PATH",
             help="where to write it [./NAME.network.json]"),
         arg("--restore", type=Path, metavar="FILE",
             help="instead, put this home's own copy back from FILE (a member's network file; "
                  "checked against this chain)"))
def cmd_network_file(a: argparse.Namespace) -> None:
    """Write this network's file again (NAME.network.json, to share with members).

    With --restore, put back this home's own copy when it was deleted."""
    from node.store.network_file import (
        current_dna,
        read_network_file,
        restore_network_file,
        write_network_file,
    )

    with agent() as ag:
        if a.restore is not None:
            if a.output is not None:
                raise LocalError("--restore writes this home's copy: it takes no --output")
            dna = restore_network_file(ag, a.restore)
            emit({"network_id": str(dna.address), "name": dna.name,
                  "file": str(ag.paths.network)},
                 f"restored {ag.paths.network} (network {clean(dna.name)}, {dna.address})")
            return
        dna = current_dna(ag)
        _, bootstrap = read_network_file(ag.paths.network)
    default = f"{dna.name.replace('/', '_').lstrip('.')}.network.json"
    target = a.output if a.output is not None else Path(default)
    if target.is_dir():
        target = target / default
    try:
        write_network_file(target, dna, bootstrap)
    except OSError as e:
        raise LocalError(f"cannot write {target}: {e.strerror or e}") from None
    emit({"network_id": str(dna.address), "name": dna.name, "file": str(target)},
         f"network {dna.address}\nwritten to {target}")


@command("invite",
         arg("agent_id", help="the invitee's agent id (12D3KooW...), from its `coledger init`"),
         arg("--days", type=days, default=7.0, help="days until the invitation expires [7]"))
def cmd_invite(a: argparse.Namespace) -> None:
    """Print an invitation (membrane proof) for AGENT_ID to join this network."""
    from node.membership import invite

    with agent() as ag:
        token = invite(ag, a.agent_id, a.days)
    emit({"invitee": a.agent_id, "token": token, "expires_in_days": a.days}, token)


@command("join", arg("network_file", type=Path, help="the NAME.network.json the members share"),
         arg("--invite", required=True, metavar="TOKEN",
             help="the invitation token a member gave you"))
def cmd_join(a: argparse.Namespace) -> None:
    """Join a network: genesis with the invitation as membrane proof."""
    from node.membership import join

    with agent() as ag:
        dna = join(ag, a.network_file, a.invite.strip())
    emit({"network_id": str(dna.address), "name": dna.name},
         f"joined network {dna.name} ({dna.address})")


# -- ValueFlows ------------------------------------------------------------------------


@command("actions")
def cmd_actions(a: argparse.Namespace) -> None:
    """The 19 ValueFlows actions and their effects (the VF 1.0 action table)."""
    from zomes.valueflows.actions import actions_as_json

    table = actions_as_json()
    lines = [f"{'action':<18} {'inputOutput':<14} {'accounting':<20} {'onhand':<20} createResource"]
    lines.extend(
        f"{r['action']:<18} {r['inputOutput']:<14} {r['accountingEffect']:<20}"
        f" {r['onhandEffect']:<20} {r['createResource']}"
        for r in table
    )
    emit(table, "\n".join(lines))


@command("spec create", arg("name", help="the specification's name, e.g. wheat"),
         arg("--unit", help="default unit of resources of this kind (kg, l, kWh, h, each...)"),
         arg("--allow-negative", action="store_true",
             help="resources of this kind may go below zero"),
         arg("--process", action="store_true", help="create a process specification instead"),
         arg("--note", help="a note"))
def cmd_spec_create(a: argparse.Namespace) -> None:
    """Create a resource specification (or, with --process, a process specification)."""
    if a.process and (a.unit or a.allow_negative):
        raise LocalError("a process specification takes no --unit or --allow-negative")
    if not a.process and a.unit is None:
        raise LocalError("a resource specification needs --unit")
    with ledger() as led:
        if a.process:
            address = led.create_process_spec(a.name, a.note)
        else:
            address = led.create_spec(a.name, a.unit, a.allow_negative, a.note)
    kind = "ProcessSpecification" if a.process else "ResourceSpecification"
    emit({"address": str(address), "name": a.name, "kind": kind}, str(address))


@command("process create", arg("name", help="the process's name, e.g. 'milling week 48'"),
         arg("--based-on", help="the process specification it follows (address)"),
         arg("--note", help="a note"))
def cmd_process_create(a: argparse.Namespace) -> None:
    """Start a process; record its inputs with --input-of and outputs with --output-of."""
    with ledger() as led:
        address = led.create_process(a.name, a.based_on, a.note)
    emit({"address": str(address), "name": a.name}, str(address))


@command("process finish", arg("process", help="the process's address"))
def cmd_process_finish(a: argparse.Namespace) -> None:
    """Mark a process finished: no more events may name it."""
    with ledger() as led:
        address = led.finish_process(a.process)
    emit({"address": a.process, "update": str(address), "finished": True}, f"finished {a.process}")


def _parse_time(text: str | None) -> int | None:
    if text is None:
        return None
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise LocalError(
            f"--at {text!r} is not an ISO time (e.g. 2026-11-26T14:00:00+00:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _epoch_us(moment, f"--at {text!r}")


def _epoch_us(moment: Any, what: str) -> int:
    """A timezone-aware datetime in µs since 1970; LocalError before 1970 (or past 9999)."""
    try:
        us = int(moment.timestamp() * 1_000_000)
    except (OverflowError, ValueError, OSError):
        us = -1
    if us < 0:
        raise LocalError(f"{what} is before 1970 or after 9999: give a time in between")
    return us


@command("record", arg("action", help="a ValueFlows action: produce, consume, use, work, cite... "
                                       "(`coledger actions` lists them)"),
         arg("--resource", help="the resource (address), or new:NAME to create one"),
         arg("--to-resource", help="the receiving resource (address or new:NAME)"),
         arg("--conforms-to", help="the resource specification (address)"),
         arg("--quantity", help='resource quantity, e.g. "40 kg"'),
         arg("--effort", help='effort quantity, e.g. "3 h"'),
         arg("--provider", help="providing agent [you]"),
         arg("--receiver", help="receiving agent [you]"),
         arg("--input-of", help="the process this is an input of"),
         arg("--output-of", help="the process this is an output of"),
         arg("--at", help="when it happened, ISO 8601 [now]"),
         arg("--location", help="where it happened"),
         arg("--to-location", help="where the resource goes (move, transfer)"),
         arg("--state", help="the resource's state after the event (e.g. pass, fail)"),
         arg("--note", help="a note"),
         arg("--corrects", help="the event this one corrects (with negative quantities)"),
         arg("--to", metavar="AGENT", help="the receiving agent: a countersigned event, signed by "
             "both of you and written on both chains (needs the running node)"),
         arg("--wait", type=seconds, default=60.0, metavar="SECONDS",
             help="with --to: how long the counterparty has to accept [60]"))
def cmd_record(a: argparse.Namespace) -> None:
    """Sign and commit one ValueFlows economic event; print its address."""
    from zomes.valueflows.coordinator import EventRequest

    if a.to is not None:
        return _record_countersigned(a)
    req = EventRequest(
        action=a.action, resource=a.resource, to_resource=a.to_resource, conforms_to=a.conforms_to,
        quantity=a.quantity, effort=a.effort, provider=a.provider, receiver=a.receiver,
        input_of=a.input_of, output_of=a.output_of, at_us=_parse_time(a.at), location=a.location,
        to_location=a.to_location, state=a.state, note=a.note, corrects=a.corrects,
    )
    with ledger() as led:
        done = led.record(req)
        if not OPTS.json:
            print(done.event)
            return
        view = led.view()
    event = view.events[str(done.event)]
    touched = [r for r in (event.resource_inventoried_as, event.to_resource_inventoried_as) if r]
    states = [
        dict(view.states[r].to_content(),
             name=view.resources[r].name if r in view.resources else None)
        for r in touched if r in view.states
    ]
    emit({
        "address": str(done.event),
        "event": event.to_content(),
        "created_resources": {k: str(v) for k, v in done.created_resources.items()},
        "resources": states,
    })


def _record_countersigned(a: argparse.Namespace) -> None:
    """`record ACTION --to AGENT`: propose a session, show progress until it ends."""
    if a.provider is not None or a.receiver is not None:
        raise LocalError("with --to you are the provider and AGENT the receiver: "
                         "drop --provider/--receiver")
    event = {
        "action": a.action, "resource": a.resource, "to_resource": a.to_resource,
        "conforms_to": a.conforms_to, "quantity": a.quantity, "effort": a.effort,
        "input_of": a.input_of, "output_of": a.output_of, "at_us": _parse_time(a.at),
        "location": a.location, "to_location": a.to_location, "state": a.state, "note": a.note,
        "corrects": a.corrects,
    }
    session = _countersign(event, a.to, a.wait)
    if session["state"] != "committed":
        raise LocalError(f"session {session['id'][:12]} {session['state']}: "
                         f"{session['reason'] or 'no answer in time'}"
                         "; nothing was written")
    emit(session, session["event"])


def _countersign(event: dict[str, Any], to: str, wait: float) -> dict[str, Any]:
    """Propose a countersigned event through the running node; wait (with a countdown on
    a terminal) until it is committed, declined or expired; the session as it ended."""
    import time

    session = _rpc("cs_start", event=event, to=to, wait_s=wait)
    started = time.monotonic()
    tty = sys.stderr.isatty() and not OPTS.json
    while session["state"] == "proposed" and time.monotonic() - started < wait + 5:
        if tty:
            left = max(0.0, wait - (time.monotonic() - started))
            print(f"\rwaiting for {to[:16]}… to accept session {session['id'][:12]} "
                  f"({left:.0f} s left)  ", end="", file=sys.stderr, flush=True)
        time.sleep(0.2)
        session = _rpc("cs_session", id=session["id"])
    if tty:
        print(file=sys.stderr)
    return session  # type: ignore[no-any-return]


def _session_line(s: dict[str, Any]) -> str:
    event = s.get("event_draft") or {}
    quantity = event.get("resourceQuantity") or event.get("effortQuantity") or {}
    amount = f"{quantity.get('hasNumericalValue', '')} {quantity.get('hasUnit', '')}".strip()
    return (f"{s['id'][:12]}  {s['role']:<12} {s['state']:<9} {event.get('action', '?')} {amount} "
            f"{'from' if s['role'] == 'counterparty' else 'to'} {s['peer']}"
            + (f"  ({s['reason']})" if s.get("reason") else "")
            + (f"\n    {s['waiting_for']}" if s.get("waiting_for") else ""))


@command("pending", arg("--all", action="store_true", help="include ended sessions"))
def cmd_pending(a: argparse.Namespace) -> None:
    """Countersigning sessions waiting for you (or for the other party) on the running node."""
    sessions = _rpc("cs_list", everything=a.all)
    emit(sessions, "\n".join(_session_line(s) for s in sessions) or "(no open sessions)")


@command("accept", arg("id", help="the session id (or a unique prefix) from `coledger pending`"))
def cmd_accept(a: argparse.Namespace) -> None:
    """Accept a proposed countersigned event: sign it and write it on your chain too."""
    session = _rpc("cs_accept", id=a.id)
    if session["state"] == "committed":
        emit(session, session["event"])
    elif session["state"] == "signed":
        emit(session, "signed; waiting for the initiator's word (the node keeps asking): "
                      f"{session['id'][:12]}")
    else:
        raise LocalError(f"session {session['id'][:12]} {session['state']}: {session['reason']}")


@command("decline", arg("id", help="the session id (or a unique prefix)"),
         arg("--reason", help="a reason for the other party"))
def cmd_decline(a: argparse.Namespace) -> None:
    """Decline a proposed countersigned event: nothing is written on either chain."""
    session = _rpc("cs_decline", id=a.id, reason=a.reason)
    emit(session, f"declined {session['id'][:12]}")


@command("inventory",
         arg("--agent", dest="agent_id", help="another agent's inventory (needs the network)"))
def cmd_inventory(a: argparse.Namespace) -> None:
    """Resources with their accounting and onhand quantities."""
    if a.agent_id is not None:
        rows = _rpc("inventory", agent=a.agent_id)
    else:
        with ledger() as led:
            rows = led.inventory()
    lines = [f"{'resource':<24} {'accounting':>14} {'onhand':>14}  {'unit':<11} address"]
    for r in rows:
        acc, onh = r["accountingQuantity"], r["onhandQuantity"]
        lines.append(
            f"{clean(r['name'] or '?')[:24]:<24} {acc['hasNumericalValue']:>14}"
            f" {onh['hasNumericalValue']:>14}"
            f"  {acc['hasUnit']:<11} {r['address']}"
        )
    emit(rows, "\n".join(lines) if rows else "(no resources)")


def _flow_text(nodes: list[dict[str, Any]]) -> str:
    lines = []
    for n in nodes:
        label = clean(n.get("name") or n.get("action") or "")
        qty = n.get("quantity") or n.get("effort")
        if qty:
            label += f" {qty['hasNumericalValue']} {qty['hasUnit']}"
        lines.append(f"{'  ' * n['distance']}{n['kind']:<16} {label:<30} {n['address']}")
    return "\n".join(lines)


def _flows(address: str, backwards: bool) -> list[dict[str, Any]]:
    """Across the network when a node runs (following other agents' chains), else local."""
    from node.runtime.socket_client import node_running

    if node_running(OPTS.home):
        return _rpc("flows", address=address, backwards=backwards)  # type: ignore[no-any-return]
    with ledger() as led:
        return led.flows(address, backwards=backwards)


@command("trace", arg("address", help="a resource, event or process address"))
def cmd_trace(a: argparse.Namespace) -> None:
    """Where it came from: the ValueFlows trace (backwards), with distances."""
    nodes = _flows(a.address, backwards=True)
    emit(nodes, _flow_text(nodes))


@command("track", arg("address", help="a resource, event or process address"))
def cmd_track(a: argparse.Namespace) -> None:
    """Where it went: the ValueFlows track (forwards), with distances."""
    nodes = _flows(a.address, backwards=False)
    emit(nodes, _flow_text(nodes))


# -- accounting: reports, exports, imports and the entries they read -------------------------


def _date_us(text: str | None, option: str, *, end: bool = False) -> int | None:
    """An ISO date or date-time (UTC unless it says otherwise) in µs; a bare date given as
    an end (`--to 2026-12-31`) means the end of that day."""
    if text is None:
        return None
    from datetime import UTC, date, datetime, timedelta

    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise LocalError(f"{option} {text!r} is not an ISO date (2026-11-26) or time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _epoch_us(moment, f"{option} {text!r}")


def _accounting(fn: Callable[[], Any]) -> Any:
    """Run pure accounting code; its errors (bad input, not bugs) become one-line errors."""
    from zomes.accounting.common import AccountingError
    from zomes.valueflows.units import UnitError

    try:
        return fn()
    except (AccountingError, UnitError) as e:
        raise LocalError(str(e)) from None


def _gathered(max_agents: int, network: bool = True):  # type: ignore[no-untyped-def]
    """(dataset, my agent id): through the running node when there is one (and `network`),
    else from this home's chain and DHT store."""
    from node.gather import gather

    return gather(OPTS.home, passphrase, network=network, max_agents=max_agents)


def _write(path: Path, text: str) -> None:
    """Write the whole file or nothing: a temporary file renamed over the target."""
    if not path.name or path.is_dir():  # ('.', '..', a folder): no file name to write
        raise LocalError(f"cannot write {path}: it is a folder; name a file")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise LocalError(f"cannot write {path}: {e.strerror or e}") from None


MAX_AGENTS_ARG = arg("--max-agents", type=count, default=256, metavar="N",
                     help="gather at most N agents' chains [256]")


@command("report flows",
         arg("--from", dest="since", metavar="DATE", help="from this date (ISO, UTC)"),
         arg("--to", dest="until", metavar="DATE", help="up to and including this date"),
         arg("--spec", help="only flows of this resource specification (address)"),
         arg("--format", dest="fmt", choices=("text", "svg", "html"), default="text",
             help="a table, or a Sankey diagram as SVG or as an HTML page [text]"),
         arg("--output", type=Path, metavar="FILE", help="write to FILE instead of printing"),
         MAX_AGENTS_ARG)
def cmd_report_flows(a: argparse.Namespace) -> None:
    """Who provided how much of what to whom, across the chains gathered; --json: the matrix."""
    from zomes.accounting import reports

    since, until = _date_us(a.since, "--from"), _date_us(a.until, "--to", end=True)
    ds, _ = _gathered(a.max_agents)
    matrix = _accounting(
        lambda: reports.flow_report(ds, since_us=since, until_us=until, spec=a.spec))
    if a.fmt == "text":
        text = reports.flow_text(matrix, ds)
    else:
        text = reports.flow_diagram(matrix, ds, a.fmt)
    if a.output is not None:
        _write(a.output, text if text.endswith("\n") else text + "\n")
    if OPTS.json:
        emit(dict(reports.flow_json(matrix, ds), file=str(a.output) if a.output else None))
    elif a.output is not None:
        print(clean(f"{len(matrix.rows)} flows written to {a.output}"))
    else:
        print(clean_lines(text))


@command("report contributions",
         arg("--output", dest="resource", required=True, metavar="RESOURCE",
             help="the output resource whose income is shared (address)"),
         arg("--income", required=True, help='the income to share, e.g. "1000 EUR"'),
         arg("--equation", required=True, metavar="EQ",
             help="the value equation (address or name)"),
         arg("--pay-from", metavar="RESOURCE",
             help="record the distribution: transfer each other contributor's share from this "
                  "money resource of yours, countersigned by each (needs the running node)"),
         arg("--wait", type=seconds, default=60.0, metavar="SECONDS",
             help="with --pay-from: how long each contributor has to accept [60]"),
         MAX_AGENTS_ARG)
def cmd_report_contributions(a: argparse.Namespace) -> None:
    """Share an output's income among its contributors by a value equation (to the cent)."""
    from zomes.accounting import reports

    ds, _ = _gathered(a.max_agents)
    report = _accounting(lambda: reports.contribution_report(
        ds, output=a.resource, income=a.income, equation=a.equation))
    text = reports.contribution_text(report, ds)
    if a.pay_from is not None:
        report["distribution"] = _distribute(report, a.pay_from, a.wait)
        text += "\n\n" + "\n".join(
            f"paid {d['share']} {report['currency']} to {d['agent']}: "
            + (d["event"] if d.get("event") else f"not paid ({d['error']})")
            for d in report["distribution"])
    emit(report, text)
    if any(d.get("error") for d in report.get("distribution", [])):
        raise SystemExit(1)


def _distribute(report: dict[str, Any], money: str, wait: float) -> list[dict[str, Any]]:
    """One countersigned transfer per other contributor with a share above zero, in turn
    (a chain holds one session at a time); a refusal is reported, the rest go on."""
    me = _rpc("status")["agent_id"]
    done = []
    for share in report["agents"]:
        if share["agent"] == me or Decimal(share["share"]) <= 0:
            continue
        event = {"action": "transfer", "resource": money,
                 "quantity": f"{share['share']} {report['currency']}",
                 "note": f"share of {report['outputName']} by {report['equation']['name']!r}"}
        try:
            session = _countersign(event, share["agent"], wait)
        except LocalError as e:
            done.append({"agent": share["agent"], "share": share["share"], "error": str(e)})
            continue
        if session["state"] == "committed":
            done.append({"agent": share["agent"], "share": share["share"],
                         "event": session["event"]})
        else:
            done.append({"agent": share["agent"], "share": share["share"],
                         "error": f"{session['state']}: "
                                  f"{session['reason'] or 'no answer in time'}"})
    return done


@command("report footprint", arg("resource", help="the resource (address)"),
         arg("--quantity", help='the footprint of this much of it, e.g. "1 kg" [all of it]'),
         arg("--period", choices=("year", "quarter", "month"), default="year",
             help="periods for the perma-circularity check [year]"),
         MAX_AGENTS_ARG)
def cmd_report_footprint(a: argparse.Namespace) -> None:
    """Energy, materials, water and emissions behind a resource, rolled up along its trace.

    Also the budgets that apply (sustainability quotient: actual / allocated, above 1 is
    over) and perma-circularity: growth of material and energy drawn per period above 1 %."""
    from zomes.accounting import reports

    ds, _ = _gathered(a.max_agents)
    report = _accounting(lambda: reports.footprint_report(
        ds, a.resource, quantity=a.quantity, period=a.period))
    emit(report, reports.footprint_text(report, ds))


@command("export", arg("--format", dest="fmt", required=True,
                       choices=("vf-jsonld", "pact", "epcis", "csv"),
                       help="ValueFlows JSON-LD, a PACT v3 product footprint, GS1 EPCIS 2.0, CSV"),
         arg("--output", type=Path, metavar="FILE", help="write to FILE instead of printing"),
         arg("--network", action="store_true",
             help="every gathered chain's events, not only this agent's"),
         arg("--resource", help="the product a PACT footprint is of (address)"),
         MAX_AGENTS_ARG)
def cmd_export(a: argparse.Namespace) -> None:
    """This agent's events (or, with --network, everyone's gathered) in the ecosystem's formats."""
    from node.core.clock import now_us
    from zomes.accounting import reports

    ds, me = _gathered(a.max_agents, network=a.network or a.fmt == "pact")
    document = _accounting(lambda: reports.export(
        ds, a.fmt, me=me, now_us=now_us(), everyone=a.network, resource=a.resource))
    if a.output is None:
        if OPTS.json and a.fmt == "csv":  # the other formats are JSON documents already
            emit({"format": "csv", "csv": document})
        else:
            sys.stdout.write(document)
        return
    _write(a.output, document)
    count = len(ds.ordered_events(None if a.network else me))
    emit({"format": a.fmt, "file": str(a.output), "events": count},
         f"{a.fmt} written to {a.output}")


def _agent_map(pairs: list[str], me: str) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            raise LocalError(f"--agent takes OLD=NEW (NEW may be `me`), got {pair!r}")
        mapping[old.strip()] = me if new.strip() == "me" else new.strip()
    return mapping


@command("import", arg("file", type=Path, help="the document to import"),
         arg("--format", dest="fmt", required=True, choices=("vf-jsonld",),
             help="the document's format (ValueFlows JSON-LD)"),
         arg("--agent", action="append", default=[], metavar="OLD=NEW",
             help="record OLD's part in the events as NEW's (`me`: this agent); repeatable"))
def cmd_import(a: argparse.Namespace) -> None:
    """Record a document's events on this chain, signed by you, checked by the rules.

    All or nothing: one refused event and nothing is written. Resources and processes the
    events name are copied from the document onto this chain (new addresses)."""
    from decimal import Decimal

    from node.imports import import_vf_jsonld

    try:
        document = json.loads(a.file.read_text(encoding="utf-8"), parse_float=Decimal)
    except OSError as e:
        raise LocalError(f"cannot read {a.file}: {e.strerror or e}") from None
    except ValueError as e:
        raise LocalError(f"{a.file} is not JSON: {e}") from None
    with ledger() as led:
        result = import_vf_jsonld(led, document, _agent_map(a.agent, str(led.agent.agent_id)))
    made = result["created"]
    emit(result, f"imported {result['imported']} events ({result['skipped']} already here); "
                 f"copied {made['resources']} resources, {made['processes']} processes, "
                 f"{made['specs']} specifications")


@command("equation create", arg("file", help="the equation as JSON (name, buckets); - for stdin"))
def cmd_equation_create(a: argparse.Namespace) -> None:
    """Create a value equation (an entry): how an output's income is shared.

    Ordered buckets, each with a percentage, a behaviour (straight: of the income;
    remaining: of what is left) and a recipient or rules per action (work, use, cite,
    consume, deliverService: a rate per unit, optionally per skill or specification)."""
    from zomes.accounting.coordinator import create_equation

    try:
        text = sys.stdin.read() if a.file == "-" else Path(a.file).read_text(encoding="utf-8")
        document = json.loads(text)
    except OSError as e:
        raise LocalError(f"cannot read {a.file}: {e.strerror or e}") from None
    except ValueError as e:
        raise LocalError(f"{a.file} is not JSON: {e}") from None
    with ledger() as led:
        address, equation = led.commit(lambda s, v: create_equation(s, document))
    emit({"address": str(address), "name": equation.name, "equation": equation.to_content()},
         str(address))


@command("equation list", MAX_AGENTS_ARG)
def cmd_equation_list(a: argparse.Namespace) -> None:
    """The value equations on the chains gathered."""
    ds, _ = _gathered(a.max_agents)
    rows = [{"address": address, "name": eq.name, "author": ds.authors[address],
             "buckets": [b.name for b in eq.buckets]}
            for address, eq in sorted(ds.equations.items(), key=lambda i: (i[1].name, i[0]))]
    emit(rows, "\n".join(f"{clean(r['name']):<24} {r['address']}  "
                         f"({clean(', '.join(r['buckets']))})"
                         for r in rows) or "(no value equations)")


@command("footprint declare", arg("spec", help="the resource specification (address)"),
         arg("--per", required=True, metavar="UNIT", help="the unit the factors are per, e.g. kWh"),
         arg("--factor", action="append", default=[], metavar="KIND=QUANTITY",
             help="energy=3.6MJ, emissions=0.25kgCO2e, water=1m3 or material:NAME=0.8kg "
                  "(repeatable)"),
         arg("--note", help="where the figures come from"))
def cmd_footprint_declare(a: argparse.Namespace) -> None:
    """Declare the footprint per unit of a specification's resources (the latest counts)."""
    from zomes.accounting.coordinator import declare_footprint

    with ledger() as led:
        address = led.commit(lambda s, v: declare_footprint(s, a.spec, a.per, a.factor, a.note))
    emit({"address": str(address), "specification": a.spec}, str(address))


@command("footprint allocate", arg("process", help="your process (address)"),
         arg("--share", action="append", default=[], required=True, metavar="RESOURCE=FRACTION",
             help="an output resource and its fraction of the footprint (repeatable; sum 1)"),
         arg("--note", help="why this split"))
def cmd_footprint_allocate(a: argparse.Namespace) -> None:
    """Allocate a process's footprint to its outputs by declared fractions (instead of by mass)."""
    from zomes.accounting.coordinator import allocate

    with ledger() as led:
        address = led.commit(lambda s, v: allocate(s, a.process, a.share, a.note))
    emit({"address": str(address), "process": a.process}, str(address))


@command("budget set", arg("kind", choices=("energy", "material", "water", "emissions"),
                           help="what is budgeted"),
         arg("--allocated", required=True, metavar="QUANTITY", help='e.g. "12 tCO2e"'),
         arg("--from", dest="since", required=True, metavar="DATE", help="the period's first day"),
         arg("--to", dest="until", required=True, metavar="DATE", help="the period's last day"),
         arg("--material", help="for a material budget: which material [all]"),
         arg("--for", dest="holder", default="me", metavar="AGENT",
             help="`me`, `network` (the progenitor only) or an agent id [me]"),
         arg("--name", help="a name, e.g. 'carbon 2026'"))
def cmd_budget_set(a: argparse.Namespace) -> None:
    """Declare an allocation for a period (e.g. a carbon budget) for this agent or the network."""
    from zomes.accounting.coordinator import set_budget

    start, end = _date_us(a.since, "--from"), _date_us(a.until, "--to", end=True)
    assert start is not None and end is not None
    with ledger() as led:
        me = str(led.agent.agent_id)
        holder = None if a.holder == "network" else me if a.holder == "me" else a.holder
        address = led.commit(lambda s, v: set_budget(
            s, kind=a.kind, allocated=a.allocated, start_us=start, end_us=end,
            material=a.material, agent=holder, name=a.name))
    emit({"address": str(address), "kind": a.kind, "agent": holder}, str(address))


# -- the running node ---------------------------------------------------------------------


@command("run", arg("--listen", type=listen_addr, default="/ip4/0.0.0.0/tcp/0", metavar="MULTIADDR",
                    help="where to listen [/ip4/0.0.0.0/tcp/0]"),
         arg("--bootstrap", type=peer_addr, action="append", default=[], metavar="MULTIADDR",
             help="a member's address to join through (repeatable; the network file's are added)"),
         arg("--gossip-interval", type=interval, default=2.0,
             help="seconds between gossip rounds [2]"),
         arg("--auto-accept-from", action="append", default=[], metavar="AGENT",
             help="accept countersigning proposals from this agent without asking (repeatable)"),
         arg("--log-level", choices=("debug", "info", "warning", "error"), default="info",
             help="the least level of the log lines on stderr [info]"),
         arg("--log-format", choices=("text", "json"), default="text",
             help="text, or json: one object a line (time, level, event, fields) [text]"))
def cmd_run(a: argparse.Namespace) -> None:
    """Run this agent's node in the foreground until Ctrl-C; print its multiaddrs."""
    import logging
    import signal

    import trio

    from node.runtime.conductor import open_node
    from node.runtime.logs import configure
    from node.runtime.logs import event as log_event

    configure("debug" if OPTS.debug else a.log_level, a.log_format)
    log = logging.getLogger("coledger.run")

    async def main() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with open_node(OPTS.home, passphrase, listen=a.listen, bootstrap=a.bootstrap,
                                 gossip_interval=a.gossip_interval,
                                 auto_accept_from=a.auto_accept_from) as node:
                addrs = node.transport.listen_addrs()
                emit({"agent_id": str(node.me), "listen": addrs,
                      "network_id": str(node.network_id)},
                     "\n".join(addrs))
                sys.stdout.flush()
                log.info("node started: agent %s listening on %s", node.me, " ".join(addrs),
                         extra=log_event("node_started", agent=node.me, listen=" ".join(addrs)))
                async for _ in signals:
                    break
        log.info("node stopped", extra=log_event("node_stopped"))

    trio.run(main)


def _rpc(method: str, **params: Any) -> Any:
    from node.runtime.socket_client import call

    return call(OPTS.home, method, **params)


@command("status")
def cmd_status(a: argparse.Namespace) -> None:
    """What the running node is doing: addresses, peers, ops by state, pending publishes."""
    s = _rpc("status")
    ops = ", ".join(f"{k} {v}" for k, v in s["ops"].items())
    emit(s, f"agent {s['agent_id']}\nnetwork {s['network_id']}\n"
            + "".join(f"listening {x}\n" for x in s["listen"])
            + f"peers {s['peers']}, blocked {len(s['blocked'])}\nops: {ops}\n"
            + f"waiting to publish: {s['publish_pending']}")


@command("peers")
def cmd_peers(a: argparse.Namespace) -> None:
    """The member peers the running node is connected to."""
    peers = _rpc("peers")
    emit(peers, "\n".join(f"{p['agent_id']}  {' '.join(p['addresses'])}" for p in peers)
         or "(no peers)")


@command("sync", arg("--timeout", type=seconds, default=30.0, help="seconds to wait at most [30]"))
def cmd_sync(a: argparse.Namespace) -> None:
    """Publish what this chain holds now and wait until its authorities hold it: exit 0
    once every op holds its receipts, else 1 at the timeout, saying how many lack them
    (an op only this node holds, with no peer to take it, is not published)."""
    import time

    deadline = time.monotonic() + a.timeout
    while True:
        result = _rpc("sync")
        if result["pending"] == 0 or time.monotonic() > deadline:
            break
        if not OPTS.json:
            print(f"waiting for receipts: {result['pending']} ops", file=sys.stderr)
        time.sleep(0.5)
    pending, needed, peers = result["pending"], result["receipts_needed"], result["peers"]
    if pending == 0:
        emit(result, f"synced: every op holds its {needed} receipts ({peers} peers)")
        return
    if OPTS.json:
        emit(result)
    why = ("no peer to publish to: they are held by this node only" if peers == 0
           else f"{peers} peers reachable")
    print(f"coledger: error: not synced after {a.timeout:g} s: {pending} ops lack their"
          f" {needed} receipts ({why})", file=sys.stderr)
    raise SystemExit(1)


# -- the parser --------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2), as every coledger error is one line."""

    def error(self, message: str) -> NoReturn:
        fail("usage", f"{message} (see {self.prog} --help)", 2, prog=self.prog)

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> Any:
        # Python 3.11 turns `--note=--` into [] (it drops the "--"): the text "--" it is
        if action.option_strings and action.nargs is None and arg_strings == ["--"]:
            value = self._get_value(action, "--")
            self._check_value(action, value)
            return value
        return super()._get_values(action, arg_strings)


# Error kinds of `--json` errors ({"error": message, "kind": kind} on stderr), by exit code:
# 2 usage; 1 rejected (a rule refused it), not_found, refused (anything else asked of us
# that cannot be done), bad_data (data from a peer, a file or the disk is malformed),
# system (the file system or the OS refused), internal (a bug: please report it);
# 130 interrupted.
ERROR_KINDS: Final = ("usage", "rejected", "not_found", "refused", "bad_data", "system",
                      "internal", "interrupted")


def fail(kind: str, message: str, code: int, *, prog: str = "coledger") -> NoReturn:
    """Print one error line on stderr (JSON under --json) and exit with `code`."""
    if OPTS.json:
        print(json.dumps({"error": message, "kind": kind}), file=sys.stderr)
    else:
        label = "internal error" if kind == "internal" else "error"
        print(f"{prog}: {label}: {clean(message)}", file=sys.stderr)
    raise SystemExit(code)


def _error_kind(error: Exception) -> str:
    from node.core.errors import RemoteError

    if isinstance(error, NotFound):
        return "not_found"
    if type(error).__name__ == "RuleBroken":  # node.runtime: not imported for every command
        return "rejected"
    if isinstance(error, RemoteError):
        return "bad_data"
    return "refused"


def _os_message(error: OSError) -> str:
    """An OSError in words: what could not be done to which file, and why."""
    reason = error.strerror or str(error) or type(error).__name__
    if error.filename is not None:
        return f"cannot use {error.filename}: {reason}"
    return reason


class _Version(argparse.Action):
    """--version, which reads the installed version only when asked: importlib.metadata
    and the package's metadata cost every command about 10 ms (argparse's own action
    wants the text when the parser is built)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        print(_version())
        parser.exit()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"coledger {version('coledger')}"
    except PackageNotFoundError:
        return "coledger (not installed)"


def _common_options(required: bool) -> argparse.ArgumentParser:
    """--home, --json and --debug: before the command, or after it (as the docs write
    them); after a command they override what was given before, and never reset it."""
    common = argparse.ArgumentParser(add_help=False)
    keep: dict[str, Any] = {} if required else {"default": argparse.SUPPRESS}
    common.add_argument("--home", type=Path, **keep,
                        help="agent home directory [$COLEDGER_HOME or ~/.coledger]")
    common.add_argument("--json", action="store_true", **keep,
                        help="machine-readable JSON output (errors too, on stderr)")
    common.add_argument("--debug", action="store_true", **keep,
                        help="show tracebacks on errors")
    return common


def build_parser() -> Parser:
    parser = Parser(
        prog="coledger",
        description="coledger: an agent-centric ledger of ValueFlows economic events "
                    "for cooperatives.",
        parents=[_common_options(True)],
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    after = [_common_options(False)]
    subparsers: dict[str, Any] = {
        "": parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser),
    }
    groups = {"chain": "this agent's source chain", "network": "networks this agent creates",
              "spec": "resource and process specifications",
              "process": "processes that turn inputs into outputs",
              "report": "flow, contributive and thermodynamic accounting",
              "equation": "value equations: how income is shared by contribution",
              "footprint": "footprints declared on specifications; allocations to outputs",
              "budget": "allocations per period (e.g. a carbon budget)"}
    for path, fn, args in _COMMANDS:
        *parents, name = path.split()
        prefix = ""
        for part in parents:
            key = f"{prefix} {part}".strip()
            if key not in subparsers:
                group = subparsers[prefix].add_parser(part, help=groups.get(part),
                                                      description=groups.get(part),
                                                      parents=after)
                subparsers[key] = group.add_subparsers(dest=f"{key}_command", metavar="COMMAND",
                                                       required=True, parser_class=Parser)
            prefix = key
        doc = (fn.__doc__ or "").strip()
        sub = subparsers[prefix].add_parser(name, help=doc.splitlines()[0] if doc else None,
                                            description=doc, parents=after)
        for flags, kw in args:
            sub.add_argument(*flags, **kw)
        sub.set_defaults(handler=fn)
    return parser


def main(argv: list[str] | None = None) -> None:
    words = sys.argv[1:] if argv is None else argv
    # known before parsing, so that usage errors are JSON too under --json
    OPTS.json = "--json" in words[: words.index("--")] if "--" in words else "--json" in words
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        raise SystemExit(2)
    from node.api import default_home

    OPTS.home = args.home if args.home is not None else default_home()
    OPTS.json, OPTS.debug = args.json, args.debug
    try:
        args.handler(args)
    except CoreError as e:
        if OPTS.debug:
            raise
        fail(_error_kind(e), str(e), 1)
    except BrokenPipeError:  # the reader went away (`| head`): nobody left to tell
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None
    except OSError as e:  # the file system or the OS refused: not a bug of ours
        if OPTS.debug:
            raise
        fail("system", _os_message(e), 1)
    except KeyboardInterrupt:
        fail("interrupted", "interrupted", 130)
    except Exception as e:  # the last resort: one line, the traceback only with --debug
        if OPTS.debug:
            raise
        fail("internal", f"{type(e).__name__}: {e} (run with --debug for the traceback, "
                         "and please report it)", 1)


if __name__ == "__main__":
    main()
