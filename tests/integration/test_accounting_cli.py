"""Accounting on the command line, on real homes (SQLite files on disk), without a node.

A farm and a mill on one network: the farm grows wheat with diesel and work, and consumes
it into the mill's milling process; the mill adds electricity and work and produces flour.
Each home holds the other's chain as a DHT authority would (delivered and validated here,
as the network would do it), so reports read both chains from the local store.

Reports: flows (table, matrix, Sankey SVG and HTML, a date window), contributions by a value
equation (shares to the cent, summing exactly to the income), footprint (the farm's diesel
and the mill's electricity in the flour; a budget's quotient; perma-circularity). Exports in
the four formats; import of one home's VF JSON-LD into another, giving the same events;
every error one line with nothing written.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
import rdflib

from tests.cli_home import CliHome

PASS = "accounting cli test"


Home = CliHome  # a home, as these tests call it


def deliver(source: Path, target: Path) -> None:
    """What publishing and gossip would do: the source chain's ops, validated into the
    target's DHT store."""
    from node.api import open_agent, open_ledger
    from node.core.clock import now_us
    from node.core.ops import produce_ops
    from node.runtime.validate import ValidationWorkflow

    with open_agent(source, lambda: PASS) as agent:
        ops = [op for record in agent.store.records() for op in produce_ops(record)]
    with open_ledger(target, lambda: PASS) as led:
        led.dht.add_ops(ops, now_us())
        ValidationWorkflow(led.dht, led.deps(), led.validator, led.agent.key()).run(now_us())


def made(result: object, name: str) -> str:
    assert isinstance(result, dict)
    return str(result["created_resources"][name])


@pytest.fixture
def coops(tmp_path, capsys, monkeypatch) -> dict[str, object]:
    monkeypatch.setenv("COLEDGER_PASSPHRASE", PASS)
    monkeypatch.chdir(tmp_path)
    farm, mill = Home(tmp_path / "farm", capsys), Home(tmp_path / "mill", capsys)
    ids = {"farm": farm("init", "--name", "Farm")["agent_id"],
           "mill": mill("init", "--name", "Mill")["agent_id"]}
    farm("network", "create", "valley", "--out", str(tmp_path / "valley.network.json"))
    token = farm("invite", ids["mill"])["token"]
    mill("join", str(tmp_path / "valley.network.json"), "--invite", token)
    x: dict[str, str] = {}
    x["wheat_spec"] = farm("spec", "create", "wheat", "--unit", "kg")["address"]
    x["diesel_spec"] = farm("spec", "create", "diesel", "--unit", "l")["address"]
    x["growing"] = farm("process", "create", "growing")["address"]
    x["diesel"] = made(farm("record", "raise", "--resource", "new:diesel",
                            "--conforms-to", x["diesel_spec"], "--quantity", "100 l",
                            "--at", "2025-02-01T00:00:00+00:00"), "diesel")
    farm("record", "consume", "--resource", x["diesel"], "--quantity", "12 l",
         "--input-of", x["growing"], "--at", "2025-03-01T00:00:00+00:00")
    farm("record", "work", "--effort", "10 h", "--input-of", x["growing"],
         "--at", "2025-03-02T00:00:00+00:00")
    x["wheat"] = made(farm("record", "produce", "--resource", "new:wheat",
                           "--conforms-to", x["wheat_spec"],
                           "--quantity", "1000 kg", "--output-of", x["growing"],
                           "--at", "2025-08-01T00:00:00+00:00"), "wheat")
    farm("footprint", "declare", x["diesel_spec"], "--per", "l", "--factor", "energy=38.6MJ",
         "--factor", "emissions=2.68kgCO2e", "--factor", "material:diesel=0.832kg")
    x["electricity_spec"] = mill("spec", "create", "electricity", "--unit", "kWh")["address"]
    x["milling"] = mill("process", "create", "milling")["address"]
    deliver(mill.home, farm.home)
    farm("record", "consume", "--resource", x["wheat"], "--quantity", "1000 kg",
         "--input-of", x["milling"], "--at", "2026-01-10T00:00:00+00:00")
    x["grid"] = made(mill("record", "raise", "--resource", "new:grid",
                          "--conforms-to", x["electricity_spec"], "--quantity", "500 kWh",
                          "--at", "2026-01-01T00:00:00+00:00"), "grid")
    mill("record", "consume", "--resource", x["grid"], "--quantity", "40 kWh",
         "--input-of", x["milling"], "--at", "2026-01-11T00:00:00+00:00")
    mill("record", "work", "--effort", "8 h", "--input-of", x["milling"],
         "--at", "2026-01-11T00:00:00+00:00")
    x["flour"] = made(mill("record", "produce", "--resource", "new:flour", "--quantity", "800 kg",
                           "--output-of", x["milling"], "--at", "2026-01-12T00:00:00+00:00"),
                      "flour")
    mill("footprint", "declare", x["electricity_spec"], "--per", "kWh", "--factor", "energy=3.6MJ",
         "--factor", "emissions=0.25kgCO2e")
    deliver(farm.home, mill.home)
    deliver(mill.home, farm.home)
    return {"farm": farm, "mill": mill, "ids": ids, "x": x, "root": tmp_path}


