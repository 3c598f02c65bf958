"""The GraphQL API of a real `coledger run` over real HTTP with its bearer token: a
specification and a process created, an event recorded by mutation and read back by query
(and by the CLI: the same chain); a rule's refusal names it; nothing without the token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.processes import NodeProcess, cli
from tests.integration.test_http_processes import make_home

pytestmark = pytest.mark.slow

EVENT = """mutation($e: EconomicEventCreateParams!, $r: EconomicResourceCreateParams) {
  createEconomicEvent(event: $e, newInventoriedResource: $r) {
    economicEvent { id } economicResource { id name } } }"""


def test_a_graphql_client_writes_and_reads_the_running_nodes_chain(tmp_path: Path) -> None:
    node = NodeProcess(make_home(tmp_path), http="127.0.0.1:0")
    try:
        assert node.http is not None
        token = cli(node.home, "http-token")["token"]
        with httpx.Client(base_url=node.http, timeout=60,
                          headers={"Authorization": f"Bearer {token}"}) as http:

            def ask(query: str, **variables: Any) -> dict[str, Any]:
                answer = http.post("/graphql", json={"query": query, "variables": variables})
                assert answer.status_code == 200, answer.text
                body: dict[str, Any] = answer.json()
                assert "errors" not in body, body
                return body

            spec = ask("""mutation { createResourceSpecification(resourceSpecification:
                {name: "wheat", defaultUnitOfResource: "kg"}) { resourceSpecification { id } } }
                """)["data"]["createResourceSpecification"]["resourceSpecification"]["id"]
            field = ask('mutation { createProcess(process: {name: "harvest"}) '
                        '{ process { id } } }')["data"]["createProcess"]["process"]["id"]
            made = ask(EVENT, e={"action": "produce", "outputOf": field,
                                 "resourceConformsTo": spec,
                                 "resourceQuantity": {"hasNumericalValue": "500",
                                                      "hasUnit": "kg"}},
                       r={"name": "wheat"})["data"]["createEconomicEvent"]
            read = ask("""query($id: ID!) { economicEvent(id: $id) { id action { id }
                resourceQuantity { hasNumericalValue hasUnit { id } } outputOf { name } }
                economicEvents(first: 10) { edges { node { id } } pageInfo { hasNextPage } }
                myAgent { id } }""", id=made["economicEvent"]["id"])["data"]
            assert read["economicEvent"] == {
                "id": made["economicEvent"]["id"], "action": {"id": "produce"},
                "resourceQuantity": {"hasNumericalValue": "500", "hasUnit": {"id": "kilogram"}},
                "outputOf": {"name": "harvest"}}
            assert read["economicEvents"]["edges"] == [{"node": {"id": made["economicEvent"][
                "id"]}}] and not read["economicEvents"]["pageInfo"]["hasNextPage"]
            assert read["myAgent"]["id"] == node.agent_id
            too_much = http.post("/graphql", json={"query": EVENT, "variables": {"e": {
                "action": "consume", "inputOf": field,
                "resourceInventoriedAs": made["economicResource"]["id"],
                "resourceQuantity": {"hasNumericalValue": "501", "hasUnit": "kg"}}}}).json()
            assert too_much["errors"][0]["extensions"]["rule"] == "check_balance"
            assert "Traceback" not in str(too_much)
            bare = httpx.post(f"{node.http}/graphql", json={"query": "{ myAgent { id } }"},
                              timeout=30)
            assert bare.status_code == 401 and node.agent_id not in bare.text
        inventory = cli(node.home, "inventory")
        assert [(r["name"], r["onhandQuantity"]["hasNumericalValue"]) for r in inventory] == [
            ("wheat", "500")]
    finally:
        assert node.stop() == 0
    assert "Traceback" not in (tmp_path / "farm.log").read_text()
