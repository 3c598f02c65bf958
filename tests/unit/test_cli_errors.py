"""Errors phrased for any caller: below the command line (node/, zomes/, validation/,
dht/) no error names a CLI flag or tells anyone to run a `coledger` command; the CLI
names the request's fields by its flags and adds its hints, so it says exactly what it
said before (its output is the user's contract), also for an error that crossed the
node's socket."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

import cli
from node.core.errors import CoreError, Field, Phrased
from node.core.refusals import (
    ChainBehind,
    NoNode,
    NoSession,
    NotAnAgentId,
    RecoveryLoses,
    UnknownAction,
)
from node.runtime.recovery import _fork_message
from node.runtime.socket_client import _error
from node.store.sqlite import behind_message
from zomes.accounting.coordinator import declare_footprint, parse_factor
from zomes.accounting.reports import export
from zomes.valueflows.coordinator import EventRequest, build_event

ROOT = Path(__file__).resolve().parents[2]
BELOW_THE_CLI = ("node", "zomes", "validation", "dht")
CLI_WORDS = re.compile(r"(?<![\w-])--([a-z]|$)|`coledger ")
ALLOWED = {
    # a rule's reason is integrity code, hashed into the network id: editing it forks
    ("zomes/valueflows/rules.py", " (`coledger record "),
    ("zomes/valueflows/rules.py", " ... --to "),
    # the running node's own log, which `coledger run` prints
    ("node/runtime/recovery.py", "our chain is behind the network (%s: %s): writes are"
                                 " refused until `coledger chain recover`"),
}


def _texts(path: Path) -> list[str]:
    """The string constants of a module that are not docstrings."""
    tree = ast.parse(path.read_text())
    docs = {id(n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    return [n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def test_no_text_below_the_cli_names_a_flag_or_a_command():
    found = {(str(p.relative_to(ROOT)), text)
             for top in BELOW_THE_CLI for p in sorted((ROOT / top).rglob("*.py"))
             for text in _texts(p) if CLI_WORDS.search(text)}
    assert found <= ALLOWED, sorted(found - ALLOWED)


def _raised(fn, *args, **kw) -> CoreError:
    with pytest.raises(CoreError) as raised:
        fn(*args, **kw)
    return raised.value


def _record(**fields: str | None) -> CoreError:
    return _raised(build_event, None, "me", EventRequest(**fields), 0, lambda *a: None)


# (the error as the library raises it, its words for any caller, the CLI's line as before)
CASES = [
    (lambda: _record(action="raise", resource="nope"),
     "resource 'nope' is not an address (bafy...)",
     "--resource 'nope' is not an address (bafy...)"),
    (lambda: _record(action="raise", quantity="3 parsecs of"),
     None, "--quantity: "),
    (lambda: _record(action="raise", to_resource="new: "),
     "to_resource new:NAME needs a name", "--to-resource new:NAME needs a name"),
    (lambda: _record(action="fly"),
     "unknown action 'fly'", "unknown action 'fly'; `coledger actions` lists the 19 VF actions"),
    (lambda: _raised(parse_factor, "emissions"),
     "a factor takes KIND=QUANTITY (e.g. emissions=0.25kgCO2e), not 'emissions'",
     "--factor takes KIND=QUANTITY (e.g. emissions=0.25kgCO2e), not 'emissions'"),
    (lambda: _raised(declare_footprint, None, "spec", "kg", [], None),
     "give at least one factor", "give at least one --factor"),
    (lambda: _raised(export, None, "pact", me="me", now_us=0),
     "a PACT footprint is of one product: give resource",
     "a PACT footprint is of one product: give --resource"),
    (lambda: _raised(export, None, "csv", me="me", now_us=0, resource="x"),
     "resource is for format pact", "--resource is for --format pact"),
    (lambda: ChainBehind(behind_message(3, 7)),
     "your chain is behind the network (local head seq 3, network has seq 7)",
     "your chain is behind the network (local head seq 3, network has seq 7):"
     " run `coledger chain recover`"),
    (lambda: RecoveryLoses(_fork_message(2, (), ["x"], 2)),
     None, "of yours the network holds on a shorter branch;"
           " run `coledger chain recover --force` to do it"),
]


@pytest.mark.parametrize(("make", "words", "line"), CASES)
def test_the_library_says_it_in_words_and_the_cli_as_before(make, words, line):
    error = make()
    assert isinstance(error, Phrased), type(error)
    assert not CLI_WORDS.search(str(error)), str(error)
    if words is not None:
        assert str(error) == words
    shown = cli._hinted(error)
    assert shown == line if words is not None else line in shown, shown


@pytest.mark.parametrize("error", [
    NotAnAgentId(Field("to", "the counterparty"), " 'x' is not an agent id (12D3KooW...)"),
    NoSession("no session 'ab12'"),
    UnknownAction("unknown action 'fly'"),
])
def test_an_error_from_the_node_reads_the_same_after_the_socket(error):
    # (as rpc.py's server writes it, as socket_client reads it)
    reply = json.loads(json.dumps({"error": str(error), "type": type(error).__name__,
                                   "parts": error.parts}))
    again = _error(reply)
    assert type(again) is type(error)
    assert str(again) == str(error) and cli._hinted(again) == cli._hinted(error)


def test_the_cli_names_fields_by_their_flags_and_adds_its_hints():
    to = NotAnAgentId(Field("to", "the counterparty"), " 'x' is not an agent id (12D3KooW...)")
    assert str(to) == "the counterparty 'x' is not an agent id (12D3KooW...)"
    assert cli._hinted(to) == "--to 'x' is not an agent id (12D3KooW...)"
    wait = Phrased(Field("wait_s", "the wait"), " must be between 1 and 3600 seconds")
    assert cli._hinted(wait) == "--wait must be between 1 and 3600 seconds"
    assert cli._hinted(NoNode("no node is running for this home")) == (
        "no node is running for this home: start one with `coledger run`")
