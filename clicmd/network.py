"""Commands on networks and membership: network create/file, invite, join."""

from __future__ import annotations

import argparse
from pathlib import Path

from clicmd.common import OPTS, agent, arg, clean, client, command, days, emit
from node.core.errors import LocalError


def _parse_properties(pairs: list[str]) -> dict[str, str]:
    props = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise LocalError(f"--property takes KEY=VALUE, got {pair!r}")
        props[key] = value
    return props


@command("network create", arg("name", help="the network's name; writes NAME.network.json"),
         arg("--property", action="append", default=[], metavar="KEY=VALUE",
             help="a network property, e.g. redundancy=5 (repeatable)"),
         arg("--out", type=Path, help="where to write the network file [./NAME.network.json]"))
def cmd_network_create(a: argparse.Namespace) -> None:
    """Create a network with this agent as progenitor, and join it (genesis). Its
    redundancy is config.toml's `redundancy` when --property gives none."""
    from clicmd.settings import load_config
    from node.membership import create_network

    target = a.out if a.out is not None else Path(f"{a.name}.network.json")
    properties = _parse_properties(a.property)
    if "redundancy" not in properties and "redundancy" in (config := load_config(OPTS.home)):
        properties["redundancy"] = str(config["redundancy"])
    with agent() as ag:
        dna = create_network(ag, a.name, properties, target)
    emit({"network_id": str(dna.address), "name": a.name, "file": str(target),
          "progenitor": dna.progenitor},
         f"network {dna.address}\nwritten to {target}")


@command("network file",
         arg("--output", type=Path, metavar="PATH",
             help="where to write it [./NAME.network.json]"),
         arg("--restore", type=Path, metavar="FILE",
             help="instead, put this home's own copy back from FILE (a member's network file; "
                  "checked against this chain)"))
def cmd_network_file(a: argparse.Namespace) -> None:
    """Write this network's file again (NAME.network.json, to share with members).

    When the node runs, its bootstrap list gains the node's own addresses and those of
    the members it knows, so that a new member can join through them. With --restore,
    put back this home's own copy when it was deleted."""
    from node.store.network_file import (
        current_dna,
        read_network_file,
        restore_network_file,
        write_network_file,
    )

    with agent() as ag:
        if a.restore is not None:
            if a.output is not None:
                raise LocalError("--restore writes this home's copy: it takes no --output")
            dna = restore_network_file(ag, a.restore)
            emit({"network_id": str(dna.address), "name": dna.name,
                  "file": str(ag.paths.network)},
                 f"restored {ag.paths.network} (network {clean(dna.name)}, {dna.address})")
            return
        dna = current_dna(ag)
        _, bootstrap = read_network_file(ag.paths.network)
    bootstrap = list(dict.fromkeys([*bootstrap, *_running_members()]))
    default = f"{dna.name.replace('/', '_').lstrip('.')}.network.json"
    target = a.output if a.output is not None else Path(default)
    if target.is_dir():
        target = target / default
    try:
        write_network_file(target, dna, bootstrap)
    except OSError as e:
        raise LocalError(f"cannot write {target}: {e.strerror or e}") from None
    emit({"network_id": str(dna.address), "name": dna.name, "file": str(target),
          "bootstrap": bootstrap},
         f"network {dna.address}\nwritten to {target}"
         + "".join(f"\nbootstrap {b}" for b in bootstrap))


def _running_members() -> list[str]:
    """The addresses members can reach the running node and its known members at, for the
    network file's bootstrap list ([] when no node runs): the node's own listen addresses
    (one on every interface, 0.0.0.0 or ::, as this host's outward address) and the
    addresses it knows its member peers by."""
    from dht.libp2p_backend import multiaddr_problem
    from node.core.refusals import NoNode

    try:
        status, peers = client().status(), client().peers()
    except NoNode:
        return []
    found = [_outward(a) for a in status["listen"]]
    found += [a for p in peers for a in p["addresses"] if a.endswith("/p2p/" + p["agent_id"])]
    return [a for a in found if a is not None and multiaddr_problem(a, peer=True) is None]


def _outward(address: str) -> str | None:
    """`address` with an unspecified host (0.0.0.0, ::) made this host's outward address
    (the one a route to the outside leaves from), None when there is none; else as it is."""
    import socket

    for unspecified, family, probe in (("/ip4/0.0.0.0/", socket.AF_INET, "192.0.2.1"),
                                       ("/ip6/::/", socket.AF_INET6, "2001:db8::1")):
        if address.startswith(unspecified):
            try:
                with socket.socket(family, socket.SOCK_DGRAM) as s:
                    s.connect((probe, 9))  # (UDP: no packet is sent, a route is chosen)
                    host = str(s.getsockname()[0])
            except OSError:
                return None
            return address.replace(unspecified, f"{unspecified[:5]}{host}/", 1)
    return address


@command("invite",
         arg("agent_id", help="the invitee's agent id (12D3KooW...), from its `coledger init`"),
         arg("--days", type=days, default=7.0, help="days until the invitation expires [7]"))
def cmd_invite(a: argparse.Namespace) -> None:
    """Print an invitation (membrane proof) for AGENT_ID to join this network."""
    from node.membership import invite

    with agent() as ag:
        token = invite(ag, a.agent_id, a.days)
    emit({"invitee": a.agent_id, "token": token, "expires_in_days": a.days}, token)


@command("join", arg("network_file", type=Path, help="the NAME.network.json the members share"),
         arg("--invite", required=True, metavar="TOKEN",
             help="the invitation token a member gave you"))
def cmd_join(a: argparse.Namespace) -> None:
    """Join a network: genesis with the invitation as membrane proof."""
    from node.membership import join

    with agent() as ag:
        dna = join(ag, a.network_file, a.invite.strip())
    emit({"network_id": str(dna.address), "name": dna.name},
         f"joined network {dna.name} ({dna.address})")
