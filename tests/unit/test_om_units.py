"""Every unit coledger writes is an OM 2.0 unit, checked against OM's own RDF (kept in
tests/data, see OM-2.0-SOURCE.md): its IRI names an OM unit, OM's definitions give it the
same factor as the units table (within each dimension), and coledger's own units (where OM
has no term) are OM unit multiplications of OM units, defined in the exports that use them."""

from __future__ import annotations

import gzip
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import rdflib
from rdflib.namespace import RDF, RDFS

from zomes.accounting.jsonld import (
    CONTEXT,
    EXTENSIONS,
    OM_NAMES,
    OWN_UNITS,
    VF,
    node_id,
    to_vf_jsonld,
    unit_definition,
    unit_iri,
    unit_of_iri,
)
from zomes.accounting.jsonld_import import from_vf_jsonld, read_vf_graph
from zomes.accounting.testing import Chain
from zomes.valueflows.units import OM2, UNITS

OM_RDF = Path(__file__).resolve().parents[1] / "data" / "om-2.0.rdf.gz"
OM = rdflib.Namespace(OM2)


@pytest.fixture(scope="module")
def om() -> rdflib.Graph:
    return rdflib.Graph().parse(data=gzip.decompress(OM_RDF.read_bytes()), format="xml")


def _one(graph: rdflib.Graph, subject: Any, predicate: Any) -> Any:
    values = list(graph.objects(subject, predicate))
    assert len(values) <= 1, f"{subject} has {len(values)} {predicate}"
    return values[0] if values else None


class _Factors:
    """Each OM unit's factor to its dimension's root unit, from OM's own definitions
    (prefix × unit, factor × unit, term × term, numerator / denominator, base ^ exponent);
    a definition cycle (gram = 0.001 kilogram = 1000 gram) is cut where it closes."""

    def __init__(self, graph: rdflib.Graph) -> None:
        self.graph, self.memo, self.busy = graph, dict[Any, Fraction](), set[Any]()

    def of(self, unit: Any) -> Fraction:
        if unit in self.memo:
            return self.memo[unit]
        if unit in self.busy:
            return Fraction(1)
        self.busy.add(unit)
        g = self.graph

        def one(predicate: Any) -> Any:
            return _one(g, unit, predicate)

        base, prefix, term1 = one(OM.hasUnit), one(OM.hasPrefix), one(OM.hasTerm1)
        numerator, power = one(OM.hasNumerator), one(OM.hasBase)
        if prefix is not None:
            factor = Fraction(str(_one(g, prefix, OM.hasFactor))) * self.of(base)
        elif term1 is not None:
            factor = self.of(term1) * self.of(one(OM.hasTerm2))
        elif numerator is not None:
            factor = self.of(numerator) / self.of(one(OM.hasDenominator))
        elif power is not None:
            factor = self.of(power) ** int(one(OM.hasExponent))
        elif base is not None:
            factor = Fraction(str(one(OM.hasFactor) or 1)) * self.of(base)
        else:
            factor = Fraction(1)
        self.busy.discard(unit)
        self.memo[unit] = factor
        return factor


def _unit_classes(om: rdflib.Graph) -> set[Any]:
    return {c for c in om.subjects(RDFS.subClassOf * "+", OM.Unit)} | {OM.Unit}  # type: ignore[operator]


def test_every_unit_is_written_as_an_om_unit_or_one_of_coledgers_own(om: rdflib.Graph) -> None:
    classes = _unit_classes(om)
    assert set(OM_NAMES) | set(OWN_UNITS) == set(UNITS)
    assert not set(OM_NAMES) & set(OWN_UNITS)
    for unit in UNITS:
        iri = rdflib.URIRef(unit_iri(unit))
        if unit in OWN_UNITS:
            assert str(iri) == EXTENSIONS + unit
            assert (iri, None, None) not in om
            continue
        types = set(om.objects(iri, RDF.type))
        assert types & classes, f"{unit} is written as {iri}, not an OM 2.0 unit"
        assert unit_of_iri(str(iri)) == unit  # read back as written
        assert unit_of_iri(iri.replace(OM2, "om2:")) == unit


