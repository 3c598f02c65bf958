"""Planning reads on real nodes: 10 nodes on libp2p (127.0.0.1, one process, so figures
are pessimistic next to one node per machine), 2,000 open proposals over 200 resource
specifications (1,950 offers by nine members, half of them "for N EUR", every tenth
classified byproduct; 50 requests by the cooperative, each of another specification).

Measured through the front door as the command line uses it (a SocketClient on the
cooperative's home, its node serving the socket in this process):
(a) listing the offers of one specification (`coledger offers --spec S`), a different
    specification each time (nothing cached from the one before);
(b) `coledger match` for the cooperative with its 50 requests;
and in the same run the baseline: a `get` of one record its node does not hold (asked
of the record's authorities), a different record each time.
Targets: (a) under 5x a get, (b) under 2 s. Last line: JSON. Smaller runs: --listings 10
--matches 3.
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

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.network import quiet_libp2p  # noqa: E402
from clicmd.planning import MATCH_WORKERS  # noqa: E402
from node.api import open_ledger  # noqa: E402
from node.api import open_node as open_front_door  # noqa: E402
from node.client import SocketClient  # noqa: E402
from node.core.cid import Cid  # noqa: E402
from node.core.scratch import Scratch  # noqa: E402
from node.runtime.conductor import open_node  # noqa: E402
from node.runtime.node import Node  # noqa: E402
from node.store.dht import FINAL_STATES  # noqa: E402
from node.testing import SIM_PASSPHRASE, simulated_network  # noqa: E402
from node.vf_ledger import Ledger  # noqa: E402
from zomes.valueflows.matching import candidates, find, held_rows  # noqa: E402
from zomes.valueflows.offers import (  # noqa: E402
    ProposalRequest,
    Published,
    list_proposals,
    publish,
)

NODES = 10
SPECS = 200
PROPOSALS = 2000
REQUESTS = 50
R = 5


def passphrase() -> str:
    return SIM_PASSPHRASE


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def populate(homes: list[Path], specs_wanted: int, proposals_wanted: int
             ) -> tuple[list[str], list[str]]:
    """The specifications (by the cooperative, homes[0]), its requests and the others'
    offers, written on each chain before the nodes start: (specs, every proposal)."""
    proposals: list[str] = []
    with open_ledger(homes[0], passphrase) as led:
        specs = [str(led.create_spec(f"material {i}", "kg", False, None))
                 for i in range(specs_wanted)]
        for i in range(REQUESTS):
            proposals.append(propose(led, ProposalRequest(
                purpose="request", spec=specs[i * (specs_wanted // REQUESTS)],
                quantity=f"{100 + i} kg", location="Valley road")))
    offers = proposals_wanted - REQUESTS
    for n, home in enumerate(homes[1:], start=1):
        with open_ledger(home, passphrase) as led:
            for k in range(n - 1, offers, NODES - 1):
                proposals.append(propose(led, ProposalRequest(
                    purpose="offer", spec=specs[k % specs_wanted], quantity=f"{50 + k % 400} kg",
                    reciprocal=f"{k % 90 + 10} EUR" if k % 2 else None,
                    classes=("byproduct",) if k % 10 == 0 else (), location=f"Farm {n}")))
    return specs, proposals


def propose(led: Ledger, req: ProposalRequest) -> str:
    """One proposal published on `led`'s chain (what the Client's propose commits)."""
    me, now = str(led.agent.agent_id), led.agent.clock()

    def build(scratch: Scratch, _: object) -> Published:
        return publish(scratch, me, req, now)

    return str(led.commit(build).proposal)


async def start(nursery: trio.Nursery, homes: list[Path]) -> list[Node]:
    """The cooperative's node (serving its socket) first, the others bootstrapping to it."""
    async def serve(home: Path, bootstrap: list[str], front_door: bool, *,  # type: ignore[no-untyped-def]
                    task_status=trio.TASK_STATUS_IGNORED) -> None:
        opened = open_front_door if front_door else open_node
        async with opened(home, passphrase, listen="/ip4/127.0.0.1/tcp/0",
                          bootstrap=bootstrap, gossip_interval=1.0) as node:
            task_status.started(node)
            await trio.sleep_forever()

    nodes: list[Node] = [await nursery.start(serve, homes[0], [], True)]
    first = nodes[0].transport.listen_addrs()[0]
    for home in homes[1:]:
        nodes.append(await nursery.start(serve, home, [first], False))
    with trio.fail_after(600):  # (each node starts publishing its chain at once)
        while not all(len(n.peers()) == len(homes) for n in nodes):
            await trio.sleep(0.2)
    return nodes


async def published(nodes: list[Node]) -> float:
    """Until every node's records are confirmed by their authorities and every op a node
    holds is decided (integrated or rejected): the seconds taken."""
    t0 = time.perf_counter()
    for node in nodes:
        node.enqueue_new_records()

    def undecided(node: Node) -> int:
        return sum(n for state, n in node.dht.counts().items()
                   if state not in FINAL_STATES)

    with trio.fail_after(1800):
        while any(node.queue.pending() or undecided(node) for node in nodes):
            await trio.sleep(0.5)
    return time.perf_counter() - t0


def timed(work: Callable[[], Any], rounds: list[float]) -> Any:
    t = time.perf_counter()
    out = work()
    rounds.append(time.perf_counter() - t)
    return out


CALLS: dict[str, list[float]] = {"links": [], "get": []}


