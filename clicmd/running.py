"""The running node: run (in the foreground), and what it reports: status, peers, sync."""

from __future__ import annotations

import argparse
import sys

from clicmd.common import (
    OPTS,
    arg,
    client,
    command,
    emit,
    interval,
    listen_addr,
    peer_addr,
    seconds,
)
from clicmd.unlock import PASSPHRASE_ARGS, run_passphrase


@command("run", arg("--listen", type=listen_addr, default="/ip4/0.0.0.0/tcp/0", metavar="MULTIADDR",
                    help="where to listen [/ip4/0.0.0.0/tcp/0]"),
         arg("--bootstrap", type=peer_addr, action="append", default=[], metavar="MULTIADDR",
             help="a member's address to join through (repeatable; the network file's are added)"),
         arg("--gossip-interval", type=interval, default=2.0,
             help="seconds between gossip rounds [2]"),
         arg("--auto-accept-from", action="append", default=[], metavar="AGENT",
             help="accept this agent's countersigned transfers without asking (an "
                  "agreement is always left for `coledger accept`; repeatable)"),
         arg("--log-level", choices=("debug", "info", "warning", "error"), default="info",
             help="the least level of the log lines on stderr [info]"),
         arg("--log-format", choices=("text", "json"), default="text",
             help="text, or json: one object a line (time, level, event, fields) [text]"),
         *PASSPHRASE_ARGS)
def cmd_run(a: argparse.Namespace) -> None:
    """Run this agent's node in the foreground until Ctrl-C or SIGTERM; print its
    multiaddrs. The passphrase is asked once, here: while the node runs, commands that
    write go through it. Under systemd it says when it is ready (sd_notify)."""
    import logging
    import signal

    import trio

    from node.api import configure_logs, log_event, open_node
    from node.service import sd_notify

    configure_logs("debug" if OPTS.debug else a.log_level, a.log_format)
    log = logging.getLogger("coledger.run")
    unlock = run_passphrase(a)

    async def main() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with open_node(OPTS.home, unlock, listen=a.listen, bootstrap=a.bootstrap,
                                 gossip_interval=a.gossip_interval,
                                 auto_accept_from=a.auto_accept_from) as node:
                addrs = node.transport.listen_addrs()
                emit({"agent_id": str(node.me), "listen": addrs,
                      "network_id": str(node.network_id)},
                     "\n".join(addrs))
                sys.stdout.flush()
                log.info("node started: agent %s listening on %s", node.me, " ".join(addrs),
                         extra=log_event("node_started", agent=node.me, listen=" ".join(addrs)))
                sd_notify("READY=1")
                async for _ in signals:
                    sd_notify("STOPPING=1")
                    break
        log.info("node stopped", extra=log_event("node_stopped"))

    trio.run(main)


@command("status")
def cmd_status(a: argparse.Namespace) -> None:
    """What the running node is doing: addresses, peers, ops by state, pending publishes."""
    s = client().status()
    ops = ", ".join(f"{k} {v}" for k, v in s["ops"].items())
    emit(s, f"agent {s['agent_id']}\nnetwork {s['network_id']}\n"
            + "".join(f"listening {x}\n" for x in s["listen"])
            + f"peers {s['peers']}, blocked {len(s['blocked'])}\nops: {ops}\n"
            + f"waiting to publish: {s['publish_pending']}")


@command("peers")
def cmd_peers(a: argparse.Namespace) -> None:
    """The member peers the running node is connected to."""
    peers = client().peers()
    emit(peers, "\n".join(f"{p['agent_id']}  {' '.join(p['addresses'])}" for p in peers)
         or "(no peers)")


@command("sync", arg("--timeout", type=seconds, default=30.0, help="seconds to wait at most [30]"))
def cmd_sync(a: argparse.Namespace) -> None:
    """Publish what this chain holds now and wait until its authorities hold it: exit 0
    once every op holds its receipts, else 1 at the timeout, saying how many lack them
    (an op only this node holds, with no peer to take it, is not published)."""
    import time

    deadline = time.monotonic() + a.timeout
    while True:
        result = client().sync()
        if result["pending"] == 0 or time.monotonic() > deadline:
            break
        if not OPTS.json:
            print(f"waiting for receipts: {result['pending']} ops", file=sys.stderr)
        time.sleep(0.5)
    pending, needed, peers = result["pending"], result["receipts_needed"], result["peers"]
    if pending == 0:
        emit(result, f"synced: every op holds its {needed} receipts ({peers} peers)")
        return
    if OPTS.json:
        emit(result)
    why = ("no peer to publish to: they are held by this node only" if peers == 0
           else f"{peers} peers reachable")
    print(f"coledger: error: not synced after {a.timeout:g} s: {pending} ops lack their"
          f" {needed} receipts ({why})", file=sys.stderr)
    raise SystemExit(1)
