"""ValueFlows commands that write this agent's chain: actions, spec create, process
create/finish, record (with --to, countersigned: clicmd/countersign.py)."""

from __future__ import annotations

import argparse

from clicmd.common import OPTS, arg, client, command, emit, parse_time, seconds
from node.core.errors import LocalError


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
         arg("--classified-as", action="append", default=[], metavar="LABEL",
             help="what resources of this kind are (resourceClassifiedAs): byproduct, waste, "
                  "organic...; repeatable"),
         arg("--mass", metavar="QUANTITY",
             help="the mass of one --unit of it, e.g. '0.5 kg' for a loaf counted in pieces "
                  "(a PACT footprint per piece or litre declares it)"),
         arg("--note", help="a note"))
def cmd_spec_create(a: argparse.Namespace) -> None:
    """Create a resource specification (or, with --process, a process specification)."""
    if a.process and (a.unit or a.allow_negative or a.classified_as or a.mass):
        raise LocalError("a process specification takes no --unit, --allow-negative, "
                         "--classified-as or --mass")
    if not a.process and a.unit is None:
        raise LocalError("a resource specification needs --unit")
    if a.process:
        address = client().create_process_spec(a.name, a.note)
    else:
        address = client().create_spec(a.name, a.unit, a.allow_negative, a.note,
                                       a.classified_as, a.mass)
    kind = "ProcessSpecification" if a.process else "ResourceSpecification"
    emit({"address": address, "name": a.name, "kind": kind}, address)


@command("process create", arg("name", help="the process's name, e.g. 'milling week 48'"),
         arg("--based-on", help="the process specification it follows (address)"),
         arg("--note", help="a note"))
def cmd_process_create(a: argparse.Namespace) -> None:
    """Start a process; record its inputs with --input-of and outputs with --output-of."""
    address = client().create_process(a.name, a.based_on, a.note)
    emit({"address": address, "name": a.name}, address)


@command("place create", arg("name", help="the place's name: the --location label it gives "
                                          "coordinates to in exports, e.g. 'Mill yard'"),
         arg("--lat", help="latitude, decimal degrees (WGS84)"),
         arg("--long", help="longitude, decimal degrees (WGS84)"),
         arg("--alt", help="altitude, metres"),
         arg("--address", help="a postal address (mappableAddress)"),
         arg("--note", help="a note"))
def cmd_place_create(a: argparse.Namespace) -> None:
    """Describe a place: events, resources and intents whose location is this name are
    exported with its coordinates and address (VF JSON-LD)."""
    place = {"name": a.name, "lat": a.lat, "long": a.long, "alt": a.alt,
             "mappableAddress": a.address, "note": a.note}
    address = client().create_place(place)
    emit({"address": address, "name": a.name}, address)


@command("process finish", arg("process", help="the process's address"))
def cmd_process_finish(a: argparse.Namespace) -> None:
    """Mark a process finished: no more events may name it."""
    address = client().finish_process(a.process)
    emit({"address": a.process, "update": address, "finished": True}, f"finished {a.process}")


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
         arg("--fulfills", metavar="COMMITMENT", help="the commitment this event fulfils "
             "(`coledger commitments` lists them)"),
         arg("--satisfies", metavar="INTENT", help="the intent (an offer's or a request's) "
             "this event satisfies"),
         arg("--settles", metavar="CLAIM", help="the claim this event settles"),
         arg("--realization-of", metavar="AGREEMENT",
             help="the agreement this event realizes [found for a clause you hold]"),
         arg("--classified-as", action="append", default=[], metavar="LABEL",
             help="what the resource is (resourceClassifiedAs: byproduct, waste, organic...); "
                  "a new:NAME resource is created so; repeatable"),
         arg("--to", metavar="AGENT", help="the receiving agent: a countersigned event, signed by "
             "both of you and written on both chains (needs the running node)"),
         arg("--wait", type=seconds, default=60.0, metavar="SECONDS",
             help="with --to: how long the counterparty has to accept [60]"))
def cmd_record(a: argparse.Namespace) -> None:
    """Sign and commit one ValueFlows economic event; print its address."""
    from zomes.valueflows.coordinator import EventRequest

    if a.to is not None:
        from clicmd.countersign import record_countersigned

        return record_countersigned(a)
    req = EventRequest(
        action=a.action, resource=a.resource, to_resource=a.to_resource, conforms_to=a.conforms_to,
        quantity=a.quantity, effort=a.effort, provider=a.provider, receiver=a.receiver,
        input_of=a.input_of, output_of=a.output_of, at_us=parse_time(a.at), location=a.location,
        to_location=a.to_location, state=a.state, note=a.note, corrects=a.corrects,
        fulfills=a.fulfills, satisfies=a.satisfies, settles=a.settles,
        realization_of=a.realization_of,
        classified_as=tuple(a.classified_as),
    )
    done = client().record(req, detail=OPTS.json)
    if not OPTS.json:
        print(done["address"])
        return
    emit(done)
