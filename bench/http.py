"""Benchmark: the HTTP API on a chain of 100,000 economic events, next to the Python front
door reading the same data in the same run.

A home in a network of its own gets a specification, a process and a resource by real
commits, then 100,000 events on that resource signed onto its chain at once
(node.testing.append_events; not timed, nor are the first reads, which build the chain's
event index and fold its view once for the process: node/own_view.py; printed). Timed,
each `--repeat` times after one untimed run, p50 and p95:

- front door: `Client.events(limit=50)`, the newest page, and a page deep in (after the
  event half-way down the chain);
- GraphQL: the same two pages as `economicEvents(first: 50, after: ...)` with each event's
  id, action, time, quantity, unit and provider, and `economicResources` beside
  `Client.inventory`, POSTed to the app `coledger run` serves
  (node.http.app.make_app with node.http.graphql, in-process over Starlette's TestClient,
  bearer token and all);
- the dashboard's pages (node.http.pages) through the whole app: the inventory, a
  resource's page (its events, its trace and track), the events (newest, deep in, of a
  process), each beside the front-door calls that give its data (`page_timings`).
  Target: every page under 200 ms p95.

    .venv/bin/python bench/http.py [--events 100000] [--repeat 30]

The last line is JSON: each timing's p50/p95 in milliseconds and GraphQL's overhead (its
p50 over the front door's).
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

# (this file's name is the standard library's `http`: its directory leaves the path)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from starlette.testclient import TestClient  # noqa: E402

from node.client import LocalClient  # noqa: E402
from node.http.app import make_app  # noqa: E402
from node.http.door import Door  # noqa: E402
from node.http.graphql import asgi  # noqa: E402
from node.http.pages import routes  # noqa: E402
from node.membership import create_network  # noqa: E402
from node.store.home import open_agent  # noqa: E402
from node.testing import SIM_PASSPHRASE, append_events, fast_home  # noqa: E402
from zomes.valueflows.coordinator import EventRequest  # noqa: E402

TOKEN = "bench-" + "t" * 38
ORIGIN = "http://127.0.0.1:8420"
T0 = 1_690_000_000_000_000
QUERY = """query($after: String) { economicEvents(first: 50, after: $after) {
  edges { cursor node { id action { id } hasPointInTime
    resourceQuantity { hasNumericalValue hasUnit { id } } provider { id } } }
  pageInfo { endCursor hasNextPage } } }"""
RESOURCES = """{ economicResources(first: 50) { edges { node { id name
  accountingQuantity { hasNumericalValue hasUnit { id } }
  onhandQuantity { hasNumericalValue hasUnit { id } } } } } }"""


def passphrase() -> str:
    return SIM_PASSPHRASE


def build(root: Path, events: int) -> tuple[LocalClient, dict[str, str]]:
    """The home: a spec, a process, a resource made by a real event, then `events` more."""
    home, key = fast_home(root, "farm")
    with open_agent(home, passphrase) as agent:
        create_network(agent, "bench http", {}, root / "bench.network.json")
    client = LocalClient(home, passphrase, [])
    spec = client.create_spec("flour", "kg", False, None)
    mill = client.create_process("mill", None, None)
    made = client.record(EventRequest("produce", resource="new:flour", conforms_to=spec,
                                      quantity="1000000 kg", output_of=mill), detail=True)
    flour = made["created_resources"]["flour"]
    me = str(key.agent_id)
    started = time.perf_counter()
    append_events(home, key, ({
        "action": "consume", "provider": me, "receiver": me, "resourceInventoriedAs": flour,
        "inputOf": mill, "hasPointInTime": T0 + i * 1_000_000,
        "resourceQuantity": {"hasNumericalValue": "1", "hasUnit": "kilogram"}}
        for i in range(events)))
    print(f"signed {events} events in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    client.events(limit=1)
    print(f"indexed them in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    client.inventory()
    print(f"folded the chain's view in {time.perf_counter() - started:.1f} s", flush=True)
    return client, {"spec": spec, "mill": mill, "flour": flour}


def timed(run: Callable[[], Any], repeat: int) -> dict[str, float]:
    """p50 and p95 of `run` in milliseconds (after one untimed run)."""
    run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[min(len(times) - 1, int(len(times) * 0.95))], 2)}


def graphql_page(http: TestClient, after: str | None, query: str = QUERY) -> dict[str, Any]:
    answer = http.post("/graphql", json={"query": query, "variables": {"after": after}})
    body: dict[str, Any] = answer.json()
    if answer.status_code != 200 or "errors" in body:
        raise SystemExit(f"GraphQL failed: {answer.text[:500]}")
    return body


def page_timings(client: LocalClient, http: TestClient, ids: dict[str, str],
                 repeat: int) -> dict[str, Any]:
    """The dashboard's pages through the whole app (access, the door's worker thread, the
    Client, the template), each p50/p95 beside the front-door calls that give its data
    (the Client alone), and whether every page is under 200 ms p95."""
    flour, mill = ids["flour"], ids["mill"]
    deep = str(client.events(limit=1)["events"][0]["seq"] // 2)
    html = {"Accept": "text/html"}

    def get(path: str) -> Callable[[], Any]:
        def asked() -> Any:
            answer = http.get(path, headers=html)
            if answer.status_code != 200:
                raise SystemExit(f"{path} answered {answer.status_code}")
            return answer
        return asked

    pages: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        "inventory": (get("/inventory"), client.inventory),
        "resource": (get(f"/resources/{flour}"), lambda: (
            client.get(flour), client.inventory(), client.events(resource=flour, limit=50),
            client.flows(flour, True, limit=301), client.flows(flour, False, limit=301))),
        "events": (get("/events"), lambda: client.events(limit=50)),
        "events_deep": (get(f"/events?after={deep}"), lambda: client.events(limit=50,
                                                                             after=deep)),
        "events_of_a_process": (get(f"/events?process={mill}"),
                                lambda: client.events(process=mill, limit=50)),
    }
    out: dict[str, Any] = {"page": {}, "front_door": {}}
    for name, (page, front) in pages.items():
        out["page"][name] = timed(page, repeat)
        out["front_door"][name] = timed(front, repeat)
    out["under_200ms_p95"] = all(p["p95_ms"] < 200 for p in out["page"].values())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    a = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        client, ids = build(Path(tmp), a.events)
        deep = str(client.events(limit=1)["events"][0]["seq"] // 2)
        door = Door(client)
        app = make_app(door, TOKEN, origin=ORIGIN, graphql=asgi(door), pages=routes(door))
        with TestClient(app, base_url=ORIGIN, backend="trio",
                        headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            same = [e["address"] for e in client.events(limit=50, after=deep)["events"]]
            got = [e["node"]["id"] for e in graphql_page(http, deep)["data"]["economicEvents"][
                "edges"]]
            if got != same or len(got) != 50:
                raise SystemExit("GraphQL and the front door disagree on a page")
            front = {"first": timed(lambda: client.events(limit=50), a.repeat),
                     "deep": timed(lambda: client.events(limit=50, after=deep), a.repeat),
                     "resources": timed(client.inventory, a.repeat)}
            graphql = {"first": timed(lambda: graphql_page(http, None), a.repeat),
                       "deep": timed(lambda: graphql_page(http, deep), a.repeat),
                       "resources": timed(lambda: graphql_page(http, None, RESOURCES),
                                          a.repeat)}
            pages = page_timings(client, http, ids, a.repeat)
    overhead = {k: round(graphql[k]["p50_ms"] / front[k]["p50_ms"], 2) for k in front}
    for name, figures in (("front door", front), ("graphql", graphql)):
        for page, f in figures.items():
            print(f"{name:>10} {page:>9}: p50 {f['p50_ms']:7.2f} ms  p95 {f['p95_ms']:7.2f} ms")
    print(f"GraphQL overhead (p50 / front door's p50): {overhead}")
    for page, f in pages["page"].items():
        print(f"page {page:>19}: p50 {f['p50_ms']:7.2f} ms  p95 {f['p95_ms']:7.2f} ms"
              f"   front door p50 {pages['front_door'][page]['p50_ms']:7.2f} ms")
    print(json.dumps({"events": a.events, "repeat": a.repeat, "front_door": front,
                      "graphql": graphql, "overhead": overhead, "pages": pages}))


if __name__ == "__main__":
    main()