def test_flows_between_agents_as_a_table_a_matrix_and_sankey_diagrams(coops):
    mill, ids, x, root = coops["mill"], coops["ids"], coops["x"], coops["root"]
    matrix = mill("report", "flows")
    rows = {(r["provider"], r["action"], r["spec"]): r["quantity"] for r in matrix["rows"]}
    assert rows[(ids["farm"], "consume", x["wheat_spec"])] == {
        "hasNumericalValue": "1000", "hasUnit": "kilogram",
    }
    assert rows[(ids["mill"], "consume", x["electricity_spec"])]["hasNumericalValue"] == "40"
    assert rows[(ids["farm"], "work", None)] == {"hasNumericalValue": "10", "hasUnit": "hour"}
    assert matrix["agents"] == {ids["farm"]: "Farm", ids["mill"]: "Mill"}
    table = mill.text("report", "flows")
    assert "Farm" in table and "wheat" in table and "1000" in table
    only_2026 = mill("report", "flows", "--from", "2026-01-01", "--to", "2026-12-31")
    assert {r["action"] for r in only_2026["rows"]} == {"consume", "raise", "work", "produce"}
    assert all(r["provider"] != ids["farm"] or r["action"] == "consume" for r in only_2026["rows"])
    wheat_only = mill("report", "flows", "--spec", x["wheat_spec"])
    assert {r["spec"] for r in wheat_only["rows"]} == {x["wheat_spec"]}
    svg = root / "flows.svg"
    assert "written to" in mill.text("report", "flows", "--format", "svg", "--output", str(svg))
    drawing = ET.fromstring(svg.read_text())
    assert drawing.tag.endswith("svg") and "Farm" in svg.read_text()
    page = mill.text("report", "flows", "--format", "html")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "Mill" in page


def test_contributions_share_the_income_to_the_cent(coops):
    mill, ids, x, root = coops["mill"], coops["ids"], coops["x"], coops["root"]
    equation = {
        "name": "valley bread",
        "buckets": [
            {"name": "labour", "percentage": 70, "rules": [
                {"action": "work", "rate": "20", "per": "h"}]},
            {"name": "materials", "percentage": "30", "behaviour": "straight", "rules": [
                {"action": "consume", "rate": "0", "per": "kg", "rates": [
                    {"conformsTo": x["wheat_spec"], "rate": "0.3", "per": "kg"},
                    {"conformsTo": x["diesel_spec"], "rate": "1.5", "per": "l"},
                    {"conformsTo": x["electricity_spec"], "rate": "0.2", "per": "kWh"}]}]},
        ],
    }
    path = root / "equation.json"
    path.write_text(json.dumps(equation))
    address = mill("equation", "create", str(path))["address"]
    assert [e["name"] for e in mill("equation", "list")] == ["valley bread"]
    report = mill("report", "contributions", "--output", x["flour"], "--income", "1000 EUR",
                  "--equation", "valley bread")
    assert report["equation"]["address"] == address
    shares = {s["agent"]: Decimal(s["share"]) for s in report["agents"]}
    assert sum(shares.values()) == Decimal("1000.00")
    farm_exact = Fraction(700) * 200 / 360 + Fraction(300) * 318 / 326  # work 10 h; diesel + wheat
    assert abs(Fraction(shares[ids["farm"]]) - farm_exact) <= Fraction(1, 100)
    assert shares[ids["farm"]] == Decimal("681.53") and shares[ids["mill"]] == Decimal("318.47")
    text = mill.text("report", "contributions", "--output", x["flour"], "--income", "1000 EUR",
                     "--equation", address)
    assert "Farm" in text and "681.53" in text


