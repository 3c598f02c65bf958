"""The action-effects table matches the VF 1.0 ontology, cell by cell."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import RDF, Graph, Namespace, URIRef

from zomes.valueflows.actions import ACTIONS, VF_PROPERTIES, actions_as_json

# the VF 1.0 ontology, kept in the project beside the action table that restates it
TTL = Path(__file__).resolve().parents[2] / "zomes" / "valueflows" / "valueflows-1.0.ttl"
VF = Namespace("https://w3id.org/valueflows/ont/vf#")


def _local(term: URIRef) -> str:
    return str(term).rsplit("#", 1)[1]


@pytest.fixture(scope="module")
def ttl_table() -> dict[str, dict[str, str]]:
    """Every vf:Action individual with its effect properties, read from the ontology."""
    graph = Graph().parse(TTL, format="turtle")
    table: dict[str, dict[str, str]] = {}
    for action in graph.subjects(RDF.type, VF.Action):
        row: dict[str, str] = {}
        for prop in VF_PROPERTIES:
            values = list(graph.objects(action, VF[prop]))
            assert len(values) == 1, f"{action} has {len(values)} values for {prop}"
            row[prop] = _local(values[0])
        table[_local(action)] = row
    return table


def test_the_actions_are_exactly_the_ontology_ones(ttl_table: dict[str, dict[str, str]]) -> None:
    assert set(ACTIONS) == set(ttl_table)
    assert len(ACTIONS) == 19


def test_every_cell_matches_the_ontology(ttl_table: dict[str, dict[str, str]]) -> None:
    mismatches = [
        (row["action"], prop, row[prop], ttl_table[row["action"]][prop])
        for row in actions_as_json()
        for prop in VF_PROPERTIES
        if row[prop] != ttl_table[row["action"]][prop]
    ]
    assert mismatches == []


def test_json_rows_are_keyed_by_vf_names() -> None:
    rows = actions_as_json()
    assert [row["action"] for row in rows] == sorted(ACTIONS)
    assert all(list(row) == ["action", *VF_PROPERTIES] for row in rows)
    produce = next(row for row in rows if row["action"] == "produce")
    assert produce["createResource"] == "optional"
    assert produce["accountingEffect"] == "increment"


def test_pairs_are_symmetric() -> None:
    for name, effects in ACTIONS.items():
        if effects.pairs_with != "notApplicable":
            assert ACTIONS[effects.pairs_with].pairs_with == name
