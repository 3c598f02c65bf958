"""The local RPC endpoint of a running node: a Unix socket in the home, mode 0600 (checked:
it writes on the agent's chain with the node's unlocked key, so it is its user's alone).

One JSON request per connection, a line of at most MAX_REQUEST bytes:
{"method": ..., "params": {...}} -> {"result": ...}
or {"error": "one line"}. Every request is checked before it runs: a JSON object, a
known method, params an object of exactly that method's parameters, each of its type
(a model per method, built from the method's signature); anything else is an error
answer, and no request can end the node. This is the server only: the methods it serves
are the front door's operations on the node (node/in_node.py), given by whoever starts
it; their callers are node/client.py's SocketClient and the reports gathering chains.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, get_type_hints

import trio
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from node.core.errors import CoreError, LocalError, Phrased
from node.runtime.socket_client import socket_path

log = logging.getLogger("coledger.rpc")

MAX_REQUEST = 16 * 1024 * 1024
"""Bytes a request line may hold: writes come through the socket (a document to import,
the chains a plan from another's recipe needs), an entry up to 4 MiB among them."""


Operation = Callable[..., Awaitable[object]]
"""A method the socket serves: keyword parameters (checked), a JSON-able answer."""


async def serve_rpc(  # type: ignore[no-untyped-def]  # (trio.TaskStatus: not exported)
    operations: Mapping[str, Operation], home: Path, *, task_status=trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `operations` on the home's socket until cancelled."""
    path = socket_path(home)
    path.unlink(missing_ok=True)
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        await sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    _check_private(path)
    sock.listen(16)
    listener = trio.SocketListener(sock)
    methods = {name: _checked(name, fn) for name, fn in operations.items()}
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


def _check_private(path: Path) -> None:
    """Refuse to serve a socket others could connect to: it writes on this agent's chain
    with the key the node unlocked, so only its owner may (mode 0600, this process's)."""
    st = os.stat(path)
    if st.st_mode & 0o077 or st.st_uid != os.getuid():
        path.unlink(missing_ok=True)
        raise LocalError(f"{path} is not private to this user (mode {st.st_mode & 0o777:o}): "
                         "the node does not serve it")


class Relayed(LocalError):
    """An operation's error handed to its caller as raised: its type's name and module go
    with its message, and the client raises one of that type (node.runtime.socket_client)."""

    def __init__(self, error: CoreError) -> None:
        super().__init__(_line(error))
        self.kind, self.module = type(error).__name__, type(error).__module__


class BadRequest(LocalError):
    """A request to the node's socket that is not one it serves (the client's mistake)."""


Method = Callable[[dict[str, Any]], Awaitable[object]]


async def _serve_one(stream: trio.SocketStream, methods: dict[str, Method]) -> None:
    async with stream:
        try:
            with trio.fail_after(10):
                data = bytearray()  # (appended in place: a long request costs no copies)
                while not data.endswith(b"\n") and len(data) <= MAX_REQUEST:
                    chunk = await stream.receive_some(65536)
                    if not chunk:
                        break
                    data += chunk
            method, params = _request(bytes(data), methods)
            with trio.fail_after(120):
                result = await method(params)
            reply = json.dumps({"result": result})
        except Phrased as e:  # by type and parts: the client phrases its fields its own way
            reply = json.dumps({"error": str(e), "type": type(e).__name__, "parts": e.parts})
        except Relayed as e:  # with its type: the client raises the same (socket_client)
            reply = json.dumps({"error": str(e), "type": e.kind, "module": e.module})
        except (CoreError, KeyError, ValueError, TypeError) as e:
            reply = json.dumps({"error": _line(e)})
        except trio.TooSlowError:
            reply = json.dumps({"error": "the request timed out"})
        except Exception as e:  # a bug must not end the node: this request fails, logged
            log.exception("rpc request failed")
            reply = json.dumps({"error": f"internal error: {type(e).__name__}: {e}"[:300]})
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await stream.send_all(reply.encode() + b"\n")


def _line(error: Exception) -> str:
    """The error's first line (its type's name if it has no message)."""
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _request(data: bytes, methods: dict[str, Method]) -> tuple[Method, dict[str, Any]]:
    """The method and params of one request line; BadRequest for anything else."""
    if len(data) > MAX_REQUEST:
        raise BadRequest(f"bad request: longer than {MAX_REQUEST} bytes")
    try:
        request = json.loads(data)
    except (ValueError, RecursionError):  # (not UTF-8 is a ValueError too)
        raise BadRequest("bad request: not one JSON object on a line") from None
    if not isinstance(request, dict) or not request.keys() <= {"method", "params"}:
        raise BadRequest('bad request: expected {"method": NAME, "params": {...}}')
    name, params = request.get("method"), request.get("params", {})
    method = methods.get(name) if isinstance(name, str) else None
    if method is None:
        given = "given" if name is None else f"{str(name)[:40]!r}"
        raise BadRequest(f"bad request: no method {given}")
    if not isinstance(params, dict):
        raise BadRequest(f"bad request: the params of {name} must be an object")
    return method, params


_TYPE_WORDS = {"string_type": "text", "int_type": "an integer", "float_type": "a number",
               "bool_type": "true or false", "list_type": "a list", "dict_type": "an object",
               "model_type": "an object"}
STRICT = ConfigDict(strict=True, extra="forbid")


def _params_model(name: str, fn: Callable[..., Any]) -> type[BaseModel]:
    """A pydantic model of `fn`'s keyword parameters, from its signature."""
    hints = get_type_hints(fn)
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (hints.get(param.name, Any), default)
    return create_model(f"{name}_params", __config__=STRICT, **fields)


def validated(model: type[BaseModel], what: str, params: dict[str, Any]) -> dict[str, Any]:
    """`params` checked against `model`; BadRequest naming the first wrong one in words."""
    try:
        checked = model.model_validate(params)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "params"
        kind = first["type"]
        if kind == "missing":
            raise BadRequest(f"bad request: {what} needs {where!r}") from None
        if kind == "extra_forbidden":
            raise BadRequest(f"bad request: {what} takes no {where!r}") from None
        if kind in _TYPE_WORDS:
            problem = f"must be {_TYPE_WORDS[kind]}"
        else:
            problem = f"is not valid ({first['msg'].lower()})"
        raise BadRequest(f"bad request: {where!r} of {what} {problem}") from None
    return {k: getattr(checked, k) for k in type(checked).model_fields}


def _checked(name: str, fn: Operation) -> Method:
    """`fn` behind a check of its params (one model per method, made once)."""
    model = _params_model(name, fn)

    async def method(params: dict[str, Any]) -> object:
        return await fn(**validated(model, name, params))

    return method
