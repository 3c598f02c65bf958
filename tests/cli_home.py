"""The CLI tests' harness: `coledger` run in-process against one home on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cli


class CliHome:
    """Runs `coledger` in-process against one home and parses --json output."""

    def __init__(self, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.home = home
        self.capsys = capsys

    def __call__(self, *args: str) -> object:
        """The command's --json output, parsed."""
        self.capsys.readouterr()
        cli.main(["--home", str(self.home), "--json", *args])
        return json.loads(self.capsys.readouterr().out)

    def text(self, *args: str) -> str:
        """The command's text output."""
        self.capsys.readouterr()
        cli.main(["--home", str(self.home), *args])
        return self.capsys.readouterr().out

    def fails(self, *args: str) -> str:
        """The one-line error of a command that must fail with a non-zero exit."""
        self.capsys.readouterr()
        with pytest.raises(SystemExit) as exit_:
            cli.main(["--home", str(self.home), *args])
        assert exit_.value.code != 0
        err = self.capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        return err

    def length(self) -> int:
        """How many records the home's chain holds."""
        return len(self("chain", "show"))
