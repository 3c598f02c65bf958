"""`Door`: the front door (node.api's `Client`, sync) for async handlers. Each call runs in a
worker thread, a few at a time; a refusal becomes one `Refused`, which the HTTP layer answers
with a 4xx naming the rule, never a stack trace."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from node.core.errors import CoreError, NotFound, RemoteError
from node.core.refusals import NodeSilent, NoNode

if TYPE_CHECKING:
    from node.api import Client

T = TypeVar("T")

_RULE = re.compile(r"rejected by ([\w.:-]+):")


class Refused(Exception):
    """A call the front door refused: `status` (the HTTP answer), `kind` (as the CLI's
    `--json` errors name it), the one-line `message`, and the broken `rule`'s name if any."""

    def __init__(self, status: int, kind: str, message: str, rule: str | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.rule = status, kind, message, rule

    def as_json(self) -> dict[str, Any]:
        return {"error": self.message, "kind": self.kind, "rule": self.rule}


def refused(error: CoreError) -> Refused:
    """`error` as the HTTP layer answers it (cli.py's kinds: a rule broken is "rejected")."""
    message = " ".join(str(error).split())  # one line, in words (fields as words)
    if type(error).__name__ == "RuleBroken":  # node.runtime's: known by name, not imported
        found = _RULE.search(message)
        return Refused(422, "rejected", message, found.group(1) if found else None)
    if isinstance(error, NotFound):
        return Refused(404, "not_found", message)
    if isinstance(error, NoNode | NodeSilent):
        return Refused(503, "refused", message)
    if isinstance(error, RemoteError):
        return Refused(502, "bad_data", message)
    return Refused(400, "refused", message)


class Door:
    """The async face of `client`: `await door.call("inventory")`, or `await door.run(fn)`
    for several calls in one thread; at most `limit` calls at once."""

    def __init__(self, client: Client, limit: int = 4) -> None:
        self.client = client
        self.limiter = trio.CapacityLimiter(limit)

    async def run(self, fn: Callable[[Client], T]) -> T:
        """`fn(client)` in a worker thread; a CoreError raised as `Refused`."""
        try:
            return await trio.to_thread.run_sync(fn, self.client, limiter=self.limiter)
        except CoreError as e:
            raise refused(e) from None

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """The client's `method` called with these arguments."""
        return await self.run(lambda client: partial(getattr(client, method), *args, **kwargs)())
