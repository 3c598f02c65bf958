"""Commands on this agent and its chain: init, chain show/verify/recover, get."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Final

from clicmd.common import (
    OPTS,
    agent,
    arg,
    clean,
    client,
    command,
    count,
    emit,
    iso_time,
    new_passphrase,
    peer_addr,
    seconds,
)
from node.core.errors import LocalError


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
    from clicmd.settings import load_config

    bootstrap = a.bootstrap or load_config(OPTS.home).get("bootstrap", [])  # config.toml's
    result = client().recover(a.force, bootstrap, a.timeout, quiet=not OPTS.debug)
    dropped = f", dropped {result['dropped']} of this chain's" if result.get("dropped") else ""
    emit(result, f"restored {result['restored']} records from the network{dropped};"
                 f" head seq {result['head_seq']}")


@command("get", arg("address", help="an action or entry address (bafy...)"),
         arg("--format", dest="fmt", choices=("text", "json", "cbor"), default="text",
             help="text, json, or cbor: the exact stored DAG-CBOR bytes"))
def cmd_get(a: argparse.Namespace) -> None:
    """Show a record (by action address) or an entry (by entry address)."""
    found = client().get(a.address)
    if found.data is None:  # from the network: its JSON view only
        if a.fmt == "cbor":
            raise LocalError("--format cbor needs the record stored locally")
        emit(found.view, _render_record(found.view) + ("" if OPTS.json else _externals(found.view)))
        return
    if a.fmt == "cbor":
        sys.stdout.buffer.write(found.data)
        sys.stdout.buffer.flush()
        return
    OPTS.json = OPTS.json or a.fmt == "json"
    emit(found.view, _render_record(found.view) + ("" if OPTS.json else _externals(found.view)))


def _externals(view: dict[str, Any]) -> str:
    """Lines naming an event's or a commitment's external party (an Agent entry with
    sameAs, named by its address): `NAME (external)`, which never signs."""
    entry = view.get("entry")
    lines = []
    for key in ("provider", "receiver"):
        party = entry.get(key) if isinstance(entry, dict) else None
        if not isinstance(party, str) or not party.startswith("bafy"):
            continue
        try:
            agent = client().get(party).view.get("entry")
        except LocalError:
            continue
        if isinstance(agent, dict) and agent.get("sameAs") and agent.get("name"):
            lines.append(f"{key} {party}: {clean(agent['name'])} (external), "
                         f"{clean(agent['sameAs'])}: no member of the network, it never signs")
    return "".join("\n" + line for line in lines)


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