def test_footprint_rolls_up_across_chains_with_budgets_and_circularity(coops):
    mill, farm, x = coops["mill"], coops["farm"], coops["x"]
    mill("budget", "set", "emissions", "--allocated", "10 kgCO2e",
         "--from", "2026-01-01", "--to", "2026-12-31", "--name", "carbon 2026")
    farm("budget", "set", "energy", "--allocated", "1000 MJ",
         "--from", "2025-01-01", "--to", "2025-12-31",
         "--for", "network", "--name", "network energy 2025")
    deliver(farm.home, mill.home)
    report = mill("report", "footprint", x["flour"])
    # 12 l diesel x 2.68 + 40 kWh x 0.25 kgCO2e; 12 x 38.6 + 40 x 3.6 MJ
    assert report["totals"]["emissions"] == {
        "hasNumericalValue": "42.16", "hasUnit": "kilogramCO2e",
    }
    assert report["totals"]["energy"]["hasNumericalValue"] == "607.2"
    assert report["totals"]["material:diesel"]["hasNumericalValue"] == "9.984"
    sources = {p["spec"] for p in report["parts"]}
    assert sources == {x["diesel_spec"], x["electricity_spec"]}
    budgets = {b["name"]: b for b in report["budgets"]}
    # the mill's own electricity
    assert budgets["carbon 2026"]["actual"]["hasNumericalValue"] == "10"
    assert budgets["carbon 2026"]["quotient"] == "1" and budgets["carbon 2026"]["over"] is False
    network = budgets["network energy 2025"]
    assert network["agent"] is None and network["quotient"] == "0.4632"  # 463.2 MJ of diesel
    energy = report["circularity"]["energy"]["periods"]
    assert [p["period"] for p in energy] == ["2025", "2026"] and energy[1]["flagged"] is False
    per_kg = mill("report", "footprint", x["flour"], "--quantity", "1 kg", "--period", "month")
    assert per_kg["totals"]["emissions"]["hasNumericalValue"] == "0.0527"
    text = mill.text("report", "footprint", x["flour"])
    assert "no year with throughput growth above 1 %" in text and "carbon 2026" in text
    assert "2026-01-01 to 2026-12-31" in text and "quotient 1 (within)" in text
    monthly = per_kg["circularity"]
    assert "energy 2026-01" in monthly["flagged"]  # from nothing in 2025-12
    assert len(monthly["energy"]["periods"]) == 11  # 2025-03 to 2026-01, empty months as 0
    err = mill.fails("budget", "set", "water", "--allocated", "1 m3", "--from", "2026-01-01",
                     "--to", "2026-12-31", "--for", "network")
    assert "check_budget_declarer" in err


def test_exports_in_four_formats(coops):
    from zomes.accounting.pact import validate_pact

    mill, x, root = coops["mill"], coops["x"], coops["root"]
    vf = json.loads(mill.text("export", "--format", "vf-jsonld"))
    events = [n for n in vf["@graph"] if n["type"] == "vf:EconomicEvent"]
    assert len(events) == 4  # the mill's own: raise, consume, work, produce
    everyone = json.loads(mill.text("export", "--format", "vf-jsonld", "--network"))
    assert len([n for n in everyone["@graph"] if n["type"] == "vf:EconomicEvent"]) == 9
    graph = rdflib.Graph().parse(data=json.dumps(everyone), format="json-ld")
    vf_event = rdflib.URIRef("https://w3id.org/valueflows/ont/vf#EconomicEvent")
    assert len(set(graph.subjects(rdflib.RDF.type, vf_event))) == 9
    out = mill("export", "--format", "csv", "--network", "--output", str(root / "events.csv"))
    assert out["events"] == 9
    rows = list(csv.DictReader(io.StringIO((root / "events.csv").read_text())))
    assert len(rows) == 9 and {r["action"] for r in rows} >= {"consume", "produce", "work", "raise"}
    assert mill("export", "--format", "csv")["csv"].startswith("address,author,action")
    epcis = json.loads(mill.text("export", "--format", "epcis", "--network"))
    kinds = [e["type"] for e in epcis["epcisBody"]["eventList"]]
    assert kinds.count("TransformationEvent") == 2
    pact = json.loads(mill.text("export", "--format", "pact", "--resource", x["flour"]))
    validate_pact(pact)
    assert pact["pcf"]["pcfExcludingBiogenicUptake"] == "0.0527" and pact["companyName"] == "Mill"


def test_import_of_an_export_gives_the_same_events(coops, tmp_path, capsys):
    farm, ids, root = coops["farm"], coops["ids"], coops["root"]
    document = root / "farm.jsonld"
    farm("export", "--format", "vf-jsonld", "--output", str(document))
    other = Home(tmp_path / "elsewhere", capsys)
    me = other("init", "--name", "Elsewhere")["agent_id"]
    other("network", "create", "elsewhere", "--out", str(tmp_path / "elsewhere.network.json"))
    result = other("import", "--format", "vf-jsonld", str(document), "--agent", f"{ids['farm']}=me")
    assert result["imported"] == 5 and result["skipped"] == 0
    assert result["created"] == {"resources": 2, "processes": 2, "specs": 2}
    again = json.loads(other.text("export", "--format", "vf-jsonld"))
    original = json.loads(document.read_text())
    assert shape(again, me) == shape(original, ids["farm"])
    inventory = {
        r["name"]: r["accountingQuantity"]["hasNumericalValue"] for r in other("inventory")
    }
    assert inventory == {"diesel": "88", "wheat": "0"}
    assert other("chain", "verify")["ok"] is True


