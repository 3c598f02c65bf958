"""What every dashboard page uses: `render` (a template with the nav's current path), the
request's `Door`, and how times and quantities are shown."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from node.http.door import Door


def render(request: Request, template: str, status_code: int = 200,
           **context: Any) -> Response:
    """`template` (node/http/templates) with `context`, and the nav's current path."""
    templates = request.app.state.templates
    answer: Response = templates.TemplateResponse(
        request, template, {"path": request.url.path, **context}, status_code=status_code)
    return answer


def door_of(request: Request) -> Door:
    """The front door the app was made with."""
    door: Door = request.app.state.door
    return door


def when(time_us: Any) -> str:
    """A µs timestamp as an ISO minute in UTC ("" for none)."""
    if not isinstance(time_us, int):
        return ""
    try:
        return datetime.fromtimestamp(time_us / 1e6, UTC).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return ""


def quantity(q: Any) -> str:
    """A VF Measure as "40 kilogram" ("" for none)."""
    if not isinstance(q, dict):
        return ""
    return f"{q.get('hasNumericalValue', '')} {q.get('hasUnit', '')}".strip()


def day_us(text: str, end: bool = False) -> int | None:
    """An ISO date (a form's `date` field) as µs at its start (or the next day's)."""
    try:
        day = datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(day.timestamp() * 1_000_000) + (86_400_000_000 if end else 0)
