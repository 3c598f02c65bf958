"""The ValueFlows GraphQL API at /graphql (`asgi(door)`, which `coledger run` serves): the
schema-first schema of node/http/schema.graphql (vf-graphql's names) bound by ariadne to the
resolvers of graphql_reads.py and graphql_writes.py, which reach the node only through the
Door.

A query runs in a worker thread (graphql-core gathers async resolvers with asyncio, not
trio): its resolvers are plain functions that ask the Door on the node's trio loop and wait
(`Context.call`), each answer kept for the rest of that query. A refusal of the front door
is a GraphQL error whose `extensions` name its `rule` and `kind`; nothing else of an error
leaves (no stack trace: debug off; a bug is logged and answered "internal error").
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import trio
from ariadne import ScalarType, format_error, graphql_sync, make_executable_schema
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
    validate,
)
from graphql.error import GraphQLSyntaxError
from graphql.utilities.type_info import TypeInfo
from graphql.validation.rules import ASTValidationRule
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from node.http.door import Door, Refused
from node.http.graphql_common import Context
from node.http.graphql_reads import BINDABLES as reads
from node.http.graphql_writes import MUTATION

SCHEMA_FILE: Final = Path(__file__).with_name("schema.graphql")
MAX_BODY: Final = 1 << 20
"""The largest request a client may send (a query and its variables)."""

log = logging.getLogger("coledger.http")
quiet = logging.getLogger("coledger.http.graphql")
quiet.disabled = True  # (ariadne logs each error with its stack: error_json logs the bugs)


# -- scalars ---------------------------------------------------------------------------

DATETIME = ScalarType("DateTime")


@DATETIME.serializer
def serialize_time(value: Any) -> str:
    """Microseconds since the epoch as ISO 8601 in UTC."""
    when = datetime.fromtimestamp(int(value) // 1_000_000, UTC).replace(
        microsecond=int(value) % 1_000_000)
    return when.isoformat().replace("+00:00", "Z")


@DATETIME.value_parser
def parse_time(value: Any) -> int:
    """ISO 8601 (a zone required, or UTC assumed) as microseconds since the epoch."""
    if not isinstance(value, str):
        raise ValueError("a DateTime is an ISO 8601 string")
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


DECIMAL = ScalarType("Decimal", serializer=str, value_parser=lambda v: str(v).strip())
URI = ScalarType("URI", serializer=str, value_parser=str)


# -- errors ----------------------------------------------------------------------------


def error_json(error: GraphQLError, debug: bool = False) -> dict[str, Any]:
    """An error as the asker sees it: a refusal's one line with its rule and kind; an error
    of the query itself as graphql-core says it; a bug as one line (logged here)."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return format_error(error, debug=False)
    out: dict[str, Any] = {"message": str(error.message), "path": error.path}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column}
                            for loc in error.locations]
    if isinstance(original, Refused):
        out["message"] = original.message
        out["extensions"] = {"rule": original.rule, "kind": original.kind}
    elif isinstance(original, ValueError | TypeError) and "variable" in error.message.lower():
        out["extensions"] = {"kind": "refused"}
    else:
        log.error("internal error in a GraphQL resolver", exc_info=original)
        out["message"] = "internal error (see the node's log)"
        out["extensions"] = {"kind": "internal"}
    return out


# -- the app ---------------------------------------------------------------------------


def make_schema() -> GraphQLSchema:
    """node/http/schema.graphql with its resolvers bound."""
    return make_executable_schema(SCHEMA_FILE.read_text(), DATETIME, DECIMAL, URI, *reads,
                                  MUTATION)


class Documents:
    """Queries parsed and validated once (a client asks the same few again and again): the
    parser and validator ariadne is given, a bounded memo (cleared when full)."""

    LIMIT: Final = 256

    def __init__(self) -> None:
        self.parsed: dict[str, DocumentNode] = {}
        self.checked: dict[int, list[GraphQLError]] = {}

    def parse(self, context: Any, data: dict[str, Any]) -> DocumentNode:
        query = data["query"]
        found = self.parsed.get(query)
        if found is None:
            found = parse(query)  # (a syntax error: ariadne answers it)
            if len(self.parsed) >= self.LIMIT:
                self.parsed.clear()
                self.checked.clear()
            self.parsed[query] = found
        return found

    def validate(self, schema: GraphQLSchema, document_ast: DocumentNode,
                 rules: Collection[type[ASTValidationRule]] | None = None,
                 max_errors: int | None = None,
                 type_info: TypeInfo | None = None) -> list[GraphQLError]:
        key = id(document_ast)  # (each held by `parsed` while it is here: its id is its own)
        if key not in self.checked:
            self.checked[key] = validate(schema, document_ast, rules, max_errors, type_info)
        return self.checked[key]


class GraphQLApp:
    """POST (or GET with `query`) a GraphQL request; GET alone: the schema's text. A
    mutation only by POST (a GET carries no CSRF token)."""

    def __init__(self, door: Door, limit: int = 4) -> None:
        self.door = door
        self.schema = make_schema()
        self.sdl = SCHEMA_FILE.read_text()
        self.limiter = trio.CapacityLimiter(limit)
        self.documents = Documents()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        answer = await self.answer(request)
        await answer(scope, receive, send)

    async def answer(self, request: Request) -> Response:
        if request.method == "GET":
            if "query" not in request.query_params:
                return PlainTextResponse(self.sdl, media_type="application/graphql")
            data: Any = dict(request.query_params)
            if "variables" in data:
                try:
                    data["variables"] = json.loads(data["variables"])
                except ValueError:
                    return bad_request("variables is not JSON")
        else:
            body = b""
            async for chunk in request.stream():  # (read no further than the limit)
                body += chunk
                if len(body) > MAX_BODY:
                    return bad_request(f"a request is at most {MAX_BODY} bytes")
            try:
                data = json.loads(body)
            except ValueError:
                return bad_request("the body is not JSON")
        if request.method == "GET" and writes(data):
            return bad_request("a mutation is sent by POST")
        run: Callable[[], tuple[bool, dict[str, Any]]] = lambda: graphql_sync(  # noqa: E731
            self.schema, data, context_value=Context(self.door), debug=False,
            error_formatter=error_json, introspection=True, logger=quiet,
            query_parser=self.documents.parse, query_validator=self.documents.validate)
        ok, result = await trio.to_thread.run_sync(run, limiter=self.limiter)
        return JSONResponse(result, status_code=200 if ok else 400)


def writes(data: Any) -> bool:
    """Whether the request's document holds a mutation (unparsable: left to graphql)."""
    query = data.get("query") if isinstance(data, dict) else None
    if not isinstance(query, str):
        return False
    try:
        document = parse(query)
    except GraphQLSyntaxError:
        return False
    return any(isinstance(d, OperationDefinitionNode) and d.operation is OperationType.MUTATION
               for d in document.definitions)


def bad_request(message: str) -> Response:
    return JSONResponse({"errors": [{"message": message, "extensions": {"kind": "refused"}}]},
                        status_code=400)


def asgi(door: Door) -> ASGIApp:
    """The GraphQL API for `door` (what node/http/serve.py serves at /graphql)."""
    return GraphQLApp(door)
