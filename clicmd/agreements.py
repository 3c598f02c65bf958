"""Agreements through the running node: `agree --with AGENT --give CLAUSE --get CLAUSE`
proposes one agreement of reciprocal commitments, countersigned by both (the other party
sees it in `pending`, then `accept`s or `decline`s it); `agreements` lists this
cooperative's agreements with their clauses (zomes/valueflows/agreement_hook.py)."""

from __future__ import annotations

import argparse
import re
from typing import Any, Final

from clicmd.common import arg, clean, client, command, emit, iso_time, seconds
from clicmd.countersign import clause_line, wait_session
from clicmd.reports import date_us
from node.core.errors import LocalError

_KEYWORDS: Final = ("of", "by", "satisfies", "note")
CLAUSE_HELP: Final = ('"[action ACTION] QUANTITY UNIT [of SPEC] by DATE [satisfies INTENT] '
                      '[note TEXT]", e.g. "300 kg of bafy... by 2027-03-01"; ACTION defaults '
                      "to transfer (deliver-service, work...)")


def _camel(word: str) -> str:
    """`deliver-service` -> `deliverService` (VF's spelling); other words as given."""
    head, *rest = word.split("-")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def parse_clause(text: str, option: str) -> dict[str, Any]:
    """A clause's text as the node's AgreementRequest takes it (LocalError naming `option`
    and what is wrong)."""
    words = text.split()
    clause: dict[str, Any] = {}
    if words[:1] == ["action"]:
        if len(words) < 2:
            raise LocalError(f"{option} {text!r}: 'action' needs an action name")
        clause["action"], words = _camel(words[1]), words[2:]
    elif words and re.fullmatch(r"[a-zA-Z][a-zA-Z-]*", words[0]):
        clause["action"], words = _camel(words[0]), words[1:]
    cut = next((i for i, w in enumerate(words) if w in _KEYWORDS), len(words))
    if cut == 0:
        raise LocalError(f"{option} {text!r}: give a quantity, e.g. '300 kg'")
    clause["quantity"] = " ".join(words[:cut])
    rest = words[cut:]
    while rest:
        key = rest.pop(0)
        if key not in _KEYWORDS:
            raise LocalError(f"{option} {text!r}: {key!r} is not one of {', '.join(_KEYWORDS)}")
        if not rest:
            raise LocalError(f"{option} {text!r}: {key!r} needs a value")
        if key == "note":
            clause["note"], rest = " ".join(rest), []
            continue
        value = rest.pop(0)
        field = {"of": "conforms_to", "satisfies": "satisfies", "by": "due_us"}[key]
        if field in clause:
            raise LocalError(f"{option} {text!r}: {key!r} given twice")
        clause[field] = date_us(value, f"{option}'s due date", end=True) if key == "by" \
            else value
    if "due_us" not in clause:
        raise LocalError(f"{option} {text!r}: say when it is due ('by 2027-03-01')")
    return clause


@command(
    "agree",
    arg("--with", dest="other", required=True, metavar="AGENT",
        help="the other cooperative (its agent id, 12D3KooW...)"),
    arg("--give", action="append", default=[], metavar="CLAUSE",
        help="what you commit to provide: " + CLAUSE_HELP + "; repeatable"),
    arg("--get", action="append", default=[], metavar="CLAUSE",
        help="what the other commits to provide you, the same way; repeatable"),
    arg("--name", help="a name for the agreement"),
    arg("--note", help="a note"),
    arg("--wait", type=seconds, default=60.0, metavar="SECONDS",
        help="how long the other party has to accept [60]"),
)
def cmd_agree(a: argparse.Namespace) -> None:
    """Propose an agreement of reciprocal commitments to another cooperative, countersigned
    by both: written on both chains once it accepts, on neither otherwise. Needs the
    running node (`coledger run`); waits for the answer."""
    if not a.give or not a.get:
        raise LocalError("an agreement is reciprocal: give at least one --give and one --get")
    request = {"give": [parse_clause(c, "--give") for c in a.give],
               "get": [parse_clause(c, "--get") for c in a.get],
               "name": a.name, "note": a.note}
    session = wait_session(client().agree(request, a.other, a.wait), a.other, a.wait)
    if session["state"] != "committed":
        raise LocalError(f"session {session['id'][:12]} {session['state']}: "
                         f"{session['reason'] or 'no answer in time'}; nothing was written")
    emit(session, f"agreement {session['event']} countersigned with {clean(a.other)}")


def _agreement_text(agreement: dict[str, Any]) -> str:
    name = f"  {agreement['name']}" if agreement.get("name") else ""
    head = clean(f"agreement {agreement['address']}{name}  between "
                 f"{' and '.join(agreement['parties'])}  created {iso_time(agreement['created'])}")
    return "\n".join([head, *("  clause " + clause_line(c) for c in agreement["clauses"])])


@command("agreements")
def cmd_agreements(a: argparse.Namespace) -> None:
    """This cooperative's countersigned agreements, each with its clauses (the address an
    event names to fulfil one, provider, receiver, action, quantity, specification, due)."""
    agreements = client().agreements()
    emit(agreements, "\n".join(_agreement_text(x) for x in agreements) or "(no agreements)")
