"""The command line as a new user meets it (issue 11, items 18-21), on a real home.

Options after the command, JSON errors and --version; the rules the docs promise,
refused from the command line with the rule's name and nothing written; names from a
chain shown with control characters escaped; messages in words (no regex, no pydantic),
times in ISO 8601; and a way back when the network file is deleted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import cli
from node.core.cid import Cid

PASS = "cli user test"
ESCAPE = "\x1b[2J\x1b[31m"


class Home:
    """`coledger` in-process on one home: (exit code, stdout, stderr) of each run."""

    def __init__(self, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.home, self.capsys = home, capsys

    def run(self, *argv: str, home: bool = True) -> tuple[int, str, str]:
        self.capsys.readouterr()
        try:
            cli.main([*(["--home", str(self.home)] if home else []), *argv])
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
        out, err = self.capsys.readouterr()
        return code, out, err

    def __call__(self, *argv: str) -> Any:
        code, out, err = self.run("--json", *argv)
        assert code == 0, err
        return json.loads(out)

    def fails(self, *argv: str, code: int = 1) -> str:
        got, out, err = self.run(*argv)
        assert got == code, (argv, got, out, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        return err.strip()

    def length(self) -> int:
        return len(self("chain", "show"))


@pytest.fixture
def me(tmp_path: Path, capsys: pytest.CaptureFixture[str],
       monkeypatch: pytest.MonkeyPatch) -> Home:
    monkeypatch.setenv("COLEDGER_PASSPHRASE", PASS)
    monkeypatch.chdir(tmp_path)
    home = Home(tmp_path / "home", capsys)
    home("init", "--name", "coop")
    home("network", "create", "valley")
    return home


@pytest.fixture
def farm(me: Home) -> dict[str, str]:
    spec = me("spec", "create", "wheat", "--unit", "kg")["address"]
    process = me("process", "create", "harvest")["address"]
    made = me("record", "produce", "--resource", "new:wheat", "--conforms-to", spec,
              "--quantity", "100 kg", "--output-of", process)
    return {"spec": spec, "process": process, "wheat": made["created_resources"]["wheat"],
            "event": made["address"]}


# -- item 18: options after the command, JSON errors, --version ---------------------------


def test_json_and_home_are_accepted_after_the_command(me: Home, farm: dict[str, str]) -> None:
    code, out, _ = me.run("record", "work", "--effort", "2 h", "--input-of", farm["process"],
                          "--json")
    assert code == 0 and json.loads(out)["event"]["action"] == "work"
    code, out, _ = me.run("--home", "/nonexistent", "inventory", "--home", str(me.home),
                          "--json", home=False)
    assert code == 0 and json.loads(out)[0]["address"] == farm["wheat"]
    code, out, _ = me.run("inventory", "--json", "--home", str(me.home), home=False)
    assert code == 0 and json.loads(out)[0]["name"] == "wheat"


def test_json_errors_are_json_on_stderr(me: Home, farm: dict[str, str]) -> None:
    cases = [
        (["record", "work", "--effort", "3 kg", "--input-of", farm["process"], "--json"],
         1, "rejected"),
        (["--json", "get", "bafy2bzaceaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
         1, "refused"),
        (["--json", "get", str(Cid.of(b"held by nobody"))], 1, "not_found"),
        (["record", "--json"], 2, "usage"),
        (["run", "--listen", "nope", "--json"], 2, "usage"),
        (["--json", "report", "contributions", "--output", farm["wheat"], "--income", "1 kg",
          "--equation", "x"], 1, "refused"),
    ]
    for argv, code, kind in cases:
        got, out, err = me.run(*argv)
        assert got == code, (argv, err)
        error = json.loads(err)
        assert error["kind"] == kind and error["error"], (argv, error)
        assert kind in cli.ERROR_KINDS and out == ""


def test_version(me: Home) -> None:
    code, out, _ = me.run("--version", home=False)
    assert code == 0 and re.fullmatch(r"coledger \d+\.\d+\.\d+\S*\n", out)


# -- item 19: the rules the docs promise ------------------------------------------------------


def test_the_promised_rules_are_enforced_and_nothing_is_written(
    me: Home, farm: dict[str, str]
) -> None:
    length = me.length()
    cases = {
        "check_unit_dimension": ["record", "work", "--effort", "3 kg",
                                 "--input-of", farm["process"]],
        "check_quantity_nonzero": ["record", "produce", "--resource", farm["wheat"],
                                   "--quantity", "0 kg", "--output-of", farm["process"]],
        "check_event_not_in_future": ["record", "work", "--effort", "1 h", "--input-of",
                                      farm["process"], "--at", "2999-01-01T00:00:00+00:00"],
        "check_transfer_parties": ["record", "transfer", "--resource", farm["wheat"],
                                   "--quantity", "1 kg", "--to-resource", "new:mine again"],
    }
    for rule, argv in cases.items():
        assert f"rejected by {rule}" in me.fails(*argv), rule
    assert me.length() == length
    # within the allowed skew and with a time dimension, the same events are written
    me("record", "work", "--effort", "90 min", "--input-of", farm["process"])
    assert me.length() == length + 1


def test_income_must_be_money_and_an_unratable_event_is_skipped(
    me: Home, farm: dict[str, str], tmp_path: Path
) -> None:
    me("record", "work", "--effort", "2 h", "--input-of", farm["process"])
    me("record", "consume", "--resource", farm["wheat"], "--quantity", "10 kg",
       "--input-of", farm["process"])
    (tmp_path / "eq.json").write_text(json.dumps({"name": "odd", "buckets": [
        {"name": "all", "percentage": "100", "rules": [
            {"action": "work", "rate": "1", "per": "hour"},
            {"action": "consume", "rate": "1", "per": "hour"}]}]}))
    me("equation", "create", str(tmp_path / "eq.json"))
    assert "is not money" in me.fails("report", "contributions", "--output", farm["wheat"],
                                      "--income", "1000 kg", "--equation", "odd")
    report = me("report", "contributions", "--output", farm["wheat"], "--income", "100 EUR",
                "--equation", "odd")
    assert [a["share"] for a in report["agents"]] == ["100.00"]
    assert [s["action"] for s in report["skipped"]] == ["consume"]
    code, out, _ = me.run("report", "contributions", "--output", farm["wheat"],
                          "--income", "100 EUR", "--equation", "odd")
    assert code == 0 and "skipped consume event" in out and "per hour" in out


# -- item 20: control characters from a chain are shown escaped -------------------------------


def test_names_with_escape_codes_are_shown_escaped(me: Home) -> None:
    spec = me("spec", "create", f"wheat{ESCAPE}", "--unit", "kg")["address"]
    process = me("process", "create", f"mill{ESCAPE}\nFAKE LINE")["address"]
    made = me("record", "produce", "--resource", f"new:res{ESCAPE}", "--conforms-to", spec,
              "--quantity", "5 kg", "--output-of", process, "--note", f"note{ESCAPE}")
    resource = made["created_resources"][f"res{ESCAPE}"]
    outputs = {
        "inventory": me.run("inventory"),
        "trace": me.run("trace", resource),
        "chain show": me.run("chain", "show"),
        "get": me.run("get", made["address"]),
        "report flows": me.run("report", "flows"),
        "report flows svg": me.run("report", "flows", "--format", "svg"),
        "equation list": me.run("equation", "list"),
    }
    for name, (code, out, err) in outputs.items():
        assert code == 0, (name, err)
        assert "\x1b" not in out + err, name
    assert "res\\x1b[2J\\x1b[31m" in outputs["inventory"][1]
    assert "mill\\x1b[2J\\x1b[31m\\nFAKE LINE" in outputs["trace"][1]
    assert "wheat\\x1b[2J" in outputs["report flows"][1]
    assert "\\u001b[2J" in outputs["get"][1] or "\\x1b[2J" in outputs["get"][1]
    # --json keeps the data as it is (JSON escapes it on its own)
    assert me("inventory")[0]["name"] == f"res{ESCAPE}"


def test_an_error_quoting_hostile_text_is_escaped(me: Home) -> None:
    err = me.fails("record", f"produce{ESCAPE}")
    assert "\x1b" not in err and "\\x1b" in err


# -- item 21: words, ISO times, the network file ---------------------------------------------


def test_messages_speak_words_not_regex_or_pydantic(me: Home, farm: dict[str, str]) -> None:
    said = {
        "empty name": me.fails("spec", "create", "", "--unit", "kg"),
        "long name": me.fails("process", "create", "x" * 600),
        "bad agent": me.fails("record", "transfer", "--provider", "someone", "--quantity",
                              "1 kg", "--resource", farm["wheat"]),
        "huge": me.fails("record", "produce", "--resource", "new:x", "--quantity", "1e400 kg",
                         "--output-of", farm["process"]),
        "old": me.fails("record", "produce", "--resource", "new:x", "--quantity", "1 kg",
                        "--output-of", farm["process"], "--at", "1800-01-01"),
        "empty network": me.fails("network", "create", ""),
    }
    for case, message in said.items():
        for jargon in ("String should", "Input should", "pattern", "^", "[type=",
                       "pydantic", "validation error for", "{"):
            assert jargon not in message, (case, message)
    assert "name: cannot be empty" in said["empty name"]
    assert "at most 500 characters" in said["long name"]
    assert "is not an agent id" in said["bad agent"]
    assert "at most 40 digits" in said["huge"]
    assert "before 1970" in said["old"]


def test_times_are_iso_8601_in_text_output(me: Home, farm: dict[str, str]) -> None:
    iso = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"
    _, shown, _ = me.run("get", farm["event"])
    assert re.search(rf"timestamp: {iso}", shown) and re.search(rf'"hasPointInTime": "{iso}"',
                                                                shown)
    assert not re.search(r"\b1\d{15}\b", shown), shown  # no microseconds since 1970
    _, chain, _ = me.run("chain", "show")
    assert all(re.search(iso, line) for line in chain.splitlines())
    assert isinstance(me("get", farm["event"])["action"]["timestamp"], int)  # JSON keeps µs


def test_the_network_file_can_be_written_again_and_the_homes_copy_restored(
    me: Home, tmp_path: Path
) -> None:
    shared = json.loads((tmp_path / "valley.network.json").read_text())
    (tmp_path / "valley.network.json").unlink()
    written = me("network", "file")
    assert json.loads((tmp_path / "valley.network.json").read_text())["dna"] == shared["dna"]
    assert written["network_id"] == shared["network_id"]
    me("network", "file", "--output", str(tmp_path / "copy.json"))
    assert json.loads((tmp_path / "copy.json").read_text())["network_id"] == shared["network_id"]

    (me.home / "network.json").unlink()
    err = me.fails("invite", "12D3KooWHxDvGfitnDNyVcD5Zi5Y93nyPvy8HrhZvD7kYvetj7LP")
    assert "network file" in err and "--restore" in err
    other = tmp_path / "other.network.json"  # another network's file is refused
    other.write_text(json.dumps(dict(shared, dna=dict(shared["dna"], network_seed="another"))))
    me.fails("network", "file", "--restore", str(other))
    assert not (me.home / "network.json").exists()
    me("network", "file", "--restore", str(tmp_path / "copy.json"))
    assert json.loads((me.home / "network.json").read_text())["dna"] == shared["dna"]
    assert me("invite", "12D3KooWHxDvGfitnDNyVcD5Zi5Y93nyPvy8HrhZvD7kYvetj7LP")["token"]
