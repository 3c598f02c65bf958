"""Resource classification from the command line, on a real home without a node: a
specification says what its resources are (`spec create --classified-as`), an event says
what the resource it creates or touches is (`record ... --classified-as`, VF's
resourceClassifiedAs, and a new:NAME resource's classifiedAs), and `inventory` shows each
resource's classifications, its own, those its events gave it and its specification's."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_home import CliHome


@pytest.fixture
def farm(tmp_path: Path, capsys: pytest.CaptureFixture[str],
         monkeypatch: pytest.MonkeyPatch) -> CliHome:
    monkeypatch.setenv("COLEDGER_PASSPHRASE", "classified test")
    monkeypatch.chdir(tmp_path)
    home = CliHome(tmp_path / "farm", capsys)
    home("init", "--name", "Farm")
    home("network", "create", "valley")
    return home


def test_what_a_cooperative_holds_is_classified_and_the_inventory_shows_it(farm) -> None:  # type: ignore[no-untyped-def]
    bran = farm("spec", "create", "bran", "--unit", "kg", "--classified-as", "organic",
                "--classified-as", "feed")["address"]  # type: ignore[index]
    assert farm("get", bran)["entry"]["resourceClassifiedAs"] == ["organic", "feed"]  # type: ignore[index]
    milling = farm("process", "create", "milling")["address"]  # type: ignore[index]
    made = farm("record", "produce", "--resource", "new:bran", "--conforms-to", bran,
                "--quantity", "400 kg", "--output-of", milling, "--classified-as", "byproduct",
                "--classified-as", "byproduct")
    resource = made["created_resources"]["bran"]  # type: ignore[index]
    assert made["event"]["resourceClassifiedAs"] == ["byproduct"]  # type: ignore[index]
    assert farm("get", resource)["entry"]["classifiedAs"] == ["byproduct"]  # type: ignore[index]
    wheat = farm("record", "raise", "--resource", "new:wheat", "--quantity", "1 t")
    rows = {r["name"]: r for r in farm("inventory")}  # type: ignore[union-attr, index]
    assert rows["bran"]["classifiedAs"] == ["byproduct", "organic", "feed"]
    assert rows["wheat"]["classifiedAs"] == []
    # what it holds already is classified by an event naming it (its resourceClassifiedAs)
    farm("record", "produce", "--resource", resource, "--quantity", "50 kg", "--output-of",
         milling, "--classified-as", "waste")
    rows = {r["name"]: r for r in farm("inventory")}  # type: ignore[union-attr, index]
    assert rows["bran"]["classifiedAs"] == ["byproduct", "waste", "organic", "feed"]
    table = farm.text("inventory")
    assert "[byproduct, waste, organic, feed]" in table
    assert wheat["created_resources"]["wheat"] in table  # type: ignore[index]
    # a process specification has no resources to classify
    before = farm.length()
    assert "--classified-as" in farm.fails("spec", "create", "milling", "--process",
                                           "--classified-as", "waste")
    assert farm.length() == before
