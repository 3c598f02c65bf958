"""Client.inventory and Client.flows read the view kept folded per chain head
(node/own_view.py, node/runtime/ledger.py kept_view): on random chains they give what a
fold of the whole chain gives, after the chain grew (folded on from the kept head) and after it
was replaced below the kept head (as a forced recovery may: folded again); a walk cut at
`limit` steps is the whole walk's first steps; the node's cross-chain walk over the kept
index of its own chain is the one it builds from scratch."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.client import LocalClient
from node.core.errors import LocalError
from node.events import open_chain
from node.membership import create_network
from node.own_view import derived, forget, own_view
from node.store.home import open_agent
from node.testing import SIM_PASSPHRASE, append_events, fast_home
from node.vf_ledger import open_ledger
from zomes.valueflows.chain_views import chain_view_of
from zomes.valueflows.coordinator import EventRequest, flow_index, inventory
from zomes.valueflows.ledger_calls import walk
from zomes.valueflows.network_trace import joined, network_flows

T0 = 1_690_000_000_000_000
ACTIONS = ("produce", "consume", "use", "cite", "raise", "lower", "modify", "accept", "work")


def passphrase() -> str:
    return SIM_PASSPHRASE


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A home with a spec, two processes and two resources made by real events."""
    root = tmp_path_factory.mktemp("base")
    home, key = fast_home(root, "farm")
    with open_agent(home, passphrase) as agent:
        create_network(agent, "valley", {}, root / "valley.network.json")
    client = LocalClient(home, passphrase, [])
    spec = client.create_spec("flour", "kg", True, None)
    mill = client.create_process("mill", None, None)
    bake = client.create_process("bake", None, None)
    made = [client.record(EventRequest("produce", resource=f"new:{name}", conforms_to=spec,
                                       quantity="10 kg", output_of=mill),
                          detail=True)["created_resources"][name] for name in ("flour", "bran")]
    return home, {"flour": made[0], "bran": made[1], "mill": mill, "bake": bake,
                  "me": str(key.agent_id)}


EVENTS = st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 1), st.integers(0, 1),
                            st.integers(0, 10)), max_size=25)


def content(names: dict[str, str], action: str, r: int, p: int, t: int) -> dict[str, Any]:
    """An event of `action` on resource `r` and process `p` (a side of it that fits)."""
    me = names["me"]
    event: dict[str, Any] = {"action": action, "provider": me, "receiver": me,
                             "hasPointInTime": T0 + t * 1_000_000}
    if action == "work":
        event["effortQuantity"] = {"hasNumericalValue": "1", "hasUnit": "hour"}
    else:
        event["resourceInventoriedAs"] = (names["flour"], names["bran"])[r]
        event["resourceQuantity"] = {"hasNumericalValue": "1", "hasUnit": "kilogram"}
    process = (names["mill"], names["bake"])[p]
    if action in ("produce", "modify"):
        event["outputOf"] = process
    elif action not in ("raise", "lower"):
        event["inputOf"] = process
    return event


def fold_of_whole_chain(home: Path, ask: list[tuple[str, bool]]) -> tuple[Any, list[Any]]:
    """The inventory and each asked walk from a view folded from the whole chain here."""
    with open_agent(home, passphrase) as agent:
        view = chain_view_of(agent.store.records())
    index = flow_index(view)
    walks = []
    for address, backwards in ask:
        try:
            walks.append(walk(view, index, address, backwards))
        except LocalError as e:
            walks.append(str(e))
    return inventory(view), walks


def kept(client: LocalClient, ask: list[tuple[str, bool]]) -> tuple[Any, list[Any]]:
    walks = []
    for address, backwards in ask:
        try:
            walks.append(client.flows(address, backwards))
        except LocalError as e:
            walks.append(str(e))
    return client.inventory(), walks


def asked(home: Path, names: dict[str, str]) -> list[tuple[str, bool]]:
    """Walks from each resource and process, from some events, and from no such thing."""
    client = LocalClient(home, passphrase, [])
    events = [e["address"] for e in client.events(limit=6)["events"]]
    starts = [names["flour"], names["bran"], names["mill"], names["bake"], *events[::2],
              names["me"]]
    return [(a, b) for a in starts for b in (True, False)]


