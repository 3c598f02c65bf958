"""Upgrades: a home made by an older coledger (the fixture tests/data/homes/schema1, made
by tests/make_fixture_home.py) is migrated when opened, read and written; a home newer
than this code is refused in one line; a migration that fails leaves the home as it was."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from node.store import schema
from node.store.db import open_readonly
from tests.cli_home import CliHome

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "homes" / "schema1"
FIXTURE_PASSPHRASE = "fixture home"  # (tests/make_fixture_home.py's)


@pytest.fixture
def old_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the fixture home (never the repository's own files)."""
    home = tmp_path / "home"
    shutil.copytree(FIXTURE, home)
    home.chmod(0o700)
    for file in home.iterdir():
        file.chmod(0o600)
    monkeypatch.setenv("COLEDGER_PASSPHRASE", FIXTURE_PASSPHRASE)
    return home


def user_version(home: Path) -> int:
    db = sqlite3.connect(home / "coledger.db")
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def dump(home: Path) -> list[str]:
    """The database's whole content and its version, as SQL text."""
    db = sqlite3.connect(home / "coledger.db")
    try:
        return [f"user_version {db.execute('PRAGMA user_version').fetchone()[0]}",
                *db.iterdump()]
    finally:
        db.close()


def test_the_fixture_is_a_home_of_before_the_version(old_home: Path) -> None:
    assert user_version(old_home) == 0
    assert not (FIXTURE / "coledger.db-wal").exists()


def test_an_older_home_is_migrated_read_and_written(old_home: Path, capsys) -> None:
    coledger = CliHome(old_home, capsys)
    assert coledger("chain", "verify")["length"] == 7
    assert user_version(old_home) == schema.SCHEMA_VERSION
    records = coledger("chain", "show")
    assert [r["action"]["type"] for r in records][:3] == ["Dna", "AgentValidationPkg", "Create"]
    [sack] = [r for r in coledger("inventory") if r["name"] == "flour sack"]
    assert sack["accountingQuantity"] == {"hasNumericalValue": "30", "hasUnit": "kilogram"}
    coledger("record", "raise", "--resource", sack["address"], "--quantity", "2 kg")
    assert coledger("chain", "verify")["length"] == 8
    [sack] = [r for r in coledger("inventory") if r["name"] == "flour sack"]
    assert sack["accountingQuantity"]["hasNumericalValue"] == "32"


def test_a_newer_home_is_refused_in_one_line(old_home: Path, capsys) -> None:
    db = sqlite3.connect(old_home / "coledger.db")
    db.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    db.close()
    before = dump(old_home)
    coledger = CliHome(old_home, capsys)
    for command in (("chain", "show"), ("record", "raise", "--resource", "new:x",
                                        "--quantity", "1 kg")):
        error = coledger.fails(*command)
        assert error == (f"coledger: error: this home was written by a newer coledger (schema"
                         f" {schema.SCHEMA_VERSION + 1}); upgrade coledger")
    assert dump(old_home) == before


def test_a_newer_home_is_refused_read_only_too(old_home: Path) -> None:
    schema.check_readable(open_readonly(old_home / "coledger.db"))  # (an older one reads)
    db = sqlite3.connect(old_home / "coledger.db")
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(schema.SchemaTooNew, match=r"newer coledger \(schema 99\)"):
        schema.check_readable(open_readonly(old_home / "coledger.db"))


def test_a_failed_migration_leaves_the_home_as_it_was(old_home: Path, capsys,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def half_done(db: schema.Db) -> None:  # a step that changes things, then fails
        db.execute("ALTER TABLE chain ADD COLUMN note TEXT")
        db.execute("DELETE FROM entries")
        raise ValueError("the disk said no")

    before = dump(old_home)
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(schema, "MIGRATIONS", {**schema.MIGRATIONS, 1: half_done})
    coledger = CliHome(old_home, capsys)
    error = coledger.fails("chain", "show")
    assert "from schema 0 to 2 failed at the step from 1 to 2 (the disk said no)" in error
    assert "the home is as it was" in error
    assert dump(old_home) == before
    monkeypatch.undo()  # this coledger again: the home opens and migrates
    monkeypatch.setenv("COLEDGER_PASSPHRASE", FIXTURE_PASSPHRASE)
    assert coledger("chain", "verify")["length"] == 7
    assert user_version(old_home) == 1


def test_a_new_home_is_written_at_the_current_schema(tmp_path: Path, capsys,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLEDGER_PASSPHRASE", "new home")
    CliHome(tmp_path / "new", capsys)("init")
    assert user_version(tmp_path / "new") == schema.SCHEMA_VERSION
