"""The running node: run (in the foreground, serving HTTP too), and what it reports:
status, peers, sync; the HTTP token."""

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


def http_addr(text: str) -> str:
    """An argparse type: HOST:PORT to serve HTTP on (checked; the text kept, as config.toml's
    `http` is: node.http.serve.parse_http_addr splits it when the node starts)."""
    from node.http.serve import parse_http_addr

    try:
        parse_http_addr(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


@command("run", arg("--listen", type=listen_addr, metavar="MULTIADDR",
                    help="where to listen [/ip4/0.0.0.0/tcp/0]"),
         arg("--bootstrap", type=peer_addr, action="append", metavar="MULTIADDR",
             help="a member's address to join through (repeatable; the network file's are added)"),
         arg("--gossip-interval", type=interval,
             help="seconds between gossip rounds [2]"),
         arg("--auto-accept-from", action="append", metavar="AGENT",
             help="accept this agent's countersigned transfers without asking (an "
                  "agreement is always left for `coledger accept`; repeatable)"),
         arg("--log-level", choices=("debug", "info", "warning", "error"),
             help="the least level of the log lines on stderr [info]"),
         arg("--log-format", choices=("text", "json"),
             help="text, or json: one object a line (time, level, event, fields) [text]"),
         arg("--http", type=http_addr, metavar="HOST:PORT",
             help="serve the GraphQL API and the dashboard here (port 0: any free one) "
                  "[127.0.0.1:8420]"),
         arg("--no-http", action="store_true", help="serve no HTTP"),
         *PASSPHRASE_ARGS)
def cmd_run(a: argparse.Namespace) -> None:
    """Run this agent's node in the foreground until Ctrl-C or SIGTERM; print its
    multiaddrs. It also serves HTTP (the API and the pages, behind `coledger http-token`)
    unless --no-http. The passphrase is asked once, here: while the node runs, commands
    that write go through it. Under systemd it says when it is ready (sd_notify).

    Each flag overrides its key in the home's config.toml (see `coledger config show`);
    a first run on the default port 0 keeps the port it got there, for the next runs."""
    import logging
    import signal

    import trio

    from clicmd.settings import keep_listen_port, run_settings
    from node.api import configure_logs, log_event, open_node
    from node.service import sd_notify

    s = run_settings(a)
    configure_logs("debug" if OPTS.debug else s["log_level"].value, s["log_format"].value)
    log = logging.getLogger("coledger.run")
    given = run_passphrase(a)  # (a descriptor or a file is read now, once)
    sock = None
    if not a.no_http:
        from node.http.serve import bind_http, parse_http_addr

        # before the node: a port in use stops it
        sock = bind_http(*parse_http_addr(s["http"].value))
    secret: list[str] = []

    def asked_once() -> str:  # (the HTTP door opens the home again: ask only once)
        if not secret:
            secret.append(given())
        return secret[0]

    async def main() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with open_node(OPTS.home, asked_once, listen=s["listen"].value,
                                 bootstrap=s["bootstrap"].value,
                                 gossip_interval=s["gossip_interval"].value,
                                 auto_accept_from=s["auto_accept_from"].value) as node, \
                    trio.open_nursery() as services:
                stopping = trio.Event()
                url = None
                if sock is not None:
                    from node.http.serve import serve_http

                    url = await services.start(serve_http, OPTS.home, asked_once, sock,
                                               stopping.wait)
                addrs = node.transport.listen_addrs()
                keep_listen_port(OPTS.home, s["listen"], addrs, log)
                emit({"agent_id": str(node.me), "listen": addrs,
                      "network_id": str(node.network_id), "http": url},
                     "\n".join(addrs))
                sys.stdout.flush()
                log.info("node started: agent %s listening on %s", node.me, " ".join(addrs),
                         extra=log_event("node_started", agent=node.me, listen=" ".join(addrs)))
                sd_notify("READY=1")
                async for _ in signals:
                    sd_notify("STOPPING=1")
                    break
                stopping.set()
        log.info("node stopped", extra=log_event("node_stopped"))

    trio.run(main)


@command("http-token", arg("--rotate", action="store_true",
                           help="make a new token (a running node keeps the old one until it "
                                "is restarted)"))
def cmd_http_token(a: argparse.Namespace) -> None:
    """The token of this home's HTTP API and pages (kept in the home, mode 0600; made on
    first use): send it as `Authorization: Bearer TOKEN`, or paste it at /login."""
    from node.http.token import http_token, token_path

    token = http_token(OPTS.home, rotate=a.rotate)
    emit({"token": token, "file": str(token_path(OPTS.home))}, token)


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