def same_as_whole_fold(home: Path, names: dict[str, str]) -> None:
    client = LocalClient(home, passphrase, [])
    ask = asked(home, names)
    fast, whole = kept(client, ask), fold_of_whole_chain(home, ask)
    assert fast == whole
    with open_ledger(home, passphrase) as led:  # (the ledger's view is the kept one)
        assert led.inventory() == whole[0]
    for (address, backwards), steps in zip(ask, whole[1], strict=True):
        if isinstance(steps, list):
            for limit in (1, 2, 5):
                assert client.flows(address, backwards, limit) == steps[:limit]


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=EVENTS, then=EVENTS, replaced=EVENTS, cut=st.integers(0, 30))
def test_kept_view_gives_what_a_fold_of_the_whole_chain_gives(
        base: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory,
        first: list[Any], then: list[Any], replaced: list[Any], cut: int) -> None:
    source, names = base
    home = tmp_path_factory.mktemp("chain") / "farm"
    shutil.copytree(source, home)
    with open_agent(home, passphrase) as agent:
        key = agent.key()
        start = agent.store.head().seq  # type: ignore[union-attr]
    append_events(home, key, (content(names, *e) for e in first))
    same_as_whole_fold(home, names)
    # Grown: folded on from the kept head.
    append_events(home, key, (content(names, *e) for e in then))
    same_as_whole_fold(home, names)
    # Replaced below the kept head (as a forced recovery may), then grown past it: the
    # record at the kept seq is another, so the view is folded again from the start.
    with open_agent(home, passphrase) as agent:
        agent.store.db.execute("DELETE FROM chain WHERE seq > ?",
                               (start + min(cut, len(first) + len(then)),))
    append_events(home, key, (content(names, *e) for e in [*replaced, *then, *first]))
    same_as_whole_fold(home, names)


def test_a_chain_replaced_by_one_of_the_same_length_is_folded_again(
        base: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    source, names = base
    home = tmp_path / "farm"
    shutil.copytree(source, home)
    with open_agent(home, passphrase) as agent:
        key = agent.key()
        start = agent.store.head().seq  # type: ignore[union-attr]
    append_events(home, key, (content(names, "produce", 0, 0, i) for i in range(5)))
    client = LocalClient(home, passphrase, [])
    before = client.inventory()
    with open_agent(home, passphrase) as agent:
        agent.store.db.execute("DELETE FROM chain WHERE seq > ?", (start,))
    append_events(home, key, (content(names, "consume", 0, 1, i) for i in range(5)))
    after = client.inventory()
    assert after != before
    assert after == fold_of_whole_chain(home, [])[0]


class NoNetwork:
    """A cascade that is never to be asked (our own chain names no other agent)."""

    async def get(self, address: Any) -> Any:
        raise AssertionError("asked the network")

    async def agent_activity(self, agent: Any) -> Any:
        raise AssertionError("asked the network")


def test_the_nodes_walk_over_the_kept_index_is_the_one_built_afresh(
        base: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    source, names = base
    home = tmp_path / "farm"
    shutil.copytree(source, home)
    with open_agent(home, passphrase) as agent:
        key = agent.key()
        me = agent.agent_id
    append_events(home, key, (content(names, a, i % 2, i % 3 % 2, 9 - i % 10)
                              for i, a in enumerate(ACTIONS * 3)))
    forget()
    with open_chain(home, lambda w: None) as store:
        view = own_view(store)
        for address, backwards in asked(home, names)[:8]:
            for limit in (None, 3):
                ask = partial(network_flows, NoNetwork(), me, view, address, backwards,
                              limit=limit)
                fresh = trio.run(ask)
                fast = trio.run(partial(ask, own_joined=partial(
                    derived, store, "joined", lambda v: joined([v]))))
                assert fast == fresh and fresh


def test_the_resource_page_walks_only_the_steps_it_draws(
        base: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from node.http.app import make_app
    from node.http.door import Door
    from node.http.graph import MAX_NODES
    from node.http.pages import routes

    source, names = base
    home = tmp_path / "farm"
    shutil.copytree(source, home)
    with open_agent(home, passphrase) as agent:
        key = agent.key()
    append_events(home, key, (content(names, "consume", 0, 0, 1) for _ in range(MAX_NODES)))
    client = LocalClient(home, passphrase, [])
    assert len(client.flows(names["flour"], False)) > MAX_NODES + 1
    token, origin = "t0ken-" + "x" * 38, "http://127.0.0.1:8420"
    door = Door(client)
    app = make_app(door, token, origin=origin, pages=routes(door))
    http = TestClient(app, base_url=origin, backend="trio")
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/html"}
    for resource, cut in ((names["flour"], True), (names["bran"], False)):
        page = http.get(f"/resources/{resource}", headers=headers).text
        track = page[page.index("<h2>Track"):]
        said = f"The first {MAX_NODES} steps, and more." in track
        assert said == cut
        drawn = len(client.flows(resource, False))
        assert track.count('<g class="step') == (MAX_NODES if cut else drawn)
