"""The SQLite store on real files: atomic flushes, HeadMoved, tamper detection, key files."""

import os
import sqlite3
import stat

import pytest

from node.api import Agent, HomePaths, HomeTaken, init_home, open_agent
from node.core.chain import ChainHead
from node.core.cid import Cid
from node.core.errors import ChainError, HeadMoved, WrongPassphrase
from node.core.refusals import NoKey
from node.core.scratch import Scratch
from node.store.keyfile import read_key_file
from node.testing import step_clock

PASS = "correct horse"


@pytest.fixture
def home(tmp_path):
    init_home(tmp_path / "home", PASS, "Test Farm")
    return tmp_path / "home"


@pytest.fixture
def agent(home) -> Agent:
    with open_agent(home, lambda: PASS) as a:
        a.clock = step_clock()
        a.commit(lambda s: s.genesis(Cid.of(b"dna"), None, {"agent": a.agent_id.to_bytes()}))
        yield a


def test_key_file_is_private_and_needs_the_passphrase(home):
    paths = HomePaths(home)
    assert stat.S_IMODE(os.stat(paths.key).st_mode) == 0o600
    assert b"Test Farm" in paths.key.read_bytes()
    with pytest.raises(WrongPassphrase):
        read_key_file(paths.key, "wrong")
    key = read_key_file(paths.key, PASS)
    with open_agent(home, lambda: PASS) as a:
        assert a.agent_id == key.agent_id


def test_init_refuses_an_existing_home_unless_forced(home):
    with pytest.raises(HomeTaken, match="already holds agent; use force to replace it"):
        init_home(home, PASS, None)
    new_id = init_home(home, PASS, None, force=True)
    with open_agent(home, lambda: PASS) as a:
        assert a.agent_id == new_id
        assert a.head() is None


def test_open_without_init_is_not_found(tmp_path):
    with pytest.raises(NoKey, match="no agent key at"), open_agent(tmp_path, lambda: PASS):
        pass


def test_commit_is_atomic_and_verifies(home, agent):
    addresses = agent.commit(lambda s: [s.create("test.Note", {"n": i}) for i in range(10)])
    assert agent.head().seq == 12
    assert agent.verify().address == addresses[-1]

    def failing(s: Scratch):
        s.create("test.Note", {"n": "lost"})
        raise ValueError("boom")

    with pytest.raises(ValueError):
        agent.commit(failing)
    assert agent.head().seq == 12
    assert agent.get(addresses[3]).entry.value == {"n": 3}


def test_flush_fails_with_head_moved_and_writes_nothing(home, agent):
    base = agent.head()
    with open_agent(home, lambda: PASS) as other:
        other.clock = step_clock(start=2_000_000_000_000_000)
        other.commit(lambda s: s.create("test.Note", {"by": "other"}))
    scratch = Scratch(base, agent.key(), step_clock(start=3_000_000_000_000_000))
    scratch.create("test.Note", {"by": "late"})
    with pytest.raises(HeadMoved):
        agent.store.flush(scratch.base, scratch.records)
    assert agent.head().seq == base.seq + 1
    assert [r.entry.value for r in agent.store.records(start=3)] == [{"by": "other"}]


def test_tampering_one_byte_names_the_seq(home, agent):
    agent.commit(lambda s: [s.create("test.Note", {"n": i}) for i in range(5)])
    db = HomePaths(home).db
    conn = sqlite3.connect(db)
    raw = bytearray(conn.execute("SELECT action FROM chain WHERE seq = 5").fetchone()[0])
    raw[-3] ^= 0x01
    conn.execute("UPDATE chain SET action = ? WHERE seq = 5", (bytes(raw),))
    conn.commit()
    conn.close()
    with pytest.raises(ChainError) as err:
        agent.verify()
    assert err.value.seq == 5


def test_head_is_none_before_genesis(home):
    with open_agent(home, lambda: PASS) as a:
        assert a.head() is None
        assert a.verify() is None
        assert isinstance(ChainHead, type)