def reads(door: SocketClient) -> tuple[Callable[[str, str | None], dict[str, Any]],
                                       Callable[[str], dict[str, Any] | None]]:
    """A listing's two reads through the door, as the CLI's `offers` makes them (each
    call's time kept in CALLS)."""
    def links_page(base: str, after: str | None) -> dict[str, Any]:
        page: dict[str, Any] = timed(lambda: door.links(base, "proposal", after=after),
                                     CALLS["links"])
        return page

    def fetch(address: str) -> dict[str, Any] | None:
        view: dict[str, Any] | None = timed(lambda: door.get(address).view, CALLS["get"])
        return view

    return links_page, fetch


def match(door: SocketClient) -> list[dict[str, Any]]:
    """What `coledger match` does through the door (clicmd/planning.py cmd_match)."""
    door.status()
    dataset, me = door.gather(1, network=False)
    classes = {address: r.classified_as for address, r in dataset.resources.items()}
    held = held_rows(me, door.inventory(), classes)
    offers, requests = candidates(me, *reads(door), held, workers=MATCH_WORKERS)
    return [m.to_json() for m in find(me, offers, requests, held, dataset.spec_footprints())]


async def bench(root: Path, listings: int, matches: int, specs_wanted: int,
                proposals_wanted: int) -> dict[str, Any]:
    homes, _, _ = simulated_network(root, NODES, redundancy=R)
    t0 = time.perf_counter()
    specs, proposals = populate(homes, specs_wanted, proposals_wanted)
    written = time.perf_counter() - t0
    print(f"  written in {written:.1f} s", file=sys.stderr)
    door = SocketClient(homes[0], passphrase, [])
    async with trio.open_nursery() as nursery:
        nodes = await start(nursery, homes)
        print(f"  started in {time.perf_counter() - t0 - written:.1f} s", file=sys.stderr)
        spread = await published(nodes)
        print(f"  published in {spread:.1f} s", file=sys.stderr)
        coop = nodes[0]
        # the baseline: records of the others the cooperative's node does not hold
        remote = [p for p in proposals[REQUESTS:]
                  if coop.me not in coop.authorities(Cid.parse(p).to_bytes())]
        gets: list[float] = []
        for address in remote[:listings]:
            await trio.to_thread.run_sync(timed, lambda a=address: door.get(a), gets)
        lists: list[float] = []
        sizes = []
        step = max(1, len(specs) // listings)
        for i in range(listings):
            spec = specs[(i * step + 1) % len(specs)]  # (mostly not one the cooperative asks for)
            rows = await trio.to_thread.run_sync(timed, lambda s=spec: list_proposals(
                "offer", s, None, *reads(door)), lists)
            sizes.append(len(rows))
        in_listings = {k: sorted(v) for k, v in CALLS.items()}
        print(f"  in the listings: links {[round(x * 1000) for x in in_listings['links']]} ms; "
              f"gets p50 {statistics.median(in_listings['get']) * 1000:.1f} ms, max "
              f"{in_listings['get'][-1] * 1000:.0f} ms, {len(in_listings['get'])}", file=sys.stderr)
        runs: list[float] = []
        found = 0
        for _ in range(matches):
            for calls in CALLS.values():
                calls.clear()
            found = len(await trio.to_thread.run_sync(timed, lambda: match(door), runs))
            print(f"  match {runs[-1]:.2f} s: links {len(CALLS['links'])} calls "
                  f"{sum(CALLS['links']):.2f} s (max {max(CALLS['links']):.2f}), gets "
                  f"{len(CALLS['get'])} calls {sum(CALLS['get']):.2f} s", file=sys.stderr)
        nursery.cancel_scope.cancel()
    get_p50 = statistics.median(gets)
    return {
        "nodes": NODES, "proposals": len(proposals), "specs": len(specs), "requests": REQUESTS,
        "written_s": round(written, 1), "published_s": round(spread, 1),
        "get_p50_ms": round(get_p50 * 1000, 2),
        "get_p95_ms": round(percentile(gets, 0.95) * 1000, 2),
        "listing_rows": round(statistics.mean(sizes), 1),
        "listing_p50_ms": round(statistics.median(lists) * 1000, 1),
        "listing_p95_ms": round(percentile(lists, 0.95) * 1000, 1),
        "listing_over_get": round(statistics.median(lists) / get_p50, 1),
        "match_rows": found,
        "match_p50_s": round(statistics.median(runs), 3),
        "match_p95_s": round(percentile(runs, 0.95), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=40)
    parser.add_argument("--matches", type=int, default=10)
    parser.add_argument("--specs", type=int, default=SPECS)
    parser.add_argument("--proposals", type=int, default=PROPOSALS)
    args = parser.parse_args()
    quiet_libp2p()
    with tempfile.TemporaryDirectory() as tmp:
        f = trio.run(bench, Path(tmp), args.listings, args.matches, args.specs,
                     args.proposals)
    print(f"{f['nodes']} nodes, {f['proposals']} open proposals over {f['specs']} "
          f"specifications: written in {f['written_s']} s, published in {f['published_s']} s")
    print(f"get of one record (baseline): p50 {f['get_p50_ms']} ms, p95 {f['get_p95_ms']} ms")
    print(f"offers of one specification ({f['listing_rows']} rows): p50 {f['listing_p50_ms']} "
          f"ms, p95 {f['listing_p95_ms']} ms = {f['listing_over_get']}x a get (target < 5x)")
    print(f"match, {f['requests']} requests ({f['match_rows']} matches): p50 "
          f"{f['match_p50_s']} s, p95 {f['match_p95_s']} s (target < 2 s)")
    print(json.dumps(f))


if __name__ == "__main__":
    main()
