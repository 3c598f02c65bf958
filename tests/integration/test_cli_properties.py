"""No traceback reaches a user: every subcommand, found by walking the parser (a new
command is covered without listing it here), run in-process with generated arguments in a
prepared home (a network, a specification, a process, a few events, a value equation).

Each run ends with exit code 0, 1 or 2, one error line at most, no traceback and no
"internal error" (the last-resort handler's line: a bug that slipped through), and the chain
still verifies. `run` starts a node: its arguments are checked in a subprocess instead.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cli

ROOT = Path(__file__).resolve().parents[2]
COMMON = {"--home", "--json", "--debug", "-h", "--help"}
SKIPPED = {("run",)}  # starts a node until Ctrl-C: see test_run_checks_its_arguments_first
SKIPPED_FLAGS = {("init", "--force")}  # would replace the prepared agent


def leaf_commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[
        tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """(command words, its parser) for every command the parser knows (a group that is a
    command too, `peers` of `peers add`, is one)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs or parser.get_default("handler") is not None:
        yield path, parser
    if not subs:
        return
    for name, sub in subs[0].choices.items():
        yield from leaf_commands(sub, (*path, name))


COMMANDS = sorted((p, s) for p, s in leaf_commands(cli.build_parser()) if p not in SKIPPED)


