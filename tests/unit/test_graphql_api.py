"""The GraphQL API (node/http/graphql.py) in-process over a real home, behind the app's
token: writes by mutation read back by query, cursor paging to the end, trace and a
process's inputs and outputs, a refused write naming its rule with nothing written and no
stack trace; the schema file served, the same as docs/schema.graphql, every name in it
ValueFlows' or one of vf-graphql's own."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    build_schema,
)
from starlette.testclient import TestClient

from node.client import LocalClient
from node.http.app import make_app
from node.http.door import Door
from node.http.graphql import SCHEMA_FILE, asgi
from node.membership import create_network
from node.store.home import open_agent
from node.testing import SIM_PASSPHRASE, append_events, fast_home

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "t0ken-" + "g" * 38
ORIGIN = "http://127.0.0.1:8420"
VOCAB = ROOT / "zomes" / "valueflows" / "valueflows-1.0.ttl"  # (the repository's copy)

# vf-graphql's own names for what ValueFlows' vocabulary has no term for: its structure
# (connections, responses, inputs, the root types, paging), the fields hREA serves that VF
# 1.0 renamed or lacks, and coledger's search and proposal inputs (named as vf-graphql
# names its agentEventSearchParams and createX mutations).
STRUCTURAL = {
    "Query", "Mutation", "PageInfo", "Boolean", "String", "ID", "Int", "Float", "URI",
    "DateTime", "Decimal", "IMeasure", "TrackTraceItem", "EconomicEventSearchParams",
    "id", "edges", "node", "cursor", "pageInfo", "startCursor", "endCursor",
    "hasPreviousPage", "hasNextPage", "totalCount", "pageLimit", "first", "after", "last",
    "before", "filter", "inputs", "outputs", "observedInputs", "observedOutputs", "trace",
    "track", "myAgent", "resourceEffect", "startDate", "endDate", "offers", "requests",
    "event", "newInventoriedResource", "intent", "resourceSpecification",
    "processSpecification", "process", "proposal", "atLocation",
}
STRUCTURAL_SUFFIXES = ("Connection", "Edge", "Response", "CreateParams")
STRUCTURAL_PREFIXES = ("create",)


def vf_terms() -> set[str]:
    """ValueFlows 1.0's classes and properties, and each class name in camelCase (as a
    field naming one, or listing them: `economicEvents`)."""
    names = set(re.findall(r"^vf:([A-Za-z]+)", VOCAB.read_text(), re.MULTILINE))
    camel = {n[0].lower() + n[1:] for n in names if n[0].isupper()}
    plural = {re.sub(r"(s|ss)$", r"\1e", c) + "s" if c.endswith("s") else c + "s"
              for c in camel | names}
    plural |= {c[:-1] + "ies" for c in camel if c.endswith("y")}
    plural |= {"processes"}
    return names | camel | plural


def allowed(name: str, terms: set[str]) -> bool:
    if name in terms or name in STRUCTURAL or name.startswith("__"):
        return True
    for suffix in STRUCTURAL_SUFFIXES:
        if name.endswith(suffix) and allowed(name.removesuffix(suffix), terms):
            return True
    for prefix in STRUCTURAL_PREFIXES:
        rest = name.removeprefix(prefix)
        if rest != name and rest and (allowed(rest, terms)
                                      or rest[0].lower() + rest[1:] in terms):
            return True
    return False


def test_the_schema_file_is_docs_schema_and_every_name_is_valueflows() -> None:
    text = SCHEMA_FILE.read_text()
    assert (ROOT / "docs" / "schema.graphql").read_text() == text
    schema = build_schema(text)
    terms = vf_terms()
    names = []
    for type_name, kind in schema.type_map.items():
        if type_name.startswith("__"):
            continue
        names.append(type_name)
        if isinstance(kind, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in kind.fields.items():
                names.append(field_name)
                names.extend(getattr(field, "args", {}) or {})
        assert not isinstance(kind, GraphQLEnumType), type_name
        assert isinstance(kind, GraphQLObjectType | GraphQLInterfaceType
                          | GraphQLInputObjectType | GraphQLScalarType | GraphQLUnionType)
    strangers = sorted({n for n in names if not allowed(n, terms)})
    assert not strangers, f"names in neither ValueFlows nor vf-graphql's list: {strangers}"
    for vf_graphql in ("economicEvents", "economicResource", "resourceSpecifications",
                       "processes", "agents", "myAgent", "units", "intents", "offers",
                       "requests", "proposals", "commitments", "plans", "recipes"):
        assert vf_graphql in schema.query_type.fields  # type: ignore[union-attr]
    assert "createEconomicEvent" in schema.mutation_type.fields  # type: ignore[union-attr]


def test_a_name_outside_the_vocabulary_is_caught() -> None:
    terms = vf_terms()
    assert allowed("resourceInventoriedAs", terms) and allowed("EconomicEventConnection", terms)
    assert not allowed("economicThingies", terms) and not allowed("Widget", terms)


# -- the API over a real home -----------------------------------------------------------


@pytest.fixture
def api(tmp_path: Path) -> TestClient:
    home, key = fast_home(tmp_path, "farm")
    with open_agent(home, lambda: SIM_PASSPHRASE) as agent:
        create_network(agent, "valley", {}, tmp_path / "valley.network.json")
    door = Door(LocalClient(home, lambda: SIM_PASSPHRASE, []))
    app = make_app(door, TOKEN, origin=ORIGIN, graphql=asgi(door))
    client = TestClient(app, base_url=ORIGIN, backend="trio",
                        headers={"Authorization": f"Bearer {TOKEN}"})
    client.home = home  # type: ignore[attr-defined]
    client.key = key  # type: ignore[attr-defined]
    return client


def ask(api: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    """The data of a query that must succeed."""
    answer = api.post("/graphql", json={"query": query, "variables": variables})
    body = answer.json()
    assert answer.status_code == 200 and "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def refused(api: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    """The one error of a query that must fail."""
    answer = api.post("/graphql", json={"query": query, "variables": variables})
    assert "Traceback" not in answer.text and "File \"" not in answer.text
    errors = answer.json()["errors"]
    assert len(errors) == 1 and "\n" not in errors[0]["message"], errors
    error: dict[str, Any] = errors[0]
    return error


SPEC = """mutation($s: ResourceSpecificationCreateParams!) {
  createResourceSpecification(resourceSpecification: $s) {
    resourceSpecification { id name defaultUnitOfResource { id symbol } } } }"""
PROCESS = "mutation($p: ProcessCreateParams!) { createProcess(process: $p) { process { id } } }"
EVENT = """mutation($e: EconomicEventCreateParams!, $r: EconomicResourceCreateParams) {
  createEconomicEvent(event: $e, newInventoriedResource: $r) {
    economicEvent { id action { id inputOutput } provider { id name }
      resourceQuantity { hasNumericalValue hasUnit { id label } } outputOf { id name } }
    economicResource { id name onhandQuantity { hasNumericalValue } conformsTo { name } } } }"""


def bakery(api: TestClient) -> dict[str, str]:
    spec = ask(api, SPEC, s={"name": "flour", "defaultUnitOfResource": "kg"})
    made = spec["createResourceSpecification"]["resourceSpecification"]
    assert made["name"] == "flour" and made["defaultUnitOfResource"] == {"id": "kilogram",
                                                                          "symbol": "kg"}
    mill = ask(api, PROCESS, p={"name": "mill"})["createProcess"]["process"]["id"]
    done = ask(api, EVENT, e={"action": "produce", "outputOf": mill,
                              "resourceConformsTo": made["id"],
                              "resourceQuantity": {"hasNumericalValue": "10",
                                                   "hasUnit": "kilogram"}},
               r={"name": "flour"})["createEconomicEvent"]
    assert done["economicEvent"]["action"] == {"id": "produce", "inputOutput": "output"}
    assert done["economicEvent"]["outputOf"] == {"id": mill, "name": "mill"}
    assert done["economicEvent"]["provider"]["name"] == "farm"
    assert done["economicEvent"]["resourceQuantity"] == {
        "hasNumericalValue": "10", "hasUnit": {"id": "kilogram", "label": "kilogram"}}
    resource = done["economicResource"]
    assert resource["name"] == "flour" and resource["conformsTo"] == {"name": "flour"}
    assert resource["onhandQuantity"] == {"hasNumericalValue": "10"}
    return {"spec": made["id"], "mill": mill, "flour": resource["id"],
            "event": done["economicEvent"]["id"]}


def test_written_by_mutation_read_back_by_query(api: TestClient) -> None:
    ids = bakery(api)
    data = ask(api, """query($id: ID!, $r: ID!, $p: ID!) {
      economicEvent(id: $id) { id action { id } hasPointInTime resourceInventoriedAs { id } }
      economicResource(id: $r) { name accountingQuantity { hasNumericalValue }
        trace { __typename ... on EconomicEvent { id } ... on Process { name } } }
      process(id: $p) { name outputs { id } inputs { id } observedOutputs { id } }
      myAgent { id name }
      resourceSpecifications { edges { node { id name } } }
      economicResources { edges { node { id name } } }
      units(first: 2) { edges { node { id omUnitIdentifier } } pageInfo { hasNextPage } }
    }""", id=ids["event"], r=ids["flour"], p=ids["mill"])
    event = data["economicEvent"]
    assert event["id"] == ids["event"] and event["resourceInventoriedAs"]["id"] == ids["flour"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", event["hasPointInTime"])
    assert {"__typename": "EconomicEvent", "id": ids["event"]} in data["economicResource"][
        "trace"]
    assert {"__typename": "Process", "name": "mill"} in data["economicResource"]["trace"]
    assert data["process"]["outputs"] == [{"id": ids["event"]}] == data["process"][
        "observedOutputs"] and data["process"]["inputs"] == []
    assert data["myAgent"]["name"] == "farm"
    assert data["resourceSpecifications"]["edges"] == [{"node": {"id": ids["spec"],
                                                                  "name": "flour"}}]
    assert data["economicResources"]["edges"] == [{"node": {"id": ids["flour"],
                                                             "name": "flour"}}]
    assert data["units"]["pageInfo"]["hasNextPage"]
    assert data["units"]["edges"][1]["node"]["omUnitIdentifier"].endswith("om-2/gram")


def test_a_refused_write_names_its_rule_and_writes_nothing(api: TestClient) -> None:
    ids = bakery(api)
    error = refused(api, EVENT, e={"action": "consume", "resourceInventoriedAs": ids["flour"],
                                   "inputOf": ids["mill"],
                                   "resourceQuantity": {"hasNumericalValue": "11",
                                                        "hasUnit": "kg"}})
    assert error["extensions"] == {"rule": "check_balance", "kind": "rejected"}
    assert error["message"].startswith("rejected by check_balance: consume would leave")
    edges = ask(api, "{ economicEvents { edges { node { id } } } }")["economicEvents"]["edges"]
    assert [e["node"]["id"] for e in edges] == [ids["event"]]
    unknown = refused(api, PROCESS, p={"name": "bake", "basedOn": "nonsense"})
    assert unknown["extensions"]["kind"] == "refused" and unknown["extensions"]["rule"] is None


def test_events_page_by_cursor_to_the_end_newest_first(api: TestClient) -> None:
    ids = bakery(api)
    me = str(api.key.agent_id)  # type: ignore[attr-defined]
    append_events(api.home, api.key, ({  # type: ignore[attr-defined]
        "action": ("use", "cite")[i % 2], "provider": me, "receiver": me,
        "resourceInventoriedAs": ids["flour"], "inputOf": ids["mill"],
        "effortQuantity": {"hasNumericalValue": str(i + 1), "hasUnit": "hour"}}
        for i in range(230)))
    query = """query($after: String, $f: EconomicEventSearchParams) {
      economicEvents(first: 50, after: $after, filter: $f) {
        edges { cursor node { id action { id } effortQuantity { hasNumericalValue } } }
        pageInfo { startCursor endCursor hasNextPage hasPreviousPage pageLimit } } }"""
    seen, after, pages = [], None, 0
    while True:
        page = ask(api, query, after=after)["economicEvents"]
        info = page["pageInfo"]
        assert info["hasPreviousPage"] == (after is not None) and info["pageLimit"] == 50
        assert info["startCursor"] == page["edges"][0]["cursor"]
        assert info["endCursor"] == page["edges"][-1]["cursor"]
        seen += page["edges"]
        pages += 1
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert pages == 5 and len(seen) == 231 and len({e["node"]["id"] for e in seen}) == 231
    assert seen[0]["node"]["effortQuantity"]["hasNumericalValue"] == "230"
    assert seen[-1]["node"]["id"] == ids["event"]
    cites = ask(api, query, f={"action": "cite"})["economicEvents"]["edges"]
    assert {e["node"]["action"]["id"] for e in cites} == {"cite"} and len(cites) == 50
    inputs = ask(api, query, f={"process": ids["mill"], "action": "use"})["economicEvents"]
    assert len(inputs["edges"]) == 50 and inputs["pageInfo"]["hasNextPage"]
    backwards = refused(api, "{ economicEvents(last: 5) { edges { cursor } } }")
    assert "first and after" in backwards["message"]


def test_the_schema_is_served_and_a_mutation_needs_post_and_the_token(api: TestClient) -> None:
    assert api.get("/graphql").text == SCHEMA_FILE.read_text()
    types = ask(api, "{ __schema { types { name } } }")["__schema"]["types"]
    assert {"EconomicEvent", "EconomicEventConnection", "PageInfo"} <= {t["name"] for t in types}
    by_get = api.get("/graphql", params={"query": '{ myAgent { name } }'})
    assert by_get.json()["data"]["myAgent"]["name"] == "farm"
    sneaky = api.get("/graphql", params={"query": 'mutation { createProcess(process: '
                                                  '{name: "x"}) { process { id } } }'})
    assert sneaky.status_code == 400 and "POST" in sneaky.json()["errors"][0]["message"]
    assert ask(api, "{ processes { edges { node { id } } } }")["processes"]["edges"] == []
    bare = TestClient(api.app, base_url=ORIGIN, backend="trio")
    assert bare.post("/graphql", json={"query": "{ myAgent { id } }"}).status_code == 401
    huge = api.post("/graphql", content=b"{" + b" " * (1 << 21) + b"}")
    assert huge.status_code == 400 and "at most" in huge.json()["errors"][0]["message"]
    for _ in range(2):  # (the second time from the memo of parsed, validated queries)
        assert refused(api, "{ nonsense }")["message"].startswith("Cannot query field")
        assert refused(api, "{ broken")["message"].startswith("Syntax Error")


def test_an_offer_published_by_mutation_is_listed_with_its_intents(api: TestClient) -> None:
    ids = bakery(api)
    made = ask(api, """mutation($i: IntentCreateParams!, $r: IntentCreateParams,
                       $p: ProposalCreateParams) {
      createOffer(intent: $i, reciprocal: $r, proposal: $p) { proposal { id purpose } } }""",
               i={"resourceConformsTo": ids["spec"], "resourceClassifiedAs": ["byproduct"],
                  "resourceQuantity": {"hasNumericalValue": "8", "hasUnit": "kg"}},
               r={"resourceConformsTo": ids["spec"],
                  "resourceQuantity": {"hasNumericalValue": "2", "hasUnit": "kg"}},
               p={"name": "flour for bread", "unitBased": True})
    proposal = made["createOffer"]["proposal"]
    assert proposal["purpose"] == "offer"
    listed = ask(api, """{ offers { edges { node { id name unitBased
        publishes { action { id } resourceConformsTo { name }
                    resourceQuantity { hasNumericalValue hasUnit { id } } }
        reciprocal { resourceQuantity { hasNumericalValue } } } } }
      requests { edges { cursor } } intents { edges { node { id } } } }""")
    [offer] = [e["node"] for e in listed["offers"]["edges"]]
    assert offer["id"] == proposal["id"] and offer["name"] == "flour for bread"
    assert offer["unitBased"] is True
    assert offer["publishes"] == [{"action": {"id": "transfer"},
                                   "resourceConformsTo": {"name": "flour"},
                                   "resourceQuantity": {"hasNumericalValue": "8",
                                                        "hasUnit": {"id": "kilogram"}}}]
    assert offer["reciprocal"] == [{"resourceQuantity": {"hasNumericalValue": "2"}}]
    assert listed["requests"]["edges"] == [] and len(listed["intents"]["edges"]) == 2
