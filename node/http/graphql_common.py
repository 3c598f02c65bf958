"""What the GraphQL API's resolvers share (node/http/graphql.py serves them): the query's
`Context`, through which they ask the Door, and vf-graphql's cursor connections."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import trio
from graphql import GraphQLError

from node.http.door import Door, Refused

PAGE: Final = 50
"""Items in a page when `first` is not given."""
MAX_PAGE: Final = 1000


class Context:
    """What a query's resolvers share: the Door, asked from the query's worker thread, and
    the answers already given (a list read once per query, however many fields use it)."""

    def __init__(self, door: Door) -> None:
        self.door = door
        self.answers: dict[tuple[Any, ...], Any] = {}

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """The Door's `method`, from this worker thread (each answer once per query)."""
        key = (method, args, tuple(sorted(kwargs.items())))
        if key not in self.answers:
            self.answers[key] = trio.from_thread.run(
                lambda: self.door.call(method, *args, **kwargs))
        return self.answers[key]

    def found(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """As `call`, but None when the front door finds nothing there."""
        try:
            return self.call(method, *args, **kwargs)
        except Refused as e:
            if e.kind == "not_found":
                return None
            raise


def context_of(info: Any) -> Context:
    context: Context = info.context
    return context


def page_size(first: int | None, last: int | None, before: str | None) -> int:
    """The items a page asks for; forwards only (`first`, `after`), as coledger lists."""
    if last is not None or before is not None:
        raise GraphQLError("paging backwards (last, before) is not supported here: page with"
                           " first and after", extensions={"kind": "refused"})
    size = PAGE if first is None else first
    if not 1 <= size <= MAX_PAGE:
        raise GraphQLError(f"first must be 1 to {MAX_PAGE}", extensions={"kind": "refused"})
    return size


def connection(items: Sequence[dict[str, Any]], cursors: Sequence[str], has_next: bool,
               has_previous: bool, size: int) -> dict[str, Any]:
    """A vf-graphql connection of `items` (their cursors alongside)."""
    return {
        "edges": [{"node": n, "cursor": c} for n, c in zip(items, cursors, strict=True)],
        "pageInfo": {"startCursor": cursors[0] if cursors else None,
                     "endCursor": cursors[-1] if cursors else None,
                     "hasNextPage": has_next, "hasPreviousPage": has_previous,
                     "totalCount": None, "pageLimit": size},
    }


def list_connection(items: Sequence[dict[str, Any]], first: int | None = None,
                    after: str | None = None, last: int | None = None,
                    before: str | None = None) -> dict[str, Any]:
    """A page of a list held whole (each item's `id` its cursor), after the item `after`."""
    size = page_size(first, last, before)
    start = 0
    if after is not None:
        ids = [i["id"] for i in items]
        if after not in ids:
            raise GraphQLError(f"{after!r} is not a cursor of this list",
                               extensions={"kind": "refused"})
        start = ids.index(after) + 1
    page = items[start:start + size]
    return connection(page, [i["id"] for i in page], start + size < len(items), start > 0,
                      size)