class Run:
    """One in-process run of the command line: exit code and what it printed."""

    def __init__(self, home: Path, argv: list[str]) -> None:
        out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO()
        stdin = sys.stdin
        sys.stdin = io.StringIO("")
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    cli.main(["--home", str(home), *argv])
                    self.code: int | str | None = 0
                except SystemExit as e:
                    self.code = e.code
        finally:
            sys.stdin = stdin
        out.flush()
        self.out = out.buffer.getvalue().decode("utf-8", "replace")  # type: ignore[attr-defined]
        self.err = err.getvalue()
        self.argv = argv

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A home on a network, with a spec, a process, resources, events and an equation; the
    working directory is a scratch directory (commands may write files there)."""
    root = tmp_path_factory.mktemp("props")
    old_cwd, old_pass = os.getcwd(), os.environ.get("COLEDGER_PASSPHRASE")
    os.environ["COLEDGER_PASSPHRASE"] = "property"
    os.chdir(root)
    home = root / "home"

    def ok(*argv: str) -> Any:
        run = Run(home, ["--json", *argv])
        assert run.code == 0, (argv, run.err)
        return run.json()

    try:
        me = ok("init", "--name", "props")["agent_id"]
        ok("network", "create", "props", "--out", str(root / "props.network.json"))
        spec = ok("spec", "create", "wheat", "--unit", "kg")["address"]
        process = ok("process", "create", "milling")["address"]
        made = ok("record", "produce", "--resource", "new:wheat", "--conforms-to", spec,
                  "--quantity", "40 kg", "--output-of", process)
        wheat = made["created_resources"]["wheat"]
        consumed = ok("record", "consume", "--resource", wheat, "--quantity", "5 kg",
                      "--input-of", process)["address"]
        ok("record", "work", "--effort", "3 h", "--input-of", process)
        # the largest quantity a chain may hold, under a name with escape codes: every
        # report and renderer meets them
        ok("record", "produce", "--resource", "new:huge\x1b[2J", "--conforms-to", spec,
           "--quantity", f"{'9' * 40} kg", "--output-of", process, "--note", "\u202eevil")
        (root / "eq.json").write_text(json.dumps({"name": "labour", "buckets": [
            {"name": "work", "percentage": "100",
             "rules": [{"action": "work", "rate": "1", "per": "hour"}]}]}))
        ok("equation", "create", str(root / "eq.json"))
        yield {"home": home, "root": root, "me": me, "spec": spec, "process": process,
               "wheat": wheat, "event": consumed}
    finally:
        os.chdir(old_cwd)
        if old_pass is None:
            os.environ.pop("COLEDGER_PASSPHRASE", None)
        else:
            os.environ["COLEDGER_PASSPHRASE"] = old_pass


ODD = [
    "1e400 kg", "1e39 kg", "0 kg", "3 kg", "3 h", "-1 kg", "1000 EUR", "1000 kg", "nan", "inf",
    "-inf", "1000000000", "1e308", "-1", "0", "0.0000001", "notamultiaddr",
    "/ip4/127.0.0.1/tcp/0", "\x1b[2J\x1b[31m", "\u202eevil", "", " ", "-", "--", "new:x",
    "new:", "me", "network", "x=y", "energy=1MJ", "material:steel=1kg", "/proc/x",
    "/proc/x/y", "/etc/passwd", "/etc/passwd/x", ".", "2999-01-01", "1800-01-01",
    "9999-12-31", "2026-11-26T14:00:00+00:00", "bafy", "bafyINVALID", "12D3KooW", "{}",
    "[1]", "a" * 600,
]


def values(home: dict[str, Any]) -> st.SearchStrategy[str]:
    known = [home[k] for k in ("me", "spec", "process", "wheat", "event")]
    text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
                   max_size=12)
    numbers = st.integers(min_value=-(10**30), max_value=10**30).map(str) | st.floats().map(str)
    return st.sampled_from(ODD + known) | text | numbers


@st.composite
def command_lines(draw: st.DrawFn, home: dict[str, Any]) -> list[str]:
    path, parser = draw(st.sampled_from(COMMANDS))
    value = values(home)
    argv = list(path)
    for action in parser._actions:
        flags = action.option_strings
        if COMMON & set(flags) or (*path, *flags[:1]) in SKIPPED_FLAGS:
            continue
        if isinstance(action, argparse._SubParsersAction):  # its commands are walked alone
            continue
        if not flags:  # a positional: mostly given
            if draw(st.integers(0, 9)) > 0:
                argv.append(draw(st.sampled_from(action.choices)) if action.choices
                            and draw(st.booleans()) else draw(value))
            continue
        if not draw(st.booleans()):
            continue
        if action.nargs == 0:
            argv.append(flags[0])
            continue
        for _ in range(draw(st.integers(1, 2)) if isinstance(action, argparse._AppendAction)
                       else 1):
            chosen = (draw(st.sampled_from(list(action.choices)))
                      if action.choices and draw(st.booleans()) else draw(value))
            argv += [flags[0], chosen] if not chosen.startswith("-") else [f"{flags[0]}={chosen}"]
    if draw(st.booleans()):
        argv.insert(draw(st.integers(0, len(argv))), "--json")
    return argv


JARGON = ("String should", "Input should", "validation error for", "pydantic", "[type=",
          "Errno", "Traceback")


def check(run: Run, *, words: bool = True) -> None:
    said = run.out + run.err
    assert run.code in (0, 1, 2), (run.argv, run.code, run.err)
    assert "Traceback" not in said, (run.argv, said)
    assert "internal error" not in run.err and '"internal"' not in run.err, (run.argv, run.err)
    for jargon in JARGON if words else ():  # messages in the user's words, not a library's
        assert jargon not in run.err, (run.argv, run.err)
    if run.code != 0:
        lines = run.err.strip().splitlines()
        assert len(lines) == 1, (run.argv, run.err)
        words = run.argv[: run.argv.index("--")] if "--" in run.argv else run.argv
        if "--json" in words:
            error = json.loads(lines[0])
            assert error["kind"] in cli.ERROR_KINDS and error["error"], (run.argv, error)


def test_every_command_is_walked() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"record", "chain verify", "network file", "report flows", "invite"} <= names
    assert len(names) == len(cli._COMMANDS) - len(SKIPPED)


@settings(max_examples=int(os.environ.get("CLI_PROPERTY_EXAMPLES", "250")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_any_command_line_ends_cleanly_and_the_chain_still_verifies(
    home: dict[str, Any], data: st.DataObject
) -> None:
    run = Run(home["home"], data.draw(command_lines(home)))
    check(run)
    verify = Run(home["home"], ["--json", "chain", "verify"])
    assert verify.code == 0 and verify.json()["ok"], (run.argv, verify.err)


@pytest.mark.parametrize("argv", [
    ["record", "produce", "--quantity", "1e400 kg", "--resource", "new:x"],
    ["invite", "12D3KooWHxDvGfitnDNyVcD5Zi5Y93nyPvy8HrhZvD7kYvetj7LP", "--days", "1000000000"],
    ["invite", "12D3KooWHxDvGfitnDNyVcD5Zi5Y93nyPvy8HrhZvD7kYvetj7LP", "--days", "nan"],
    ["report", "flows", "--format", "svg", "--to", "9999-12-31"],
    ["record", "produce", "--at", "1800-01-01", "--quantity", "1 kg"],
    ["chain", "show", "--limit", "-5"],
    ["report", "flows", "--max-agents", "99999999999999999999"],
])
def test_the_known_tracebacks_are_one_line_errors(home: dict[str, Any], argv: list[str]) -> None:
    for placed in (argv, ["--json", *argv]):
        run = Run(home["home"], placed)
        check(run)
        assert run.code in (1, 2)


def test_a_home_under_a_file_or_under_proc_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    for where in (tmp_path / "file" / "home", Path("/proc/coledger-test/home")):
        for argv in (["init"], ["chain", "verify"], ["inventory"]):
            run = Run(where, argv)
            check(run, words=False)  # the key file's reasons are worded in node.store.keyfile
            assert run.code == 1, (where, argv, run.err)


def _coledger(*argv: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLEDGER_PASSPHRASE="property")
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), "--home", str(home), *argv],
                          capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize("argv, says", [
    (["--listen", "notamultiaddr"], "not a multiaddr"),
    (["--listen", "/ip4/127.0.0.1/udp/4001"], "listen on /ip4/ADDRESS/tcp/PORT"),
    (["--bootstrap", "/ip4/127.0.0.1/tcp/4001"], "/p2p/AGENT_ID"),
    (["--bootstrap", "nope"], "not a multiaddr"),
    (["--gossip-interval", "-1"], "more than 0"),
    (["--gossip-interval", "nan"], "more than 0"),
    (["--gossip-interval", "0"], "more than 0"),
])
def test_run_checks_its_arguments_first(
    home: dict[str, Any], argv: list[str], says: str
) -> None:
    done = _coledger("run", *argv, home=home["home"])
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert says in done.stderr
    as_json = _coledger("run", *argv, "--json", home=home["home"])
    assert json.loads(as_json.stderr)["kind"] == "usage"
