"""Planning reads on real nodes: 10 nodes on libp2p (127.0.0.1), 2,000 open proposals
over 200 resource specifications (1,950 offers by nine members, half of them "for N EUR",
every tenth classified byproduct; 50 requests by the cooperative, each of another
specification). The cooperative's node runs in a process of its own, the nine others in
`--processes` more (one machine: pessimistic next to one node per machine).

Measured from the main process through the cooperative's socket (a SocketClient), as
the command line reads:
(a) listing the offers of one specification (`coledger offers --spec S`), a different
    specification each time;
(b) `coledger match` for the cooperative with its 50 requests;
each read as the command line reads it (a listing in one request: Client.proposals, the
node reads its links, proposals and intents) and one by one through the socket (as before
get_many); and in the same run the baseline: a `get` of one record the cooperative's node
does not hold, a different one each time, each get just before a listing (so the two see
the machine alike; the one-by-one listings, whose many gets keep the nodes busy for a
while after, come after them).
Targets: (a) under 5x a get, (b) under 2 s. Last line: JSON. Smaller runs: --listings 10
--matches 3 --specs 60 --proposals 600.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from network import quiet_libp2p  # noqa: E402  (bench/network.py)

from clicmd.planning import READERS  # noqa: E402
from node.api import open_ledger  # noqa: E402
from node.api import open_node as open_front_door  # noqa: E402
from node.client_socket import SocketClient  # noqa: E402
from node.core.cid import Cid  # noqa: E402
from node.core.scratch import Scratch  # noqa: E402
from node.runtime.conductor import open_node  # noqa: E402
from node.runtime.node import Node  # noqa: E402
from node.store.dht import FINAL_STATES, INTEGRATED  # noqa: E402
from node.testing import SIM_PASSPHRASE, simulated_network  # noqa: E402
from node.vf_ledger import Ledger  # noqa: E402
from zomes.valueflows.matching import candidates, find  # noqa: E402
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


def run_nodes(homes: list[str], first: bool, total: int, remote_of: list[str],
              pipe: Connection) -> None:
    """A worker process: the nodes of `homes` (`first`: the cooperative's, serving its
    socket, and everyone's bootstrap), answering the main process's checks until "stop"."""
    quiet_libp2p()
    trio.run(_nodes, [Path(h) for h in homes], first, total, remote_of, pipe)


async def _nodes(homes: list[Path], first: bool, total: int, remote_of: list[str],
                 pipe: Connection) -> None:
    async def recv() -> Any:
        return await trio.to_thread.run_sync(pipe.recv)

    async def serve(home: Path, bootstrap: list[str], front_door: bool, *,  # type: ignore[no-untyped-def]
                    task_status=trio.TASK_STATUS_IGNORED) -> None:
        opened = open_front_door if front_door else open_node
        async with opened(home, passphrase, listen="/ip4/127.0.0.1/tcp/0",
                          bootstrap=bootstrap) as node:
            task_status.started(node)
            await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        if first:
            nodes: list[Node] = [await nursery.start(serve, homes[0], [], True)]
            pipe.send(nodes[0].transport.listen_addrs()[0])
        else:
            bootstrap = await recv()
            nodes = [await nursery.start(serve, home, [bootstrap], False) for home in homes]
        with trio.fail_after(600):  # (each node starts publishing its chain at once)
            while not all(len(n.peers()) == total for n in nodes):
                await trio.sleep(0.2)
        for node in nodes:
            node.enqueue_new_records()
        while (asked := await recv()) != "stop":
            if asked == "cpu":
                pipe.send(time.process_time())
            elif asked == "remote":  # the records the cooperative's node does not hold
                pipe.send([a for a in remote_of
                           if nodes[0].me not in nodes[0].authorities(Cid.parse(a).to_bytes())])
            else:
                pipe.send((sum(n.queue.pending() + undecided(n) for n in nodes),
                           sum(n.dht.counts()[INTEGRATED] for n in nodes)))
        nursery.cancel_scope.cancel()


def undecided(node: Node) -> int:
    """The ops the node holds that are neither integrated nor rejected yet."""
    return sum(n for state, n in node.dht.counts().items() if state not in FINAL_STATES)


def busy(pipes: list[Connection], seconds: float) -> float:
    """The cores the node processes keep busy while nobody asks them anything (gossip)."""
    def cpu() -> float:
        for pipe in pipes:
            pipe.send("cpu")
        return sum(float(pipe.recv()) for pipe in pipes)

    before = cpu()
    time.sleep(seconds)
    return (cpu() - before) / seconds


def settled(pipes: list[Connection], quiet: int = 10) -> float:
    """Until every worker's nodes have their records confirmed by their authorities, hold
    no undecided op, and integrate no new one (hand-off and gossip move ops to the
    authorities the grown network names) for `quiet` checks a second apart: the seconds
    taken."""
    t0 = time.perf_counter()
    calm, last = 0, -1
    while calm < quiet:
        if time.perf_counter() - t0 > 1800:
            raise TimeoutError("the network did not settle in 30 minutes")
        for pipe in pipes:
            pipe.send("check")
        answers = [pipe.recv() for pipe in pipes]
        waiting, held = sum(a[0] for a in answers), sum(a[1] for a in answers)
        calm = calm + 1 if waiting == 0 and held == last else 0
        last = held
        time.sleep(1.0)
    return time.perf_counter() - t0


def timed(work: Callable[[], Any], rounds: list[float]) -> Any:
    t = time.perf_counter()
    out = work()
    rounds.append(time.perf_counter() - t)
    return out


CALLS: dict[str, list[float]] = {"links": [], "get": [], "get_many": [], "proposals": []}


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


def listing(door: SocketClient) -> Callable[[str, str | None, str | None, str | None],
                                           list[dict[str, Any]]]:
    """A whole listing in one request, as the CLI's `offers` and `match` read it, timed."""
    def one(purpose: str, spec: str | None, label: str | None,
            author: str | None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = timed(partial(door.proposals, purpose, spec, label,
                                                   author=author), CALLS["proposals"])
        return rows

    return one


def match(door: SocketClient, batched: bool) -> list[dict[str, Any]]:
    """What `coledger match` does through the door (clicmd/planning.py cmd_match, without
    --footprints)."""
    door.status()
    dataset, me = door.gather(1, network=False)
    held = door.surplus()
    offers, requests = candidates(me, *reads(door), held, workers=READERS,
                                  listing=listing(door) if batched else None)
    return [m.to_json() for m in find(me, offers, requests, held, dataset.spec_footprints())]


def bench(root: Path, listings: int, matches: int, specs_wanted: int,
          proposals_wanted: int, processes: int) -> dict[str, Any]:
    homes, _, _ = simulated_network(root, NODES, redundancy=R)
    t0 = time.perf_counter()
    specs, proposals = populate(homes, specs_wanted, proposals_wanted)
    written = time.perf_counter() - t0
    print(f"  written in {written:.1f} s", file=sys.stderr)
    ctx = multiprocessing.get_context("spawn")
    shares = [[homes[0]], *([homes[1 + w::processes] for w in range(processes)])]
    pipes, workers = [], []
    for w, share in enumerate(shares):
        ours, theirs = ctx.Pipe()
        worker = ctx.Process(target=run_nodes, daemon=True, args=(
            [str(h) for h in share], w == 0, NODES, proposals[REQUESTS:] if w == 0 else [],
            theirs))
        worker.start()
        pipes.append(ours)
        workers.append(worker)
    try:
        address = pipes[0].recv()
        for pipe in pipes[1:]:
            pipe.send(address)
        spread = settled(pipes)
        print(f"  started and settled in {spread:.1f} s", file=sys.stderr)
        idle = busy(pipes, 5.0)
        print(f"  the node processes idle: {idle:.2f} cores busy", file=sys.stderr)
        pipes[0].send("remote")
        remote = pipes[0].recv()
        figures = measure(SocketClient(homes[0], passphrase, []), specs, remote, listings,
                          matches)
        for pipe in pipes:
            pipe.send("stop")
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    return {"nodes": NODES, "proposals": len(proposals), "specs": len(specs),
            "requests": REQUESTS, "written_s": round(written, 1),
            "settled_s": round(spread, 1), "idle_cores_busy": round(idle, 2), **figures}


def measure(door: SocketClient, specs: list[str], remote: list[str], listings: int,
            matches: int) -> dict[str, Any]:
    """The gets (the baseline), the listings and the matches through `door`: each
    listing read as the command line reads it (a listing in one request), alternately
    with a get, so that both see the machine alike; then as often one by one (as before
    get_many: its many gets leave the nodes busy, so it has a phase of its own); the
    matches both ways, alternately."""
    gets: list[float] = []
    lists: dict[bool, list[float]] = {True: [], False: []}
    sizes = []
    step = max(1, len(specs) // (2 * listings))
    for batched in (True, False):
        for i in range(listings):
            spec = specs[(i * step + 1) % len(specs)]  # (mostly not one the cooperative asks for)
            if batched:
                timed(partial(door.get, remote[i % len(remote)]), gets)
            read = (partial(listing(door), "offer", spec, None, None) if batched else partial(
                list_proposals, "offer", spec, None, *reads(door)))
            sizes.append(len(timed(read, lists[batched])))
    runs: dict[bool, list[float]] = {True: [], False: []}
    found = 0
    for i in range(2 * matches):
        batched = i % 2 == 0
        for made in CALLS.values():
            made.clear()
        found = len(timed(partial(match, door, batched), runs[batched]))
        how = "one request a listing" if batched else "one by one"
        print(f"  match ({how}) {runs[batched][-1]:.2f} s: "
              + ", ".join(f"{k} {len(v)} calls {sum(v):.2f} s" for k, v in CALLS.items()),
              file=sys.stderr)
    get_p50 = statistics.median(gets)
    out: dict[str, Any] = {"get_p50_ms": round(get_p50 * 1000, 2),
                           "get_p95_ms": round(percentile(gets, 0.95) * 1000, 2),
                           "listing_rows": round(statistics.mean(sizes), 1), "match_rows": found}
    for batched, tag in ((True, ""), (False, "_one_by_one")):
        out.update({
            f"listing{tag}_p50_ms": round(statistics.median(lists[batched]) * 1000, 1),
            f"listing{tag}_p95_ms": round(percentile(lists[batched], 0.95) * 1000, 1),
            f"listing{tag}_over_get": round(statistics.median(lists[batched]) / get_p50, 1),
            f"match{tag}_p50_s": round(statistics.median(runs[batched]), 3),
            f"match{tag}_p95_s": round(percentile(runs[batched], 0.95), 3)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=40)
    parser.add_argument("--matches", type=int, default=10)
    parser.add_argument("--specs", type=int, default=SPECS)
    parser.add_argument("--proposals", type=int, default=PROPOSALS)
    parser.add_argument("--processes", type=int, default=2,
                        help="worker processes for the nine other nodes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        f = bench(Path(tmp), args.listings, args.matches, args.specs, args.proposals,
                  args.processes)
    print(f"{f['nodes']} nodes, {f['proposals']} open proposals over {f['specs']} "
          f"specifications: written in {f['written_s']} s, published and settled in "
          f"{f['settled_s']} s")
    print(f"get of one record (baseline): p50 {f['get_p50_ms']} ms, p95 {f['get_p95_ms']} ms")
    for tag, how in (("", "one request a listing"), ("_one_by_one", "records one by one")):
        print(f"offers of one specification ({f['listing_rows']} rows, {how}): p50 "
              f"{f[f'listing{tag}_p50_ms']} ms, p95 {f[f'listing{tag}_p95_ms']} ms = "
              f"{f[f'listing{tag}_over_get']}x a get (target < 5x)")
        print(f"match, {f['requests']} requests ({f['match_rows']} matches, {how}): p50 "
              f"{f[f'match{tag}_p50_s']} s, p95 {f[f'match{tag}_p95_s']} s (target < 2 s)")
    print(json.dumps(f))


if __name__ == "__main__":
    main()
