"""Commit throughput: the real commit path against the raw floor, in the same run.

Real path: N entries built, encoded, addressed, signed, chained and flushed through
`Agent.commit` (batches of --batch entries, one transaction each) into a real
SQLite file. Floor: a bare loop of cbor2 encode + blake2b + PyNaCl sign + one
SQLite insert per entry, in one transaction. Last line: JSON with both and the ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cbor2  # noqa: E402
import nacl.signing  # noqa: E402

from node.api import init_home, open_agent  # noqa: E402
from node.core.cid import Cid  # noqa: E402
from node.core.encoding import Value  # noqa: E402
from node.core.scratch import Scratch  # noqa: E402


def entry(i: int) -> Value:
    return {
        "action": "produce",
        "resourceQuantity": {"hasNumericalValue": str(i), "hasUnit": "kilogram"},
        "note": f"lot {i}",
    }


def real_path(n: int, batch: int, root: Path) -> float:
    init_home(root / "home", "bench", "bench")
    with open_agent(root / "home", lambda: "bench") as agent:
        agent.commit(
            lambda s: s.genesis(Cid.of(b"bench dna"), None, {"agent": agent.agent_id.to_bytes()})
        )
        agent.key()
        start = time.perf_counter()
        for lo in range(0, n, batch):
            def build(s: Scratch, lo: int = lo) -> list[Cid]:
                return [s.create("bench.Event", entry(i)) for i in range(lo, min(n, lo + batch))]

            agent.commit(build)
        elapsed = time.perf_counter() - start
        head = agent.head()
        assert head is not None and head.seq == n + 2
    return n / elapsed


def floor(n: int, root: Path) -> float:
    key = nacl.signing.SigningKey.generate()
    conn = sqlite3.connect(root / "floor.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t(address BLOB PRIMARY KEY, data BLOB, sig BLOB)")
    start = time.perf_counter()
    conn.execute("BEGIN")
    for i in range(n):
        data = cbor2.dumps(entry(i), canonical=True)
        address = hashlib.blake2b(data, digest_size=32).digest()
        sig = key.sign(data).signature
        conn.execute("INSERT INTO t VALUES (?, ?, ?)", (address, data, sig))
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000, help="entries to commit")
    parser.add_argument("--batch", type=int, default=1_000, help="entries per commit")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = floor(args.n, Path(tmp))
        ours = real_path(args.n, args.batch, Path(tmp))
    print(f"commit path: {ours:,.0f} entries/s; raw floor: {base:,.0f} entries/s")
    print(
        json.dumps(
            {
                "events_per_s": round(ours),
                "baseline_per_s": round(base),
                "ratio": round(ours / base, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
