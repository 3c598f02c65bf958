"""Benchmark: the dashboard's pages on a home with a chain of 100,000 economic events.

A home in a network of its own: two processes, two resources made by real events, then
`--events` events more on them (appended signed, not validated: node.testing.append_events).
Each page is asked `--runs` times through the whole app (node/http: access, the door's
worker thread, the LocalClient, the template) with Starlette's TestClient, after one
warm-up; p50 and p95 per page, next to the same data read through the Python front door
(the Client call alone). Target: every page under 200 ms p95. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from node.client import LocalClient  # noqa: E402
from node.http.app import make_app  # noqa: E402
from node.http.door import Door  # noqa: E402
from node.http.pages import routes  # noqa: E402
from node.membership import create_network  # noqa: E402
from node.store.home import open_agent  # noqa: E402
from node.testing import SIM_PASSPHRASE, append_events, fast_home  # noqa: E402
from zomes.valueflows.coordinator import EventRequest  # noqa: E402

TOKEN = "bench-token-" + "x" * 32
ORIGIN = "http://127.0.0.1:8420"
T0 = 1_690_000_000_000_000


def passphrase() -> str:
    return SIM_PASSPHRASE


def build(root: Path, events: int) -> tuple[LocalClient, dict[str, str]]:
    """The home: a chain of `events` economic events and more, on two resources."""
    home, key = fast_home(root, "farm")
    with open_agent(home, passphrase) as agent:
        create_network(agent, "valley", {}, root / "valley.network.json")
    client = LocalClient(home, passphrase, [])
    mill = client.create_process("mill", None, None)
    bake = client.create_process("bake", None, None)
    flour = client.record(EventRequest("produce", resource="new:flour", quantity="10 kg",
                                       output_of=mill), detail=True)["created_resources"]["flour"]
    bran = client.record(EventRequest("produce", resource="new:bran", quantity="2 kg",
                                      output_of=mill), detail=True)["created_resources"]["bran"]
    me = str(key.agent_id)
    actions = ("produce", "consume", "use", "cite")

    def content(i: int) -> dict[str, Any]:
        return {"action": actions[i % 4], "provider": me, "receiver": me,
                "resourceInventoriedAs": (flour, bran)[i % 3 == 0],
                "inputOf" if i % 4 else "outputOf": (mill, bake)[i % 7 == 0],
                "resourceQuantity": {"hasNumericalValue": "1", "hasUnit": "kilogram"},
                "hasPointInTime": T0 + i * 1_000_000}

    append_events(home, key, (content(i) for i in range(events)))
    return client, {"flour": flour, "mill": mill}


def timed(fn: Callable[[], Any], runs: int) -> dict[str, float]:
    """p50 and p95 of `runs` calls of `fn`, in ms, after one warm-up."""
    fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=40)
    a = parser.parse_args()
    from starlette.testclient import TestClient

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        client, known = build(Path(tmp), a.events)
        built_s = time.perf_counter() - started
        door = Door(client)
        app = make_app(door, TOKEN, origin=ORIGIN, pages=routes(door))
        headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "text/html"}
        with TestClient(app, base_url=ORIGIN, backend="trio") as http:
            deep = None
            page = client.events(limit=50)
            for _ in range(200):  # 10,000 events in: a page deep in the chain
                deep = page["next"]
                page = client.events(limit=50, after=deep)

            def get(path: str) -> Callable[[], Any]:
                def asked() -> Any:
                    answer = http.get(path, headers=headers)
                    assert answer.status_code == 200, (path, answer.status_code)
                    return answer
                return asked

            flour = known["flour"]
            pages = {
                "inventory": get("/inventory"),
                "resource": get(f"/resources/{flour}"),
                "events": get("/events"),
                "events_deep": get(f"/events?after={deep}"),
                "events_of_a_process": get(f"/events?process={known['mill']}"),
            }
            door_calls: dict[str, Callable[[], Any]] = {
                "inventory": client.inventory,
                "resource": lambda: (client.get(flour), client.inventory(),
                                     client.events(resource=flour, limit=50),
                                     client.flows(flour, True), client.flows(flour, False)),
                "events": lambda: client.events(limit=50),
                "events_deep": lambda: client.events(limit=50, after=deep),
                "events_of_a_process": lambda: client.events(process=known["mill"], limit=50),
            }
            out: dict[str, Any] = {"events": a.events, "build_s": round(built_s, 1),
                                   "runs": a.runs, "pages": {}, "front_door": {}}
            for name, fn in pages.items():
                out["pages"][name] = timed(fn, a.runs)
                out["front_door"][name] = timed(door_calls[name], a.runs)
                print(f"{name:<22} page p50 {out['pages'][name]['p50_ms']:>8} ms  "
                      f"p95 {out['pages'][name]['p95_ms']:>8} ms   front door p50 "
                      f"{out['front_door'][name]['p50_ms']:>8} ms", file=sys.stderr)
    out["under_200ms_p95"] = all(p["p95_ms"] < 200 for p in out["pages"].values())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
