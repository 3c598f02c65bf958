"""Benchmark: ValueFlows trace and track over an in-memory FlowIndex of ~100,000 events.

The flow is a supply chain 50 processes deep and 500 wide: 500 raw resources are raised;
each process consumes two resources of the level below (branching: each
resource feeds three processes), takes work, and
produces one resource; a final process assembles the 500 top-level resources into one end
product. It measures `trace` of the end product (everything upstream) and `track` of one
raw resource (everything downstream), best of a few runs, and compares each with a bare
iterative depth-first walk over the same graph held as dicts (the floor any walk pays).
The last line is JSON: {"events": ..., "trace_ms": ..., "track_ms": ...}.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zomes.valueflows.entries import EconomicEvent  # noqa: E402
from zomes.valueflows.trace import FlowIndex  # noqa: E402

LEVELS, WIDTH, RUNS = 50, 500, 5
AGENT = "12D3KooW" + "A" * 44


def address(name: str) -> str:
    """A CIDv1-looking base32 address, deterministic in `name`."""
    digest = hashlib.blake2b(name.encode(), digest_size=32).digest()
    return "bafy2bzace" + base64.b32encode(digest).decode().lower().rstrip("=")


def event(action: str, **links: str) -> EconomicEvent:
    """An event decoded from its content, as the store would give it."""
    unit, kind = (
        ("hour", "effortQuantity") if action == "work" else ("kilogram", "resourceQuantity")
    )
    quantity = {"hasNumericalValue": "1", "hasUnit": unit}
    content = {"action": action, "provider": AGENT, "receiver": AGENT, kind: quantity, **links}
    return EconomicEvent.from_content(content)


def supply_chain() -> tuple[list[tuple[str, EconomicEvent]], str, str]:
    """(events in chain order, end product, one raw resource)."""
    events: list[tuple[str, EconomicEvent]] = []

    def record(action: str, **links: str) -> None:
        events.append((address(f"event {len(events)}"), event(action, **links)))

    below = [address(f"raw {i}") for i in range(WIDTH)]
    for resource in below:
        record("raise", resourceInventoriedAs=resource)
    for level in range(1, LEVELS + 1):
        above = []
        for i in range(WIDTH):
            process, output = address(f"process {level} {i}"), address(f"resource {level} {i}")
            for j in (i, (i // 2 + 251) % WIDTH):
                record("consume", resourceInventoriedAs=below[j], inputOf=process)
            record("work", inputOf=process)
            record("produce", resourceInventoriedAs=output, outputOf=process)
            above.append(output)
        below = above
    assembly, product = address("assembly"), address("end product")
    for resource in below:
        record("consume", resourceInventoriedAs=resource, inputOf=assembly)
    record("produce", resourceInventoriedAs=product, outputOf=assembly)
    return events, product, address("raw 0")


def bare_graph(events: list[tuple[str, EconomicEvent]]) -> tuple[dict[str, list[str]], ...]:
    """The same flow as plain dicts of successors and predecessors (no pairing, no kinds)."""
    forward: dict[str, list[str]] = {}
    backward: dict[str, list[str]] = {}
    for name, e in events:
        resource = e.resource_inventoried_as
        if e.action == "raise":
            before, after = None, resource
        elif e.output_of is not None:
            before, after = e.output_of, resource
        else:
            before, after = resource, e.input_of
        for earlier, later in ((before, name), (name, after)):
            if earlier is not None and later is not None:
                forward.setdefault(earlier, []).append(later)
                backward.setdefault(later, []).append(earlier)
    return forward, backward


def bare_walk(graph: dict[str, list[str]], start: str) -> int:
    seen, stack = {start}, [start]
    while stack:
        for following in graph.get(stack.pop(), ()):
            if following not in seen:
                seen.add(following)
                stack.append(following)
    return len(seen)


def best_ms(run: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(RUNS):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best * 1000, result


def main() -> None:
    events, product, origin = supply_chain()
    index = FlowIndex(events)
    forward, backward = bare_graph(events)
    trace_ms, traced = best_ms(lambda: index.trace(product))
    track_ms, tracked = best_ms(lambda: index.track(origin))
    bare_trace_ms, bare_traced = best_ms(lambda: bare_walk(backward, product))
    bare_track_ms, bare_tracked = best_ms(lambda: bare_walk(forward, origin))
    print(f"{len(events)} events, {len(index)} nodes, depth {max(n.distance for n in traced)}")
    print(
        f"trace: {trace_ms:.1f} ms for {len(traced)} nodes "
        f"({trace_ms / bare_trace_ms:.2f}x a bare walk over {bare_traced} nodes)"
    )
    print(
        f"track: {track_ms:.1f} ms for {len(tracked)} nodes "
        f"({track_ms / bare_track_ms:.2f}x a bare walk over {bare_tracked} nodes)"
    )
    print(
        json.dumps(
            {"events": len(events), "trace_ms": round(trace_ms, 1), "track_ms": round(track_ms, 1)}
        )
    )


if __name__ == "__main__":
    main()
