"""A small EPCIS tracer for tests: what an EPCIS-only reader knows of where goods came from.

It reads only EPCIS documents (any number, from different cooperatives): goods are the
epcClass of quantity elements (a lot-level class names one lot wherever it appears), and a
TransformationEvent says its outputs came from its inputs. Tracing a class walks back
through every TransformationEvent that output it, to its inputs, never twice.

`vf_lots` reads a trace as `coledger trace` prints it (kind, address, distance, action) and
names each resource by its lot: a resource reached through a transfer or move is the lot of
the resource it came from; goods that only came in by cite or use are left out, as EPCIS
cannot say them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

CARRIERS = frozenset({"transfer", "transferAllRights", "transferCustody", "move"})
NOT_GOODS = frozenset({"cite", "use", "work", "deliverService"})


def epcis_trace(documents: Iterable[Mapping[str, Any]], start: str) -> tuple[set[str], set[str]]:
    """(the classes `start` came from, itself included; the transformationIDs walked)."""
    made_by: dict[str, list[Mapping[str, Any]]] = {}
    events: dict[str, Mapping[str, Any]] = {}
    for document in documents:
        for event in document["epcisBody"]["eventList"]:
            events.setdefault(event["eventID"], event)  # one event written on two chains
    for event in events.values():
        if event["type"] == "TransformationEvent":
            for element in event.get("outputQuantityList", []):
                made_by.setdefault(element["epcClass"], []).append(event)
    classes, transformations, stack = {start}, set(), [start]
    while stack:
        for event in made_by.get(stack.pop(), []):
            transformations.add(event["transformationID"])
            for element in event.get("inputQuantityList", []):
                if element["epcClass"] not in classes:
                    classes.add(element["epcClass"])
                    stack.append(element["epcClass"])
    return classes, transformations


def vf_lots(trace: list[Mapping[str, Any]]) -> tuple[set[str], set[str]]:
    """(the lots of the goods in a VF trace, each named by its first resource; the
    processes), from nodes in walk order with their distance."""
    path: list[Mapping[str, Any]] = []
    same: dict[str, str] = {}  # resource -> the resource it came from by a transfer or move
    resources: list[str] = []
    processes: set[str] = set()
    for node in trace:
        del path[node["distance"]:]
        parent = path[-1] if path else None
        grand = path[-2] if len(path) > 1 else None
        path.append(node)
        if any(n.get("action") in NOT_GOODS for n in path[:-1]):
            continue  # reached through a citation, a use or work: not goods in EPCIS
        if node["kind"] == "Process":
            processes.add(node["address"])
        elif node["kind"] == "EconomicResource":
            resources.append(node["address"])
            if parent is not None and parent.get("action") in CARRIERS and grand is not None:
                same[grand["address"]] = node["address"]

    def lot(resource: str) -> str:
        while resource in same:
            resource = same[resource]
        return resource

    return {lot(r) for r in resources}, processes
