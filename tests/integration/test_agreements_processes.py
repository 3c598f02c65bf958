"""Countersigned agreements between cooperatives, each its own `coledger run` process with
real libp2p on 127.0.0.1, driven from the command line: the mill proposes flour for the
bakery's money (one clause satisfying the bakery's request), the bakery sees the clauses
in `pending` and accepts, and both list the same agreement with the same clause addresses,
which a third member's node holds and validated; a delivery fulfilling a clause shows in
both parties' commitments; a decline, and an agreement the rules refuse, write nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.processes import (
    ROOT,
    cli,
    cli_background,
    cooperatives,
    env,
    wait_until,
)

pytestmark = pytest.mark.slow
NAMES = ["mill", "bakery", "shop"]


@pytest.fixture(scope="module")
def coops(tmp_path_factory):
    root: Path = tmp_path_factory.mktemp("agree")
    homes, ids, nodes = cooperatives(root, NAMES)
    wait_until(lambda: all(n.status()["peers"] == len(NAMES) - 1 for n in nodes.values()),
               timeout=60, what="a full mesh")
    flour = cli(homes["mill"], "spec", "create", "flour", "--unit", "kg")["address"]
    euros = cli(homes["bakery"], "spec", "create", "euros", "--unit", "EUR")["address"]
    request = cli(homes["bakery"], "request", "--spec", flour, "--quantity", "500 kg")
    yield homes, ids, nodes, flour, euros, request["intents"][0]
    for node in nodes.values():
        node.stop()


def text(home: Path, *args: str) -> str:
    """A command's text output (not --json)."""
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "--home", str(home), *args],
                          capture_output=True, text=True, env=env(), timeout=60,
                          cwd=home.parent)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def pending_on(home: Path) -> dict:
    found: list[dict] = []
    wait_until(lambda: found.extend(s for s in cli(home, "pending") if s["state"] == "pending")
               or bool(found), timeout=30, what="the proposal to arrive")
    return found[0]


def propose(coops, *clauses: str, wait: str = "30"):
    homes, ids, *_ = coops
    return cli_background(homes["mill"], "agree", "--with", ids["bakery"], *clauses,
                          "--name", "flour for bread", "--wait", wait)


def test_an_agreement_accepted_is_the_same_on_both_chains(coops):
    homes, ids, nodes, flour, euros, request = coops
    proc = propose(coops, "--give", f"300 kg of {flour} by 2027-03-01 satisfies {request}",
                   "--get", f"450 EUR of {euros} by 2027-03-15")
    session = pending_on(homes["bakery"])
    assert session["entry_type"] == "valueflows.CountersignedAgreement"
    shown = text(homes["bakery"], "pending")
    assert "agreement of 2 clauses from" in shown and "transfer 300 kilogram of" in shown
    assert f"satisfies {request}" in shown and "450 euro" in shown
    accepted = cli(homes["bakery"], "accept", session["id"][:10])
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    address = json.loads(out)["event"]
    assert accepted["state"] == "committed" and accepted["event"] == address
    mills, bakeries = cli(homes["mill"], "agreements"), cli(homes["bakery"], "agreements")
    assert mills == bakeries and [a["address"] for a in mills] == [address]
    [agreement] = mills
    assert agreement["name"] == "flour for bread"
    assert set(agreement["parties"]) == {ids["mill"], ids["bakery"]}
    give, get = agreement["clauses"]
    assert (give["provider"], give["receiver"], give["resource_conforms_to"]) == (
        ids["mill"], ids["bakery"], flour)
    assert give["quantity"] == {"hasNumericalValue": "300", "hasUnit": "kilogram"}
    assert give["satisfies"] == request and get["provider"] == ids["bakery"]
    assert get["quantity"]["hasUnit"] == "euro" and get["due"] > give["due"]
    assert give["address"] in text(homes["mill"], "agreements")
    # the mill delivers 100 kg, a countersigned transfer fulfilling its clause: both
    # parties' commitments show it, 200 kg remaining
    flour_stock = cli(homes["mill"], "record", "raise", "--resource", "new:flour",
                      "--conforms-to", flour, "--quantity", "1000 kg")["created_resources"]
    delivery = cli_background(homes["mill"], "record", "transfer", "--resource",
                              flour_stock["flour"], "--quantity", "100 kg", "--to",
                              ids["bakery"], "--fulfills", give["address"],
                              "--realization-of", address, "--wait", "30")
    cli(homes["bakery"], "accept", pending_on(homes["bakery"])["id"])
    out, err = delivery.communicate(timeout=60)
    assert delivery.returncode == 0, err
    for name in ("mill", "bakery"):
        rows = {r["address"]: r for r in cli(homes[name], "commitments")}
        assert set(rows) == {give["address"], get["address"]}
        assert rows[give["address"]]["fulfilled"]["hasNumericalValue"] == "100"
        assert rows[give["address"]]["remaining"]["hasNumericalValue"] == "200"
        assert rows[get["address"]]["fulfilled"]["hasNumericalValue"] == "0"
    for name in ("mill", "bakery"):
        cli(homes[name], "sync", "--timeout", "60")
    got = cli(homes["shop"], "get", address)  # a third member fetches the agreement
    assert got["entry_address"] == address
    assert all(n.status()["ops"].get("rejected", 0) == 0 for n in nodes.values())


def test_a_declined_or_refused_agreement_writes_nothing(coops):
    homes, ids, nodes, flour, euros, request = coops
    before = {n: len(cli(homes[n], "chain", "show")) for n in ("mill", "bakery")}
    agreed = {n: cli(homes[n], "agreements") for n in ("mill", "bakery")}
    proc = propose(coops, "--give", f"10 kg of {flour} by 2027-04-01",
                   "--get", f"15 EUR of {euros} by 2027-04-01")
    session = pending_on(homes["bakery"])
    cli(homes["bakery"], "decline", session["id"], "--reason", "too dear")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "declined" in err and "too dear" in err
    assert len(err.strip().splitlines()) == 1
    # refused before anything is proposed: a clause of nothing, an unknown unit, one-way
    for clauses, rule in (
        (["--give", "0 kg by 2027-04-01", "--get", "1 EUR by 2027-04-01"], "check_clause_flow"),
        (["--give", "1 parsec by 2027-04-01", "--get", "1 EUR by 2027-04-01"],
         "clause 1 of what you give"),
    ):
        done = cli(homes["mill"], "agree", "--with", ids["bakery"], *clauses, check=False)
        assert done.returncode != 0 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert rule in done.stderr
    one_way = cli(homes["mill"], "agree", "--with", ids["bakery"], "--give", "1 kg by 2027-04-01",
                  check=False)
    assert one_way.returncode != 0 and "reciprocal" in one_way.stderr
    assert {n: len(cli(homes[n], "chain", "show")) for n in ("mill", "bakery")} == before
    assert {n: cli(homes[n], "agreements") for n in ("mill", "bakery")} == agreed
    assert not [s for s in cli(homes["bakery"], "pending") if s["state"] == "pending"]
