"""What strangers (peers with no membrane proof) can make a node hold in memory.

A node runs in a child process on 127.0.0.1; 1, then 4, strangers (libp2p hosts with
fresh keys, in this process) each open --streams streams of the node's hello protocol
and write an 8 MiB frame on each, all at once. Printed per run: the node's RSS before
the flood, its peak, and its RSS a few seconds after the flood ended. The baseline, in
the same run, is a node whose limits are set as they were before strangers had their
own (stranger frames up to 8 MiB, 64 streams, no greeting deadline, no frame budget).
Last line: JSON. Run: .venv/bin/python bench/strangers.py [--streams 64]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dht.transport import MAX_MESSAGE, Limits, encode_varint, protocol_id  # noqa: E402
from node.core.cid import Cid  # noqa: E402
from node.core.identity import AgentKey  # noqa: E402

PASS = "bench strangers"
FRAME = MAX_MESSAGE  # 8 MiB: the largest frame anyone could send before
SETTLE_S = 3.0
UNBOUNDED = 1 << 40

BEFORE = Limits(stranger_max_message=MAX_MESSAGE, stranger_streams=64, greet_deadline=1e9,
                frame_budget=UNBOUNDED, stranger_budget=UNBOUNDED)
"""The limits strangers had before they had their own."""
LIMITS = {"before": BEFORE, "now": Limits()}


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for {pid}")


def make_home(root: Path) -> Path:
    from node.api import init_home, open_agent
    from node.membership import create_network

    home = root / "node"
    init_home(home, PASS, "node")
    with open_agent(home, lambda: PASS) as agent:
        create_network(agent, "bench", {}, root / "bench.network.json")
    return home


def serve(home: Path, limits: str) -> None:
    """The child: run the node, print its address, wait to be killed."""
    from node.runtime.conductor import open_node

    async def main() -> None:
        async with open_node(home, lambda: PASS, listen="/ip4/127.0.0.1/tcp/0",
                             gossip_interval=3600.0, limits=LIMITS[limits]) as node:
            print(json.dumps({"address": node.transport.listen_addrs()[0],
                              "network": str(node.network_id)}), flush=True)
            await trio.sleep_forever()

    trio.run(main)


async def flood(address: str, network: Cid, strangers: int, streams: int) -> dict[str, int]:
    """Each stranger writes an 8 MiB hello frame on each of its streams; the outcomes."""
    from libp2p.peer.id import ID

    from dht.libp2p_backend import open_libp2p_transport
    from dht.transport import peer_in

    node = ID(peer_in(address).to_bytes())
    pid = protocol_id(network, "hello")
    body = os.urandom(FRAME)
    outcomes = {"answered": 0, "refused": 0}

    async def one_stream(host: object) -> None:
        try:
            stream = await host.new_stream(node, [pid])  # type: ignore[attr-defined]
            await stream.write(encode_varint(len(body)))
            await stream.write(body)
            answer = await stream.read(1 << 16)
            outcomes["answered" if answer else "refused"] += 1
        except Exception:  # noqa: BLE001 - a reset: the node refused it
            outcomes["refused"] += 1

    async def stranger() -> None:
        async with open_libp2p_transport(AgentKey.generate(), network, "/ip4/127.0.0.1/tcp/0",
                                         bootstrap_attempts=1) as t:
            try:
                await t.connect(address)
            except Exception:  # noqa: BLE001 - closed on it: counted as refused
                outcomes["refused"] += streams
                return
            with trio.move_on_after(300):
                async with trio.open_nursery() as nursery:
                    for _ in range(streams):
                        nursery.start_soon(one_stream, t._host)

    async with trio.open_nursery() as nursery:
        for _ in range(strangers):
            nursery.start_soon(stranger)
    return outcomes


def run_one(home: Path, limits: str, strangers: int, streams: int) -> dict[str, object]:
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(home), "--limits", limits],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None
        info = json.loads(child.stdout.readline())
        time.sleep(SETTLE_S)
        before = rss_mb(child.pid)
        start = time.perf_counter()
        outcomes = trio.run(flood, info["address"], Cid.parse(info["network"]), strangers,
                            streams)
        seconds = time.perf_counter() - start
        time.sleep(SETTLE_S)
        after, peak = rss_mb(child.pid), rss_mb(child.pid, "VmHWM")
        alive = child.poll() is None
    finally:
        child.kill()
        child.wait()
    return {"limits": limits, "strangers": strangers, "streams_each": streams,
            "rss_before_mb": round(before), "rss_peak_mb": round(peak),
            "rss_after_mb": round(after), "flood_s": round(seconds, 1), "node_alive": alive,
            **outcomes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=64, help="streams per stranger [64]")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--limits", choices=sorted(LIMITS), default="now", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.limits)
        return
    os.environ["COLEDGER_PASSPHRASE"] = PASS
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        home = make_home(Path(tmp))
        for limits in ("before", "now"):
            for strangers in (1, 4):
                r = run_one(home, limits, strangers, args.streams)
                results.append(r)
                print(f"{limits:>6} limits, {strangers} stranger(s) x {args.streams} streams x "
                      f"8 MiB: RSS {r['rss_before_mb']} MB before, peak {r['rss_peak_mb']}, "
                      f"{r['rss_after_mb']} after ({r['answered']} frames read and answered,"
                      f" {r['refused']} refused, {r['flood_s']} s)", flush=True)
    for strangers in (1, 4):
        old, new = (next(r for r in results if r["limits"] == lim and r["strangers"] == strangers)
                    for lim in ("before", "now"))
        grew_old = int(old["rss_peak_mb"]) - int(old["rss_before_mb"])  # type: ignore[call-overload]
        grew_new = int(new["rss_peak_mb"]) - int(new["rss_before_mb"])  # type: ignore[call-overload]
        print(f"{strangers} stranger(s): peak growth {grew_new} MB now vs {grew_old} MB before")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