def test_the_units_known_wrong_before_are_oms_own_names() -> None:
    assert unit_iri("minute") == OM2 + "minute-Time"
    assert unit_iri("second") == OM2 + "second-Time"
    assert unit_iri("kilogramCO2e") == OM2 + "kilogramOfCarbonDioxideEquivalent"
    assert unit_iri("tonneKilometre") == EXTENSIONS + "tonneKilometre"
    assert unit_of_iri("om2:minute") == "minute"  # what older exports wrote still reads


def test_oms_definitions_give_the_units_table_factors(om: rdflib.Graph) -> None:
    factors = _Factors(om)
    ratio: dict[str, Fraction] = {}
    for unit, om_name in OM_NAMES.items():
        theirs = factors.of(OM[om_name])
        ours = Fraction(UNITS[unit].factor)
        dimension = UNITS[unit].dimension
        assert ratio.setdefault(dimension, ours / theirs) == ours / theirs, (
            f"{unit}: {ours} in the table, {theirs} in OM, unlike the other {dimension} units")
    om_dimensions: dict[str, set[Any]] = {}
    for unit, om_name in OM_NAMES.items():  # (OM gives euro and CO2e units no dimension)
        om_dimensions.setdefault(UNITS[unit].dimension, set()).add(
            _one(om, OM[om_name], OM.hasDimension))
    assert all(len(found) == 1 for found in om_dimensions.values()), om_dimensions


def test_own_units_are_om_multiplications_of_om_units(om: rdflib.Graph) -> None:
    classes = _unit_classes(om)
    assert OM.UnitMultiplication in classes
    for unit, (term1, term2, symbol, label) in OWN_UNITS.items():
        assert Fraction(UNITS[unit].factor) == (
            Fraction(UNITS[term1].factor) * Fraction(UNITS[term2].factor))
        assert {UNITS[unit].dimension} == {f"{UNITS[term1].dimension} × {UNITS[term2].dimension}"}
        node = {"@context": CONTEXT, **unit_definition(unit)}
        graph = rdflib.Graph().parse(data=json.dumps(node), format="json-ld")
        iri = rdflib.URIRef(unit_iri(unit))
        assert set(graph.objects(iri, RDF.type)) == {OM.UnitMultiplication}
        for predicate in set(graph.predicates(iri)) - {RDF.type, RDFS.label}:
            assert (predicate, None, None) in om, f"{predicate} is not an OM 2.0 term"
        for predicate, term in ((OM.hasTerm1, term1), (OM.hasTerm2, term2)):
            assert _one(graph, iri, predicate) == rdflib.URIRef(unit_iri(term))
            assert set(om.objects(_one(graph, iri, predicate), RDF.type)) & classes
        assert str(_one(graph, iri, OM.symbol)) == symbol
        assert str(_one(graph, iri, RDFS.label)) == label


def test_an_export_in_every_unit_names_only_om_units_or_units_it_defines(
        om: rdflib.Graph) -> None:
    chain = Chain()
    chain.add_agent("farm")
    for unit in UNITS:
        chain.spec(f"thing in {unit}", unit)
        chain.resource(f"stock in {unit}", f"thing in {unit}", unit)
        chain.event(f"raise {unit}", "raise", "farm", resource_quantity=("1", unit),
                    resource_inventoried_as=f"stock in {unit}")
    document = to_vf_jsonld(chain.events, chain.processes, chain.resources, chain.specs,
                            chain.agents)
    graph = rdflib.Graph().parse(data=json.dumps(document), format="json-ld")
    classes = _unit_classes(om)
    written = {o for p in ("hasUnit", "defaultUnitOfResource")
               for o in graph.objects(None, rdflib.URIRef(VF + p))}
    written |= set(graph.objects(None, rdflib.URIRef(EXTENSIONS + "unitOfResource")))
    units = {u for u in written if isinstance(u, rdflib.URIRef)}
    assert {unit_of_iri(str(u)) for u in units} == set(UNITS)
    for unit in units:
        known = set(om.objects(unit, RDF.type)) | set(graph.objects(unit, RDF.type))
        assert known & classes, f"{unit} is neither an OM 2.0 unit nor defined in the export"
    # and the importer reads every unit back as it was
    copy = json.loads(json.dumps(document))
    assert from_vf_jsonld(copy) == [event.to_content() for _, event in chain.events]
    read = read_vf_graph(copy)["resources"]
    assert {a: read[node_id(a)]["unitOfResource"] for a in chain.resources} == {
        a: r.unit_of_resource for a, r in chain.resources.items()}
