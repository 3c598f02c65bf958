"""The local RPC endpoint of a running node: a Unix socket in the home, mode 0600.

One JSON request per connection: {"method": ..., "params": {...}} -> {"result": ...}
or {"error": "one line"}. Commands that need the network (status, peers, get from
others, another agent's inventory, cross-agent trace, the chains reports gather) use it;
local writes go to the store directly and the node publishes them within a fraction of a
second.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

from node.core.cid import Cid
from node.core.errors import CoreError, LocalError
from node.core.identity import AgentId
from node.core.jsonview import record_json

log = logging.getLogger("coledger.rpc")

SOCKET_NAME = "node.sock"
MAX_REQUEST = 1024 * 1024


def socket_path(home: Path) -> Path:
    return Path(home) / SOCKET_NAME


async def serve_rpc(node: Any, home: Path, *, task_status=trio.TASK_STATUS_IGNORED) -> None:  # type: ignore[no-untyped-def]
    path = socket_path(home)
    path.unlink(missing_ok=True)
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        await sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(16)
    listener = trio.SocketListener(sock)
    methods = _methods(node) | session_methods(node) | recovery_methods(node)
    task_status.started()
    try:
        async with trio.open_nursery() as nursery:
            while True:
                stream = await listener.accept()
                nursery.start_soon(_serve_one, stream, methods)
    finally:
        path.unlink(missing_ok=True)
        with trio.CancelScope(shield=True):
            await listener.aclose()


async def _serve_one(
    stream: trio.SocketStream, methods: dict[str, Callable[..., Awaitable[Any]]]
) -> None:
    async with stream:
        try:
            with trio.fail_after(10):
                data = b""
                while not data.endswith(b"\n") and len(data) < MAX_REQUEST:
                    chunk = await stream.receive_some(65536)
                    if not chunk:
                        break
                    data += chunk
            request = json.loads(data)
            method = methods[request["method"]]
            with trio.fail_after(120):
                result = await method(**request.get("params", {}))
            reply = {"result": result}
        except (CoreError, KeyError, ValueError, TypeError, trio.TooSlowError) as e:
            reply = {"error": str(e) or type(e).__name__}
        with contextlib.suppress(trio.BrokenResourceError):
            await stream.send_all(json.dumps(reply).encode() + b"\n")


def _methods(node: Any) -> dict[str, Callable[..., Awaitable[Any]]]:
    async def status() -> Any:
        return node.status()

    async def peers() -> Any:
        return [{"agent_id": str(p), "addresses": list(node.addresses.get(p, ()))}
                for p in node.peers() if p != node.me]

    async def get(address: str) -> Any:
        record = await node.get(Cid.parse(address))
        if record is None:
            raise LocalError(f"nothing at {address} locally or at its authorities")
        return record_json(record)

    async def activity(agent: str) -> Any:
        records = await node.agent_activity(AgentId.parse(agent))
        return [record_json(r) for r in records]

    async def inventory(agent: str) -> Any:
        from zomes.valueflows import coordinator

        records = await node.agent_activity(AgentId.parse(agent))
        if not records:
            raise LocalError(f"no chain found for {agent} on the network")
        return coordinator.inventory(chain_view_of(records))

    async def flows(address: str, backwards: bool) -> Any:
        return await node.flows(address, backwards)

    async def sync() -> Any:
        node.enqueue_new_records()
        done = await node.publish_once()
        return {"published": done, "pending": node.queue.pending()}

    async def chains(agents: list[str] | None = None) -> Any:
        from node.runtime.reports import fetch_chains  # reports gather chains through this

        return await fetch_chains(node, agents)

    return {"status": status, "peers": peers, "get": get, "activity": activity, "sync": sync,
            "inventory": inventory, "flows": flows, "chains": chains}


def session_methods(node: Any) -> dict[str, Callable[..., Awaitable[Any]]]:
    """Countersigning: start (initiator), list, show, accept and decline sessions."""
    from node.runtime.countersign import TransferRequest, session_json
    from zomes.valueflows.coordinator import EventRequest

    signer = node.countersigner

    async def cs_start(event: dict[str, Any], to: str, wait_s: float) -> Any:
        row = await signer.start(TransferRequest(EventRequest(**event), to, wait_s))
        return session_json(row)

    async def cs_session(id: str) -> Any:  # noqa: A002 - the JSON name
        return session_json(signer.find(id))

    async def cs_list(everything: bool = False) -> Any:
        states = None if everything else frozenset({"pending", "signed", "proposed"})
        rows = signer.sessions.all(states)
        return [session_json(r) for r in rows]

    async def cs_accept(id: str) -> Any:  # noqa: A002
        return session_json(await signer.accept(signer.find(id).id))

    async def cs_decline(id: str, reason: str | None = None) -> Any:  # noqa: A002
        return session_json(await signer.decline(signer.find(id).id, reason))

    return {"cs_start": cs_start, "cs_session": cs_session, "cs_list": cs_list,
            "cs_accept": cs_accept, "cs_decline": cs_decline}


def recovery_methods(node: Any) -> dict[str, Callable[..., Awaitable[Any]]]:
    """`coledger chain recover` on the running node (node/runtime/recovery.py)."""

    async def recover(force: bool = False) -> Any:
        if not isinstance(force, bool):
            raise LocalError("recover: force must be true or false")
        return await node.own_chain.recover(force)

    return {"recover": recover}


def chain_view_of(records: list[Any]) -> Any:
    from zomes.valueflows.zome import ChainView

    view = ChainView()
    for record in records:
        view.step(record)
    return view


def call(home: Path, method: str, timeout: float = 60.0, **params: Any) -> Any:
    """Call a running node's method (blocking; for the CLI). LocalError if none runs."""
    path = socket_path(home)
    if not path.exists():
        raise LocalError("no node is running for this home: start one with `coledger run`")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
        sock.sendall(json.dumps({"method": method, "params": params}).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError as e:
        raise LocalError(
            f"the node for this home does not answer ({e}); is `coledger run` still running?"
        ) from None
    finally:
        sock.close()
    reply = json.loads(data)
    if "error" in reply:
        raise LocalError(reply["error"])
    return reply["result"]


def node_running(home: Path) -> bool:
    return socket_path(home).exists()
