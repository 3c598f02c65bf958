"""The accounting scenario across real nodes: a farm, a mill, a bakery and an energy
cooperative, each its own `coledger run` process on 127.0.0.1. Wheat and electricity go
to the mill and flour to the bakery as countersigned transfers; then, from the bakery's
command line: bread traced to the wheat across three chains, the bakery's income shared
by a value equation, a footprint holding the mill's electricity and the farm's diesel,
and exports that validate."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
import rdflib
from pyld import jsonld as pyld  # type: ignore[import-untyped]
from rdflib.compare import isomorphic

from tests.integration.processes import cli, cooperatives, wait_until

pytestmark = pytest.mark.slow
NAMES = ["farm", "mill", "bakery", "energy"]


def made(result: dict, name: str) -> str:
    return str(result["created_resources"][name])


def own_resource(home: Path, name: str) -> str:
    return next(r["address"] for r in cli(home, "inventory") if r["name"] == name)


@pytest.fixture(scope="module")
def valley(tmp_path_factory):
    root: Path = tmp_path_factory.mktemp("valley")
    accept = {"mill": ["farm", "energy", "bakery"], "bakery": ["mill"], "farm": ["bakery"]}
    homes, ids, nodes = cooperatives(root, NAMES, accept)
    wait_until(lambda: all(n.status()["peers"] == len(NAMES) - 1 for n in nodes.values()),
               timeout=60, what="a full mesh")
    x = produce_bread(homes, ids)
    for home in homes.values():
        cli(home, "sync", "--timeout", "60")
    yield homes, ids, x
    for node in nodes.values():
        node.stop()


def produce_bread(homes: dict[str, Path], ids: dict[str, str]) -> dict[str, str]:
    farm, mill, bakery, energy = (homes[n] for n in NAMES)
    x: dict[str, str] = {}
    x["wheat_spec"] = cli(farm, "spec", "create", "wheat", "--unit", "kg")["address"]
    x["diesel_spec"] = cli(farm, "spec", "create", "diesel", "--unit", "l")["address"]
    cli(farm, "footprint", "declare", x["diesel_spec"], "--per", "l", "--factor", "energy=38.6MJ",
        "--factor", "emissions=2.68kgCO2e", "--factor", "material:diesel=0.832kg")
    growing = cli(farm, "process", "create", "growing")["address"]
    diesel = made(cli(farm, "record", "raise", "--resource", "new:diesel",
                      "--conforms-to", x["diesel_spec"], "--quantity", "100 l"), "diesel")
    cli(farm, "record", "consume", "--resource", diesel, "--quantity", "12 l",
        "--input-of", growing)
    cli(farm, "record", "work", "--effort", "10 h", "--input-of", growing)
    x["wheat"] = made(cli(farm, "record", "produce", "--resource", "new:wheat", "--conforms-to",
                          x["wheat_spec"], "--quantity", "1000 kg", "--output-of", growing),
                      "wheat")
    x["power_spec"] = cli(energy, "spec", "create", "electricity", "--unit", "kWh")["address"]
    cli(energy, "footprint", "declare", x["power_spec"], "--per", "kWh",
        "--factor", "energy=3.6MJ", "--factor", "emissions=0.25kgCO2e")
    grid = made(cli(energy, "record", "raise", "--resource", "new:grid",
                    "--conforms-to", x["power_spec"], "--quantity", "1000 kWh"), "grid")
    # deliveries: one event each, signed by both, written on both chains
    cli(farm, "record", "transfer", "--resource", x["wheat"], "--quantity", "400 kg",
        "--to", ids["mill"], "--to-resource", "new:grain", "--wait", "30")
    cli(energy, "record", "transfer", "--resource", grid, "--quantity", "200 kWh",
        "--to", ids["mill"], "--to-resource", "new:power", "--wait", "30")
    milling = cli(mill, "process", "create", "milling")["address"]
    cli(mill, "record", "consume", "--resource", own_resource(mill, "grain"),
        "--quantity", "400 kg", "--input-of", milling)
    cli(mill, "record", "consume", "--resource", own_resource(mill, "power"),
        "--quantity", "40 kWh", "--input-of", milling)
    cli(mill, "record", "work", "--effort", "3 h", "--input-of", milling)
    flour = made(cli(mill, "record", "produce", "--resource", "new:flour", "--quantity", "300 kg",
                     "--output-of", milling), "flour")
    cli(mill, "record", "transfer", "--resource", flour, "--quantity", "250 kg",
        "--to", ids["bakery"], "--to-resource", "new:flour", "--wait", "30")
    baking = cli(bakery, "process", "create", "baking")["address"]
    cli(bakery, "record", "consume", "--resource", own_resource(bakery, "flour"),
        "--quantity", "250 kg", "--input-of", baking)
    cli(bakery, "record", "work", "--effort", "7 h", "--input-of", baking)
    # loaves counted in pieces: PACT declares bread per piece, with a piece's mass
    x["bread_spec"] = cli(bakery, "spec", "create", "bread", "--unit", "one",
                          "--mass", "0.6 kg")["address"]
    x["bread"] = made(cli(bakery, "record", "produce", "--resource", "new:bread",
                          "--conforms-to", x["bread_spec"], "--quantity", "400 one",
                          "--output-of", baking), "bread")
    return x


def test_bread_is_traced_to_the_wheat_across_three_chains(valley):
    homes, ids, x = valley
    trace = cli(homes["bakery"], "trace", x["bread"])
    addresses = [n["address"] for n in trace]
    assert x["wheat"] in addresses  # the farm's resource, on the farm's chain
    transfers = [n for n in trace if n.get("action") == "transfer"]
    assert {(t["provider"], t["receiver"]) for t in transfers} >= {(ids["farm"], ids["mill"]),
                                                                   (ids["mill"], ids["bakery"])}


def test_flows_count_each_countersigned_transfer_once(valley):
    homes, ids, x = valley
    matrix = cli(homes["bakery"], "report", "flows")
    transfers = {(r["provider"], r["receiver"]): r["quantity"]["hasNumericalValue"]
                 for r in matrix["rows"] if r["action"] == "transfer"}
    assert transfers[(ids["farm"], ids["mill"])] == "400"  # on both chains, one event
    assert transfers[(ids["energy"], ids["mill"])] == "200"
    assert transfers[(ids["mill"], ids["bakery"])] == "250"


def test_the_bakerys_income_is_shared_by_contribution(valley, tmp_path):
    homes, ids, x = valley
    equation = {"name": "bread 2026", "buckets": [
        {"name": "labour", "percentage": 60, "rules": [
            {"action": "work", "rate": "25", "per": "h"}]},
        {"name": "materials", "percentage": 40, "rules": [
            {"action": "consume", "rate": "0", "per": "kg", "rates": [
                {"conformsTo": x["wheat_spec"], "rate": "0.4", "per": "kg"},
                {"conformsTo": x["diesel_spec"], "rate": "1.6", "per": "l"},
                {"conformsTo": x["power_spec"], "rate": "0.2", "per": "kWh"}]}]}]}
    path = tmp_path / "equation.json"
    path.write_text(json.dumps(equation))
    cli(homes["bakery"], "equation", "create", str(path))
    report = cli(homes["bakery"], "report", "contributions", "--output", x["bread"],
                 "--income", "1000 EUR", "--equation", "bread 2026")
    shares = {s["agent"]: Decimal(s["share"]) for s in report["agents"]}
    assert sum(shares.values()) == Decimal("1000.00")
    assert ({ids["farm"], ids["mill"], ids["bakery"]} <= set(shares)
            and all(v > 0 for v in shares.values()))
    assert all(v == v.quantize(Decimal("0.01")) for v in shares.values())
    # the distribution recorded as transfers, each countersigned by its contributor
    till = made(cli(homes["bakery"], "record", "raise", "--resource", "new:till",
                    "--quantity", "1000 EUR"), "till")
    paid = cli(homes["bakery"], "report", "contributions", "--output", x["bread"],
               "--income", "1000 EUR", "--equation", "bread 2026", "--pay-from", till,
               "--wait", "30")
    assert {d["agent"] for d in paid["distribution"]} == set(shares) - {ids["bakery"]}
    assert all(d.get("event") for d in paid["distribution"]), paid["distribution"]
    for name in ("farm", "mill"):
        received = [r for r in cli(homes[name], "inventory") if r["name"] == "till"]
        assert Decimal(received[0]["accountingQuantity"]["hasNumericalValue"]) == shares[ids[name]]
    left = [r for r in cli(homes["bakery"], "inventory") if r["name"] == "till"][0]
    assert Decimal(left["accountingQuantity"]["hasNumericalValue"]) == shares[ids["bakery"]]


def test_the_footprint_holds_the_mills_electricity_and_the_farms_diesel(valley):
    homes, ids, x = valley
    report = cli(homes["bakery"], "report", "footprint", x["bread"])
    assert {p["spec"] for p in report["parts"]} == {x["diesel_spec"], x["power_spec"]}
    # by mass: 400 of the farm's 1000 kg wheat carry 4.8 l of diesel; 250 of the mill's 300 kg
    # flour carry 5/6 of that and of the 40 kWh
    expected = (Decimal("4.8") * Decimal("2.68") + 40 * Decimal("0.25")) * 250 / 300
    emissions = Decimal(report["totals"]["emissions"]["hasNumericalValue"])
    assert abs(emissions - expected) < Decimal("0.001"), (emissions, expected)


def test_the_exports_validate(valley):
    from zomes.accounting.pact import validate_pact

    homes, ids, x = valley
    bakery = homes["bakery"]
    document = bakery.parent / "valley.jsonld"
    cli(bakery, "export", "--format", "vf-jsonld", "--network", "--output", str(document))
    graph = rdflib.Graph().parse(document, format="json-ld")
    vf_event = rdflib.URIRef("https://w3id.org/valueflows/ont/vf#EconomicEvent")
    assert len(set(graph.subjects(rdflib.RDF.type, vf_event))) >= 14
    # pyld expands the network's export and the mill's own to the graphs rdflib reads
    mine = bakery.parent / "mill.jsonld"
    cli(homes["mill"], "export", "--format", "vf-jsonld", "--output", str(mine))
    for path in (document, mine):
        nquads = pyld.to_rdf(json.loads(path.read_text()), {"format": "application/n-quads"})
        by_pyld = rdflib.Graph().parse(data=nquads, format="nt")
        assert isomorphic(by_pyld, rdflib.Graph().parse(path, format="json-ld")), path.name
    epcis_file = bakery.parent / "valley.epcis.json"
    cli(bakery, "export", "--format", "epcis", "--network", "--output", str(epcis_file))
    kinds = [e["type"] for e in json.loads(epcis_file.read_text())["epcisBody"]["eventList"]]
    assert kinds.count("TransactionEvent") >= 3 and "TransformationEvent" in kinds
    # the mill's own events include the transfers it countersigned, given and received
    rows = list(csv.DictReader(io.StringIO(cli(homes["mill"], "export", "--format", "csv")["csv"])))
    transfers = {(r["provider"], r["receiver"]) for r in rows if r["action"] == "transfer"}
    assert {
        (ids["farm"], ids["mill"]), (ids["energy"], ids["mill"]), (ids["mill"], ids["bakery"])
    } <= transfers
    pact_file = bakery.parent / "bread.pact.json"
    cli(bakery, "export", "--format", "pact", "--resource", x["bread"], "--output", str(pact_file))
    validate_pact(json.loads(pact_file.read_text()))
    pcf = json.loads(pact_file.read_text())["pcf"]
    assert pcf["declaredUnitOfMeasurement"] == "piece"
    assert pcf["productMassPerDeclaredUnit"] == "0.6"


def test_bread_is_traced_to_the_wheat_from_three_epcis_documents(valley):
    """Each cooperative exports its own EPCIS document; read alone, the three give the same
    lots and processes as `coledger trace` over the chains."""
    from tests.epcis_tracer import epcis_trace, vf_lots
    from zomes.accounting.epcis_identity import validate_epcis

    homes, ids, x = valley
    documents = []
    for name in ("farm", "mill", "bakery"):
        path = homes[name].parent / f"{name}.epcis.json"
        cli(homes[name], "export", "--format", "epcis", "--output", str(path))
        documents.append(json.loads(path.read_text(), parse_float=Decimal))
        validate_epcis(documents[-1])
    bread = next(q["epcClass"] for d in documents for e in d["epcisBody"]["eventList"]
                 for q in e.get("outputQuantityList", []) if q["epcClass"].endswith(x["bread"]))
    classes, transformations = epcis_trace(documents, bread)
    lots, processes = vf_lots(cli(homes["bakery"], "trace", x["bread"]))
    assert x["wheat"] in lots and len(lots) == 5  # bread, flour, wheat, power, diesel
    assert {c.rsplit("lot:", 1)[1] for c in classes} == lots
    assert transformations == {f"urn:coledger:{p}" for p in processes}
