"""Gathering what reports read: the chains of every agent reachable, into one Dataset.

With a running node (`coledger run`), the command line asks it, over the RPC socket, for
chains in batches (`chains`, node/runtime/reports.py): first its own, its peers' and
those its DHT store holds, then, breadth first, the chains of the agents those chains'
events name, up to `max_agents`. The node gets each from the agent's activity
authorities (`Node.agent_activity`, verified). Without a node, the home's own chain and
the chains its DHT store holds (as an authority) are read directly.

The reports themselves are pure (zomes/accounting/reports.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from node.runtime.progress import Progress
from node.runtime.reports import unpack
from node.store.home import PassphraseSource, gc_paused, open_agent
from zomes.accounting.dataset import Dataset

MAX_AGENTS: Final = 256  # chains a report gathers at most
BATCH: Final = 16  # chains per RPC call: one progress step, one bounded reply


# -- on the command line -----------------------------------------------------------------


def _add_chains(ds: Dataset, chains: dict[str, list[list[str | None]]]) -> None:
    for packed in chains.values():
        ds.add_records(unpack(p) for p in packed)


def gather_from_node(
    home: Path, *, max_agents: int = MAX_AGENTS, progress: Progress | None = None
) -> tuple[Dataset, str]:
    """(dataset, this agent's id), breadth first through the running node."""
    from node.runtime.socket_client import call

    progress = progress or Progress("gathering chains")
    ds = Dataset()
    first = call(home, "chains")
    queue = list(dict.fromkeys(first["start"]))  # then breadth first: the agents named
    tried: set[str] = set()
    while len(tried) < max_agents:
        queue = [a for a in queue if a not in tried]
        if not queue:
            queue = sorted(ds.agents_named() - tried)
            if not queue:
                break
        batch = queue[: min(BATCH, max_agents - len(tried))]
        tried.update(batch)
        _add_chains(ds, call(home, "chains", timeout=180.0, agents=batch)["chains"])
        progress.update(len(tried), min(max_agents, len(tried) + len(queue) - len(batch)), "chains")
    progress.close()
    return ds, str(first["me"])


def gather_local(
    home: Path, passphrase: PassphraseSource, *, progress: Progress | None = None
) -> tuple[Dataset, str]:
    """(dataset, this agent's id) from the home alone: its chain and the chains its DHT
    store holds."""
    from node.store.dht import DhtStore

    progress = progress or Progress("reading chains")
    ds = Dataset()
    with open_agent(home, passphrase) as agent, gc_paused():
        ds.add_records(agent.store.records())
        dht = DhtStore(agent.store)
        authors = [a for a in dht.activity_authors() if a != agent.agent_id]
        for done, author in enumerate(authors, 1):
            ds.add_records(dht.activity(author))
            progress.update(done, len(authors), "chains")
        me = str(agent.agent_id)
    progress.close()
    return ds, me


def gather(
    home: Path, passphrase: PassphraseSource, *, network: bool = True,
    max_agents: int = MAX_AGENTS,
) -> tuple[Dataset, str]:  # fmt: skip
    """Through the running node when there is one (and `network` is wanted), else from
    the home alone."""
    from node.runtime.socket_client import node_running

    if network and node_running(home):
        return gather_from_node(home, max_agents=max_agents)
    return gather_local(home, passphrase)
