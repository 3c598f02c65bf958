"""Commitments and claims: `claim` records a flow this cooperative can expect in return
for an event, `commitments` lists every commitment and claim it is a party to with what
has been fulfilled or settled (zomes/valueflows/obligations.py; with a running node also
what the other party recorded, asked of the network through links)."""

from __future__ import annotations

import argparse
from typing import Any

from clicmd.common import aligned, arg, clean, client, command, emit, iso_time, short
from clicmd.reports import date_us


@command("claim", arg("--triggered-by", required=True, metavar="EVENT",
                      help="the event of yours that gives rise to the claim (address)"),
         arg("--from", dest="provider", required=True, metavar="AGENT",
             help="the agent who owes the flow (the claim's provider)"),
         arg("--quantity", required=True, help='how much is expected, e.g. "450 EUR"'),
         arg("--spec", help="the resource specification expected (address)"),
         arg("--action", default="transfer", help="the expected flow's action [transfer]"),
         arg("--due", help="when it is due (ISO date or time, UTC by default)"),
         arg("--note", help="a note"))
def cmd_claim(a: argparse.Namespace) -> None:
    """Record a claim: a flow you (its receiver) can expect from AGENT for an event.
    An event settles it with `coledger record ... --settles CLAIM`."""
    from zomes.valueflows.obligations import ClaimRequest

    req = ClaimRequest(triggered_by=a.triggered_by, provider=a.provider, quantity=a.quantity,
                       spec=a.spec, action=a.action, due_us=date_us(a.due, "--due"),
                       note=a.note)
    made = client().claim(req)
    emit(made, made["address"])


@command("commitments", arg("--all", dest="everything", action="store_true",
                            help="also those fulfilled, settled or finished"))
def cmd_commitments(a: argparse.Namespace) -> None:
    """The commitments and claims you are a party to: committed, fulfilled and remaining
    quantity, due date, overdue (open ones; --all: every one). With `coledger run`, also
    those the other party wrote and the events it recorded."""
    rows = client().commitments(everything=a.everything)
    emit(rows, _table(rows))


def _party(row: dict[str, Any], key: str) -> str:
    """A party as the table names it: an external agent as `NAME (external)`."""
    party = row[key]
    if row.get("external") and party is not None and not party.startswith("12D3KooW"):
        return clean(row["externalName"])
    return short(party)


def _table(rows: list[dict[str, Any]]) -> str:
    from zomes.valueflows.obligations import quantity_text

    if not rows:
        return "no open commitments or claims"
    table = [("kind", "address", "action", "committed", "fulfilled", "remaining", "due", "",
              "with")]
    for r in rows:
        flag = "OVERDUE" if r["overdue"] else ("open" if r["open"] else "done")
        table.append((r["kind"], short(r["address"]), r["action"],
                      quantity_text(r["committed"]), quantity_text(r["fulfilled"]),
                      quantity_text(r["remaining"]), iso_time(r["due"]) or "", flag,
                      f"{_party(r, 'provider')} -> {_party(r, 'receiver')}"))
    return "\n".join(aligned(table))
