"""The requests a write through the node carries (node/in_node_writes.py `request_of`): a
dataclass from its JSON fields, each checked, a tuple field from a JSON list (a countersigned
transfer's `classified_as` was refused as "not a valid tuple" before)."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from node.in_node_writes import request_of
from node.runtime.rpc import BadRequest
from zomes.valueflows.coordinator import EventRequest
from zomes.valueflows.obligations import ClaimRequest
from zomes.valueflows.offers import ProposalRequest


@pytest.mark.parametrize("request_", [
    EventRequest("produce", quantity="1 kg", classified_as=("byproduct", "waste")),
    ProposalRequest("offer", "bafyspec", quantity="2 kg", classes=("organic",)),
    ClaimRequest("bafyevent", "12D3KooWx", "3 EUR", due_us=5),
])
def test_a_request_crosses_the_socket_unchanged(request_: object) -> None:
    import json

    fields = json.loads(json.dumps(asdict(request_)))  # type: ignore[call-overload]
    assert request_of(type(request_), fields) == request_


@pytest.mark.parametrize("fields, words", [
    ({"action": 5}, "'action' of EventRequest must be text"),
    ({"action": "produce", "bogus": 1}, "takes no 'bogus'"),
    ({"quantity": "1 kg"}, "needs 'action'"),
    ({"action": "produce", "classified_as": "byproduct"}, "'classified_as'"),
])
def test_a_bad_request_is_refused_naming_its_field(fields: dict[str, object],
                                                   words: str) -> None:
    with pytest.raises(BadRequest, match=words):
        request_of(EventRequest, fields)
