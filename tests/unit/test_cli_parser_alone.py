"""`coledger` builds the parser of the command given alone (a command pays only for what it
uses): that parser must help and fail exactly as the whole command line's parser does."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

import cli

FIRST_WORDS = sorted({path.split()[0] for path, _, _ in cli._COMMANDS})


def parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[
        tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """(command words, its parser) for the parser and every group and command below it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, (*path, name))


@pytest.mark.parametrize("first", FIRST_WORDS)
def test_a_command_alone_has_the_parsers_and_help_of_the_whole(first):
    whole = dict(parsers(cli.build_parser()))
    alone = dict(parsers(cli.build_parser(first)))
    assert {p for p in alone if p} == {p for p in whole if p[:1] == (first,)}
    for path, parser in alone.items():
        if path:
            assert parser.format_help() == whole[path].format_help(), path


def test_the_command_is_known_only_after_the_common_options():
    assert cli._asked(["--home", "record", "--json", "chain", "verify"]) == "chain"
    assert cli._asked(["--home=x", "--debug", "record", "raise"]) == "record"
    for words in ([], ["--home"], ["-h", "record"], ["--version"], ["--hom", "x", "record"],
                  ["nosuch", "record"], ["--", "record"]):
        assert cli._asked(words) is None, words


USAGE_ERRORS = [
    ["record"], ["record", "raise", "--bogus"], ["record", "raise", "--wait", "x"],
    ["chain"], ["chain", "nope"], ["chain", "verify", "extra"], ["network", "create"],
    ["--json", "record", "raise", "--quantity"], ["chain", "show", "--limit", "0"],
    ["nosuch"], ["--home"], ["record", "--help"], ["chain", "--help"], ["chain", "verify", "-h"],
]


@pytest.mark.parametrize("argv", USAGE_ERRORS, ids=" ".join)
def test_usage_errors_and_help_are_those_of_the_whole_parser(argv, capsys, monkeypatch):
    def run() -> tuple[object, str, str]:
        with pytest.raises(SystemExit) as exit:
            cli.main(argv)
        out, err = capsys.readouterr()
        return exit.value.code, out, err

    alone = run()
    monkeypatch.setattr(cli, "_asked", lambda words: None)
    assert run() == alone
