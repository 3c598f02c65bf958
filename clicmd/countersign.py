"""Countersigning through the running node: `record ACTION --to AGENT` (proposing a
session and waiting for it), pending, accept, decline (of events and of agreements,
which `coledger agree` proposes: clicmd/agreements.py)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from clicmd.common import OPTS, arg, clean, client, command, emit, iso_time, parse_time
from node.core.errors import LocalError


def record_countersigned(a: argparse.Namespace) -> None:
    """`record ACTION --to AGENT`: propose a session, show progress until it ends."""
    if a.provider is not None or a.receiver is not None:
        raise LocalError("with --to you are the provider and AGENT the receiver: "
                         "drop --provider/--receiver")
    event = {
        "action": a.action, "resource": a.resource, "to_resource": a.to_resource,
        "conforms_to": a.conforms_to, "quantity": a.quantity, "effort": a.effort,
        "input_of": a.input_of, "output_of": a.output_of, "at_us": parse_time(a.at),
        "location": a.location, "to_location": a.to_location, "state": a.state, "note": a.note,
        "corrects": a.corrects, "fulfills": a.fulfills, "satisfies": a.satisfies,
        "settles": a.settles, "realization_of": a.realization_of,
    }
    if a.classified_as:
        event["classified_as"] = a.classified_as
    session = countersign(event, a.to, a.wait)
    if session["state"] != "committed":
        raise LocalError(f"session {session['id'][:12]} {session['state']}: "
                         f"{session['reason'] or 'no answer in time'}"
                         "; nothing was written")
    emit(session, session["event"])


def countersign(event: dict[str, Any], to: str, wait: float) -> dict[str, Any]:
    """Propose a countersigned event through the running node; wait (with a countdown on
    a terminal) until it is committed, declined or expired; the session as it ended."""
    return wait_session(client().countersign(event, to, wait), to, wait)


def wait_session(session: dict[str, Any], to: str, wait: float) -> dict[str, Any]:
    """Wait (with a countdown on a terminal) until a proposed session is committed,
    declined or expired; the session as it ended."""
    import time

    started = time.monotonic()
    tty = sys.stderr.isatty() and not OPTS.json
    while session["state"] == "proposed" and time.monotonic() - started < wait + 5:
        if tty:
            left = max(0.0, wait - (time.monotonic() - started))
            print(f"\rwaiting for {to[:16]}… to accept session {session['id'][:12]} "
                  f"({left:.0f} s left)  ", end="", file=sys.stderr, flush=True)
        time.sleep(0.2)
        session = client().session(session["id"])
    if tty:
        print(file=sys.stderr)
    return session


def clause_line(clause: dict[str, Any]) -> str:
    """One clause of an agreement (as `coledger agreements` lists it) on one line."""
    quantity = clause.get("quantity") or {}
    spec = clause.get("resource_conforms_to")
    return clean(
        f"{clause.get('address', '?')}  {clause.get('provider')} -> {clause.get('receiver')}"
        f"  {clause.get('action')} {quantity.get('hasNumericalValue', '')} "
        f"{quantity.get('hasUnit', '')}" + (f" of {spec}" if spec else "")
        + f" due {iso_time(clause.get('due'))}"
        + (f" satisfies {clause['satisfies']}" if clause.get("satisfies") else ""))


def _agreement_lines(s: dict[str, Any]) -> str:
    """A session proposing an agreement: who, and each clause it would bind."""
    from zomes.valueflows.agreement_hook import clause_json
    from zomes.valueflows.entries import Agreement

    try:
        clauses = [clause_json(c) for c in
                   Agreement.from_content(s.get("event_draft") or {}).clauses]
    except ValueError:
        clauses = []
    head = (f"{s['id'][:12]}  {s['role']:<12} {s['state']:<9} agreement of "
            f"{len(clauses)} clauses {'from' if s['role'] == 'counterparty' else 'to'} "
            f"{s['peer']}" + (f"  ({s['reason']})" if s.get("reason") else ""))
    return "\n".join([clean(head), *("    clause " + clause_line(c) for c in clauses)]
                     + ([f"    {s['waiting_for']}"] if s.get("waiting_for") else []))


def _session_line(s: dict[str, Any]) -> str:
    if str(s.get("entry_type", "")).endswith(".CountersignedAgreement"):
        return _agreement_lines(s)
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
    sessions = client().sessions(everything=a.all)
    emit(sessions, "\n".join(_session_line(s) for s in sessions) or "(no open sessions)")


@command("accept", arg("id", help="the session id (or a unique prefix) from `coledger pending`"))
def cmd_accept(a: argparse.Namespace) -> None:
    """Accept a proposed countersigned event or agreement: sign it and write it on your
    chain too."""
    session = client().accept(a.id)
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
    """Decline a proposed countersigned event or agreement: nothing is written on either
    chain."""
    session = client().decline(a.id, a.reason)
    emit(session, f"declined {session['id'][:12]}")
