"""The node's local socket answers every malformed request with an error and stays up
(issue #11, item 5): a real node (real home, SQLite, its Unix socket), a list of bad
requests, then good ones still answered."""

from __future__ import annotations

import contextlib
import json

import pytest
import trio

from dht.memory import MemoryNetwork
from node.api import open_node
from node.runtime import rpc, socket_client
from tests.integration.network_harness import make_homes, passphrase

EVENT = {"action": "transfer", "resource": "x", "quantity": "1 kg"}

MALFORMED: list[bytes | dict | list | str | int | None] = [
    b"not json\n",
    b"\xff\xfe\xfd\n",  # not UTF-8
    b"\n",
    b'{"method": "status"}{"method": "status"}\n',
    b"[" * 200_000 + b"\n",  # nested past Python's recursion limit
    b"{" * (rpc.MAX_REQUEST + 100_000),  # longer than a request may be, no newline
    b"",  # connects and says nothing
    [], 5, "status", None,
    {},
    {"id": 5},
    {"agent": 5},
    {"method": 5},
    {"method": ["status"]},
    {"method": {"status": 1}},
    {"method": "nope"},
    {"method": "__init__"},
    {"method": "status", "params": []},
    {"method": "status", "params": 5},
    {"method": "status", "params": None},
    {"method": "status", "params": {"x": 1}},
    {"method": "status", "extra": 1},
    {"method": "activity", "params": {"agent": 5}},
    {"method": "activity", "params": {}},
    {"method": "inventory", "params": {"agent": None}},
    {"method": "inventory", "params": {"agent": "12D3KooWnotanagent"}},
    {"method": "get", "params": {"address": ["bafy"]}},
    {"method": "get", "params": {"address": "bafy" + "a" * 5000}},
    {"method": "flows", "params": {"address": "x", "backwards": "yes"}},
    {"method": "chains", "params": {"agents": [1, 2]}},
    {"method": "chains", "params": {"agents": "abc"}},
    {"method": "cs_session", "params": {"id": 5}},
    {"method": "cs_accept", "params": {"id": {"a": 1}}},
    {"method": "cs_decline", "params": {"id": "ab", "reason": 7}},
    {"method": "cs_list", "params": {"everything": "yes"}},
    {"method": "cs_start", "params": {"event": 5, "to": "x", "wait_s": 1}},
    {"method": "cs_start", "params": {"event": {"action": 5}, "to": "x", "wait_s": 1}},
    {"method": "cs_start", "params": {"event": {**EVENT, "bogus": 1}, "to": "x", "wait_s": 1}},
    {"method": "cs_start", "params": {"event": EVENT, "to": "x", "wait_s": "1"}},
    {"method": "cs_start", "params": {"event": EVENT, "to": ["x"], "wait_s": 1}},
    {"method": "links", "params": {}},
    {"method": "links", "params": {"base": 5}},
    {"method": "links", "params": {"base": "bafy" + "a" * 5000}},
    {"method": "links", "params": {"base": "x", "tag_prefix": "not hex"}},
    {"method": "links", "params": {"base": "x", "limit": "10"}},
    {"method": "links", "params": {"base": "x", "after": 5}},
    {"method": "get_many", "params": {}},
    {"method": "get_many", "params": {"addresses": "bafy"}},
    {"method": "get_many", "params": {"addresses": [5]}},
    {"method": "get_many", "params": {"addresses": ["x"]}},
    {"method": "get_many", "params": {"addresses": ["bafy" + "a" * 5000]}},
    {"method": "get_many", "params": {"addresses": ["x"] * 257}},  # (more than MAX_GET_MANY)
]


def _line(request: bytes | object) -> bytes:
    return request if isinstance(request, bytes) else json.dumps(request).encode() + b"\n"


async def ask(home, request: bytes | object) -> dict:
    """Send one raw request line on the node's socket; its parsed answer."""
    stream = await trio.open_unix_socket(str(socket_client.socket_path(home)))
    async with stream:
        # (BrokenResource: it answered and closed before reading all of a too long request)
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await stream.send_all(_line(request))
            await stream.send_eof()
        reply = b""
        with trio.fail_after(15):
            while not reply.endswith(b"\n"):
                chunk = await stream.receive_some(65536)
                if not chunk:
                    break
                reply += chunk
    return json.loads(reply)


async def test_malformed_requests_get_an_error_and_the_node_stays_up(tmp_path):
    homes, _ = make_homes(tmp_path, ["a"])
    net = MemoryNetwork()
    async with open_node(homes[0], passphrase, memory_network=net, gossip_interval=0.2) as node:
        for request in MALFORMED:
            answer = await ask(homes[0], request)
            assert set(answer) == {"error"}, (request, answer)
            assert isinstance(answer["error"], str) and "\n" not in answer["error"]
            assert len(answer["error"]) < 300, answer
            assert "internal error" not in answer["error"], (request, answer)
        # still up: good requests are answered, by the socket and by the node's loops
        status = await ask(homes[0], {"method": "status", "params": {}})
        assert status["result"]["agent_id"] == str(node.me)
        sessions = await ask(homes[0], {"method": "cs_list", "params": {"everything": True}})
        assert sessions == {"result": []}
        blocking = await trio.to_thread.run_sync(
            lambda: socket_client.call(homes[0], "peers", timeout=15))
        assert blocking == []


@pytest.mark.parametrize("request_", [{"agent": 5}, {"method": "cs_session",
                                                     "params": {"id": 5}}])
async def test_the_errors_are_in_plain_words(tmp_path, request_):
    homes, _ = make_homes(tmp_path, ["a"])
    async with open_node(homes[0], passphrase, memory_network=MemoryNetwork()):
        answer = await ask(homes[0], request_)
    assert answer["error"].startswith("bad request: ")
    assert "pydantic" not in answer["error"] and "Input should" not in answer["error"]
