"""The dashboard's pages (node/http/pages.py) with Starlette's TestClient on a real home
(LocalClient): a produce event recorded through the form shows in the inventory and the
resource's page, a refusal shows the rule and writes nothing, the events page filters and
pages with its cursor, each action's form shows that action's fields, the trace graph's
edges and escaping, the nav on every page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from node.client import LocalClient
from node.http.app import make_app
from node.http.door import Door
from node.http.forms import fields_for
from node.http.graph import flows_svg, parents
from node.http.pages import routes
from node.membership import create_network
from node.store.home import open_agent
from node.testing import SIM_PASSPHRASE, fast_home
from zomes.valueflows.coordinator import EventRequest

TOKEN = "t0ken-" + "x" * 38
ORIGIN = "http://127.0.0.1:8420"
HTML = {"Authorization": f"Bearer {TOKEN}", "Accept": "text/html"}
PAGES = ("/", "/inventory", "/events", "/record", "/record?action=transfer", "/specs/new",
         "/processes/new", "/reports/flows", "/reports/contributions", "/reports/footprint",
         "/plans")


def passphrase() -> str:
    return SIM_PASSPHRASE


@pytest.fixture
def site(tmp_path: Path) -> tuple[TestClient, LocalClient]:
    home, _ = fast_home(tmp_path, "farm")
    with open_agent(home, passphrase) as agent:
        create_network(agent, "valley", {}, tmp_path / "valley.network.json")
    client = LocalClient(home, passphrase, [])
    door = Door(client)
    app = make_app(door, TOKEN, origin=ORIGIN, pages=routes(door))
    return TestClient(app, base_url=ORIGIN, backend="trio"), client


def chain_length(client: LocalClient) -> int:
    return len(client.events(limit=1000)["events"])


def test_a_produce_event_recorded_through_the_form(site: tuple[TestClient, LocalClient]) -> None:
    http, client = site
    process = client.create_process("baking", None, None)
    form = http.get("/record?action=produce", headers=HTML)
    assert form.status_code == 200 and 'name="output_of"' in form.text
    assert f'<option value="{process}">baking</option>' in form.text
    done = http.post("/record", headers=HTML, follow_redirects=False, data={
        "action": "produce", "new_resource": "bread", "quantity": "10 kg",
        "output_of": process})
    assert done.status_code == 303
    [row] = client.inventory()
    assert done.headers["location"].startswith(f"/resources/{row['address']}?recorded=")
    page = http.get("/inventory", headers=HTML).text
    assert re.search(r">bread</a></td>\s*<td class=\"num\">10 kilogram</td>\s*"
                     r"<td class=\"num\">10 kilogram</td>", page)
    resource = http.get(f"/resources/{row['address']}", headers=HTML).text
    assert "<h1>bread</h1>" in resource and '<svg xmlns="http://www.w3.org/2000/svg"' in resource
    assert ">produce 10 kilogram</text>" in resource and ">baking</text>" in resource
    assert "<td>produce</td>" in resource  # its events (Client.events)


def test_a_refusal_shows_the_rule_and_writes_nothing(
        site: tuple[TestClient, LocalClient]) -> None:
    http, client = site
    process = client.create_process("baking", None, None)
    client.record(EventRequest("produce", resource="new:bread", quantity="10 kg",
                               output_of=process))
    [row] = client.inventory()
    before = chain_length(client)
    refused = http.post("/record", headers=HTML, data={
        "action": "consume", "resource": row["address"], "quantity": "3 kg"})
    assert refused.status_code == 422
    assert "rejected by check_process_link" in refused.text
    assert "<code>check_process_link</code>" in refused.text
    assert "Nothing was written" in refused.text
    assert 'value="3 kg"' in refused.text  # the form again, as it was filled
    assert chain_length(client) == before
    assert client.inventory()[0]["accountingQuantity"]["hasNumericalValue"] == "10"


def test_the_events_page_filters_and_pages(site: tuple[TestClient, LocalClient]) -> None:
    http, client = site
    process = client.create_process("baking", None, None)
    client.record(EventRequest("produce", resource="new:bread", quantity="60 kg",
                               output_of=process))
    bread = client.inventory()[0]["address"]
    eating = client.create_process("eating", None, None)
    for _ in range(55):
        client.record(EventRequest("consume", resource=bread, quantity="1 kg", input_of=eating))
    first = http.get("/events?action=consume", headers=HTML).text
    assert first.count("<td>consume</td>") == 50 and "<td>produce</td>" not in first
    after = re.search(r'id="next-page" href="([^"]+)"', first)
    assert after is not None
    second = http.get(after.group(1).replace("&amp;", "&"), headers=HTML).text
    assert second.count("<td>consume</td>") == 5 and 'id="next-page"' not in second
    made = http.get(f"/events?process={process}", headers=HTML).text
    assert made.count("<td>produce</td>") == 1 and "<td>consume</td>" not in made
    assert http.get("/events?from=2000-01-01&to=2000-12-31", headers=HTML).text.count(
        "<td>consume</td>") == 0
    assert http.get("/events?action=eat", headers=HTML).status_code == 400


def test_each_action_shows_its_fields() -> None:
    assert {"output_of", "new_resource", "quantity"} <= fields_for("produce")
    assert "input_of" not in fields_for("produce")
    assert {"input_of", "quantity"} <= fields_for("consume")
    assert "effort" in fields_for("work") and "resource" not in fields_for("work")
    assert {"effort", "quantity"} <= fields_for("use")
    assert {"to_resource", "to_location"} <= fields_for("transfer")
    assert "to_resource" not in fields_for("raise")
    assert {"input_of", "output_of"} <= fields_for("deliverService")


def test_every_page_has_the_nav(site: tuple[TestClient, LocalClient]) -> None:
    http, _ = site
    for path in PAGES:
        page = http.get(path, headers=HTML)
        assert page.status_code == 200, (path, page.text[:300])
        assert '<nav aria-label="Pages">' in page.text and 'href="/transfers"' in page.text
        assert "<script" not in page.text and " style=" not in page.text  # the CSP's 'self'
        assert TOKEN not in page.text


def test_the_graph_draws_each_step_from_the_one_that_reached_it() -> None:
    walk: list[dict[str, Any]] = [
        {"kind": "EconomicResource", "address": "r1", "distance": 0, "name": "<b>bread"},
        {"kind": "EconomicEvent", "address": "e1", "distance": 1, "action": "produce",
         "quantity": {"hasNumericalValue": "10", "hasUnit": "kilogram"}},
        {"kind": "Process", "address": "p1", "distance": 2, "name": "baking"},
        {"kind": "EconomicEvent", "address": "e2", "distance": 1, "action": "raise"},
        {"kind": "EconomicResource", "address": "r2", "distance": 2, "name": "flour"},
    ]
    assert parents(walk) == [None, 0, 1, 0, 3]
    svg = flows_svg(walk, backwards=True)
    assert svg.count("<path ") == 4 and svg.count("<rect ") == 5
    assert "&lt;b&gt;bread" in svg and "<b>" not in svg
    assert 'href="/resources/r2"' in svg and 'href="/resources/e1"' not in svg
    assert flows_svg([], backwards=False) == ""
