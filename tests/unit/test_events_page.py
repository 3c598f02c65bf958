"""Client.events: pages of this chain's economic events, newest first, from the chain's event
index: every filter against a plain reading of the whole chain, cursor paging to the end
with nothing twice or missed, the index catching up with new events and rebuilt when the
chain it was built from was replaced, and a page of a long chain read without folding it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from node.client import LocalClient
from node.core.errors import LocalError
from node.membership import create_network
from node.store.home import open_agent
from node.testing import SIM_PASSPHRASE, append_events, fast_home
from zomes.valueflows.coordinator import EventRequest
from zomes.valueflows.parsing import parse, thing_address

T0 = 1_690_000_000_000_000
ACTIONS = ("produce", "consume", "use", "work", "cite")


def passphrase() -> str:
    return SIM_PASSPHRASE


def farm(tmp_path: Path) -> tuple[LocalClient, dict[str, str]]:
    """A home in a network of its own with a spec, two processes, a resource made by a real
    event, and 3,000 events more appended (five actions, two resources, two processes)."""
    home, key = fast_home(tmp_path, "farm")
    with open_agent(home, passphrase) as agent:
        create_network(agent, "valley", {}, tmp_path / "valley.network.json")
    client = LocalClient(home, passphrase, [])
    spec = client.create_spec("flour", "kg", False, None)
    mill = client.create_process("mill", None, None)
    bake = client.create_process("bake", None, None)
    made = client.record(EventRequest("produce", resource="new:flour", conforms_to=spec,
                                      quantity="10 kg", output_of=mill), detail=True)
    flour = made["created_resources"]["flour"]
    other = client.record(EventRequest("produce", resource="new:bran", conforms_to=spec,
                                       quantity="2 kg", output_of=mill),
                          detail=True)["created_resources"]["bran"]
    me = str(key.agent_id)

    def content(i: int) -> dict[str, Any]:
        return {"action": ACTIONS[i % 5], "provider": me, "receiver": me,
                "resourceInventoriedAs": (flour, other)[i % 3 == 0],
                "inputOf" if i % 2 else "outputOf": (mill, bake)[i % 7 == 0],
                "resourceQuantity": {"hasNumericalValue": "1", "hasUnit": "kilogram"},
                "hasPointInTime": T0 + i * 1_000_000}

    append_events(home, key, (content(i) for i in range(3000)))
    return client, {"flour": flour, "other": other, "mill": mill, "bake": bake, "spec": spec,
                    "me": me}


def every_event(client: LocalClient) -> list[dict[str, Any]]:
    """The plain reading: every event of the chain, newest first (what a page must match)."""
    out = []
    with open_agent(client.home, passphrase) as agent:
        for record in agent.store.records(entry_type_prefix="valueflows."):
            name = record.action.entry_type  # type: ignore[attr-defined]
            if name.endswith("EconomicEvent") or name.endswith("CountersignedEvent"):
                event = parse(name, record.entry.value)  # type: ignore[union-attr]
                out.append({"address": thing_address(record.action, record.address),
                            "seq": record.action.seq, **event.to_content()})
    return out[::-1]


def all_pages(client: LocalClient, limit: int, **where: Any) -> list[dict[str, Any]]:
    rows, after, pages = [], None, 0
    while True:
        page = client.events(after=after, limit=limit, **where)
        assert len(page["events"]) <= limit
        rows += page["events"]
        pages += 1
        after = page["next"]
        if after is None:
            return rows
        assert len(page["events"]) == limit and pages < 10_000


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalClient, dict[str, str]]:
    return farm(tmp_path_factory.mktemp("events"))


def test_pages_to_the_end_hold_every_event_once_newest_first(built) -> None:  # type: ignore[no-untyped-def]
    client, _ = built
    expected = every_event(client)
    assert len(expected) == 3002
    first = client.events()
    assert [e["address"] for e in first["events"]] == [e["address"] for e in expected[:50]]
    row = first["events"][0]
    assert row["record"] == row["address"] and not row["countersigned"]
    assert row["timestamp"] > 0 and row["resourceQuantity"]["hasUnit"] == "kilogram"
    paged = all_pages(client, 97)
    assert [(e["address"], e["seq"]) for e in paged] == [(e["address"], e["seq"])
                                                          for e in expected]
    assert {k: v for k, v in paged[-1].items() if k in expected[-1]} == expected[-1]


@pytest.mark.parametrize("where", [
    {"action": "consume"}, {"action": "transfer"}, {"resource": "flour"}, {"resource": "other"},
    {"process": "mill"}, {"process": "bake"}, {"resource": "flour", "process": "bake"},
    {"action": "cite", "resource": "other", "process": "mill"},
    {"since_us": T0 + 1000 * 1_000_000, "until_us": T0 + 1100 * 1_000_000},
    {"action": "use", "since_us": T0 + 2900 * 1_000_000},
])
def test_each_filter_gives_what_a_reading_of_the_whole_chain_gives(built, where) -> None:  # type: ignore[no-untyped-def]
    client, names = built
    where = {k: names.get(v, v) if isinstance(v, str) and k != "action" else v
             for k, v in where.items()}

    def wanted(e: dict[str, Any]) -> bool:
        t = e.get("hasPointInTime", 0)
        return all((
            where.get("action") in (None, e["action"]),
            where.get("resource") in (None, e.get("resourceInventoriedAs"),
                                      e.get("toResourceInventoriedAs")),
            where.get("process") in (None, e.get("inputOf"), e.get("outputOf")),
            where.get("since_us") is None or t >= where["since_us"],
            where.get("until_us") is None or t <= where["until_us"],
        ))

    expected = [e["address"] for e in every_event(client) if wanted(e)]
    assert [e["address"] for e in all_pages(client, 40, **where)] == expected


def test_bad_limits_and_cursors_are_refused(built) -> None:  # type: ignore[no-untyped-def]
    client, _ = built
    for limit in (0, 1001):
        with pytest.raises(LocalError, match="a page holds 1 to 1000"):
            client.events(limit=limit)
    with pytest.raises(LocalError, match="not a cursor"):
        client.events(after="bafy; DROP TABLE chain")


def test_the_index_catches_up_and_is_rebuilt_for_another_chain(tmp_path: Path) -> None:
    client, names = farm(tmp_path)
    assert client.events(limit=1)["events"][0]["seq"] == every_event(client)[0]["seq"]
    made = client.record(EventRequest("consume", resource=names["flour"], quantity="1 kg",
                                      input_of=names["bake"]))
    top = client.events(action="consume", limit=2)["events"]
    assert top[0]["address"] == made["address"] and top[0]["inputOf"] == names["bake"]
    # The chain replaced from seq 2990 on (as a forced recovery may): the index sees it.
    with open_agent(client.home, passphrase) as agent:
        agent.store.db.execute("DELETE FROM chain WHERE seq >= 2990")
        key = agent.key()
    me = names["me"]
    append_events(client.home, key, ({"action": "work", "provider": me, "receiver": me,
                                      "effortQuantity": {"hasNumericalValue": "1",
                                                         "hasUnit": "hour"}}
                                     for _ in range(40)))
    rows = client.events(limit=41)["events"]
    assert [e["action"] for e in rows[:40]] == ["work"] * 40 and rows[40]["seq"] < 2990
    assert client.events(action="consume", limit=1)["events"][0]["seq"] < 2990


@pytest.mark.slow
def test_a_page_of_a_chain_of_100000_events_is_a_seek(tmp_path: Path) -> None:
    home, key = fast_home(tmp_path, "big")
    with open_agent(home, passphrase) as agent:
        create_network(agent, "valley", {}, tmp_path / "valley.network.json")
    me = str(key.agent_id)
    append_events(home, key, ({"action": ("produce", "consume")[i % 2], "provider": me,
                               "receiver": me, "hasPointInTime": T0 + i,
                               "effortQuantity": {"hasNumericalValue": "1", "hasUnit": "hour"}}
                              for i in range(100_000)))
    client = LocalClient(home, passphrase, [])
    assert len(client.events()["events"]) == 50  # (the index built once)
    times = []
    for after in ("100000", "50000", "60", None):
        started = time.perf_counter()
        page = client.events(after=after, action="consume")
        times.append(time.perf_counter() - started)
        assert {e["action"] for e in page["events"]} == {"consume"}
        assert 25 < len(page["events"]) < 30 if after == "60" else len(page["events"]) == 50
    assert sorted(times)[2] < 0.1, times  # a fold of the chain takes seconds


def test_things_are_this_chains_entries_of_a_kind_latest_versions_first_made_first(
        tmp_path: Path) -> None:
    client, names = farm(tmp_path)
    assert [s["name"] for s in client.things("ResourceSpecification")] == ["flour"]
    client.finish_process(names["mill"])
    processes = client.things("Process")
    assert [(p["address"], p["name"]) for p in processes] == [(names["mill"], "mill"),
                                                               (names["bake"], "bake")]
    assert processes[0]["finished"] is True and processes[0]["record"] != names["mill"]
    assert client.things("Plan") == []
    assert client.whoami() == {"id": names["me"], "name": "farm"}
    with pytest.raises(LocalError, match="not a kind of thing"):
        client.things("chain")


def test_a_read_only_home_pages_its_events_from_a_temporary_index(built) -> None:  # type: ignore[no-untyped-def]
    from node.events import events_page
    from node.store.db import open_readonly
    from node.store.event_index import EventFilter
    from node.store.home import HomePaths
    from node.store.sqlite import Store

    client, names = built
    store = Store(open_readonly(HomePaths(client.home).db))
    try:
        assert store.readonly
        page = events_page(store, EventFilter(resource=names["other"]), None, 30)
        tables = {r[0] for r in store.db.execute(
            "SELECT name FROM temp.sqlite_master WHERE type = 'table'")}
    finally:
        store.close()
    assert "event_index" in tables
    assert page == client.events(resource=names["other"], limit=30)