def shape(document: dict, me: str) -> list[tuple]:
    """The events with addresses replaced by the names of what they refer to."""
    names = {n["id"]: n.get("name") for n in document["@graph"]}
    out = []
    for n in document["@graph"]:
        if n["type"] != "vf:EconomicEvent":
            continue
        refs = tuple(names.get(n.get(k), n.get(k) and "elsewhere")
                     for k in ("resourceInventoriedAs", "inputOf", "outputOf"))
        quantity = n.get("resourceQuantity") or n.get("effortQuantity")
        out.append((n["action"], n["provider"].endswith(me), n["hasPointInTime"],
                    quantity["hasNumericalValue"], quantity["hasUnit"], refs))
    return out


def test_import_is_all_or_nothing_and_idempotent(coops, tmp_path, capsys):
    farm, ids, root = coops["farm"], coops["ids"], coops["root"]
    document = json.loads(farm.text("export", "--format", "vf-jsonld"))
    before = farm.length()
    again = farm("import", "--format", "vf-jsonld", _write(root / "own.jsonld", document))
    assert again["imported"] == 0 and again["skipped"] == 5 and farm.length() == before
    consume = next(n for n in document["@graph"] if n.get("action") == "vf:consume"
                   and n["resourceQuantity"]["hasNumericalValue"] == "12")
    consume["resourceQuantity"]["hasNumericalValue"] = "120"  # more diesel than was raised
    other = Home(tmp_path / "other", capsys)
    other("init", "--name", "Other")
    other("network", "create", "other", "--out", str(tmp_path / "other.network.json"))
    length = other.length()
    err = other.fails("import", "--format", "vf-jsonld", _write(root / "overdraw.jsonld", document),
                      "--agent", f"{ids['farm']}=me")
    assert "check_balance" in err and "event 2" in err
    assert other.length() == length
    err = other.fails("import", "--format", "vf-jsonld", str(root / "own.jsonld"))
    assert "check_author_is_party" in err  # the farm's events are not this agent's to sign
    assert other.length() == length


def _write(path: Path, document: dict) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def test_errors_are_one_line_and_write_nothing(coops):
    mill, farm, x, root = coops["mill"], coops["farm"], coops["x"], coops["root"]
    before = mill.length()
    assert "no value equation" in mill.fails("report", "contributions", "--output", x["flour"],
                                             "--income", "10 EUR", "--equation", "nope")
    assert "not a resource" in mill.fails("report", "footprint", x["milling"])
    assert "income" in mill.fails("report", "contributions", "--output", x["flour"],
                                  "--income", "ten", "--equation", "x")
    assert "--resource" in mill.fails("export", "--format", "pact")
    assert "quantity" in mill.fails("report", "footprint", x["flour"], "--quantity", "lots")
    assert "ISO date" in mill.fails("report", "flows", "--from", "yesterday")
    assert "check_footprint_specification" in mill.fails(
        "footprint", "declare", x["milling"], "--per", "kg", "--factor", "emissions=1kgCO2e")
    assert "check_footprint_specification" in mill.fails(
        "footprint", "declare", x["electricity_spec"], "--per", "kg",
        "--factor", "emissions=1kgCO2e")
    assert "check_allocation_process" in mill.fails(
        "footprint", "allocate", x["growing"], "--share", f"{x['wheat']}=1")
    assert "factor" in mill.fails("footprint", "declare", x["electricity_spec"], "--per", "kWh",
                                  "--factor", "heat=1MJ")
    (root / "bad.json").write_text('{"name": "x", "buckets": [{"name": "b", "percentage": "120", '
                                   '"recipient": "' + coops["ids"]["farm"] + '"}]}')
    assert "percentage" in mill.fails("equation", "create", str(root / "bad.json"))
    (root / "bad.jsonld").write_text('{"@graph": []}')
    assert "EconomicEvent" in mill.fails(
        "import", "--format", "vf-jsonld", str(root / "bad.jsonld"))
    assert "is not JSON" in mill.fails(
        "import", "--format", "vf-jsonld", str(root / "equation.json")) \
        if (root / "equation.json").exists() else True
    assert mill.length() == before
    target = root / "never.svg"
    mill.fails("report", "flows", "--format", "svg", "--output", str(target),
               "--spec", x["milling"])
    assert not target.exists()
    assert farm("footprint", "allocate", x["growing"],
                "--share", f"{x['wheat']}=1")["process"] == x["growing"]
    (root / "all.json").write_text(json.dumps({"name": "all to the farm", "buckets": [
        {"name": "all", "percentage": "100", "recipient": coops["ids"]["farm"]}]}))
    mill("equation", "create", str(root / "all.json"))
    assert "whole number of cents" in mill.fails(
        "report", "contributions", "--output", x["flour"], "--income", "10.001 EUR",
        "--equation", "all to the farm")
