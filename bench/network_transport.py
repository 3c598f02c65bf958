"""Benchmark of the libp2p transport: batched requests against the raw stream baseline.

Two hosts in one process on 127.0.0.1 (they share one core). Figures:
(a) publish-sized requests (500 ops of ~400 bytes, one response each) per second,
    next to the same bytes written over one libp2p stream in the same run;
(b) connect time (dial + Noise + Yamux) and small-request latency.
Prints lines for people and, last, one JSON line. Run: .venv/bin/python bench/network_transport.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dht.wire import PublishRequest, PublishResponse, RawOp, decode_message, encode_message  # noqa: E402
from node.core.cid import Cid  # noqa: E402
from node.core.identity import AgentId, AgentKey  # noqa: E402

OPS_PER_MESSAGE = 500
MESSAGES = 40
CONCURRENCY = 4
CONNECTS = 10
SMALL_REQUESTS = 300
NETWORK = Cid.of(b"bench")


def batch() -> bytes:
    key = AgentKey.generate()
    ops = tuple(
        RawOp("StoreRecord", os.urandom(240), key.sign(b"x"), os.urandom(60))
        for _ in range(OPS_PER_MESSAGE)
    )
    return encode_message(PublishRequest(ops))


async def main() -> dict[str, float]:
    from libp2p.custom_types import TProtocol
    from libp2p.peer.id import ID

    from dht.libp2p_backend import open_libp2p_transport

    payload = batch()
    reply = encode_message(PublishResponse(()))

    async def publish(peer: AgentId, data: bytes) -> bytes:
        decode_message(PublishRequest, data)  # a real handler decodes the batch
        return reply

    async def echo(peer: AgentId, data: bytes) -> bytes:
        return data

    async with (
        open_libp2p_transport(AgentKey.generate(), NETWORK) as a,
        open_libp2p_transport(AgentKey.generate(), NETWORK) as b,
    ):
        b.set_handler("publish", publish)
        b.set_handler("echo", echo)
        b_addr = b.listen_addrs()[0]

        # (b) connect time: fresh dial each time.
        connect_ms = []
        for _ in range(CONNECTS):
            await a.disconnect(b.local_id)
            start = time.perf_counter()
            await a.connect(b_addr)
            connect_ms.append((time.perf_counter() - start) * 1000)

        # small request latency
        latency_ms = []
        for _ in range(SMALL_REQUESTS):
            start = time.perf_counter()
            await a.request(b.local_id, "echo", b"x" * 100, timeout=10)
            latency_ms.append((time.perf_counter() - start) * 1000)

        # (a) batched publish requests
        async def sender(count: int) -> None:
            for _ in range(count):
                await a.request(b.local_id, "publish", payload, timeout=60)

        start = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for _ in range(CONCURRENCY):
                nursery.start_soon(sender, MESSAGES // CONCURRENCY)
        request_s = time.perf_counter() - start

        # baseline: the same bytes over one raw libp2p stream, acknowledged at the end
        total = MESSAGES * len(payload)
        done = trio.Event()

        async def sink(stream: object) -> None:
            got = 0
            while got < total:
                chunk = await stream.read(1 << 16)  # type: ignore[attr-defined]
                if not chunk:
                    break
                got += len(chunk)
            await stream.write(b"k")  # type: ignore[attr-defined]
            await stream.close()  # type: ignore[attr-defined]
            done.set()

        raw_proto = TProtocol("/coledger-bench/raw/1")
        b._host.set_stream_handler(raw_proto, sink)
        start = time.perf_counter()
        stream = await a._host.new_stream(ID(b.local_id.to_bytes()), [raw_proto])
        for _ in range(MESSAGES):
            await stream.write(payload)
        assert await stream.read(1) == b"k"
        await done.wait()
        raw_s = time.perf_counter() - start
        await stream.close()

    start = time.perf_counter()
    for _ in range(MESSAGES):
        decode_message(PublishRequest, payload)
    decode_s = time.perf_counter() - start

    ops = MESSAGES * OPS_PER_MESSAGE
    return {
        "decode_share": decode_s / request_s,
        "message_bytes": len(payload),
        "messages": MESSAGES,
        "ops_per_s": ops / request_s,
        "request_mb_per_s": total / request_s / 1e6,
        "raw_ops_per_s": ops / raw_s,
        "raw_mb_per_s": total / raw_s / 1e6,
        "ratio_request_to_raw": raw_s / request_s,
        "connect_ms_median": statistics.median(connect_ms),
        "small_request_ms_median": statistics.median(latency_ms),
        "small_requests_per_s": 1000 / statistics.mean(latency_ms),
    }


if __name__ == "__main__":
    r = trio.run(main)
    print(f"message: {r['message_bytes']:,} bytes ({OPS_PER_MESSAGE} ops), {MESSAGES} sent")
    print(
        f"batched requests: {r['ops_per_s']:,.0f} ops/s ({r['request_mb_per_s']:.1f} MB/s), "
        f"concurrency {CONCURRENCY}"
    )
    print(f"raw stream, same bytes: {r['raw_ops_per_s']:,.0f} ops/s ({r['raw_mb_per_s']:.1f} MB/s)")
    print(f"ratio requests/raw: {r['ratio_request_to_raw']:.2f}")
    print(f"share of the request time spent decoding batches: {r['decode_share']:.0%}")
    print(f"connect: {r['connect_ms_median']:.1f} ms median of {CONNECTS}")
    print(
        f"small request round trip: {r['small_request_ms_median']:.2f} ms median "
        f"({r['small_requests_per_s']:,.0f}/s sequential)"
    )
    print(json.dumps({k: round(v, 3) for k, v in r.items()}))
