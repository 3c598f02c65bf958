"""Validation of a member's op never raises, whatever its entry holds at any depth
(issue #11, item 1: the validation loop must not die of one peer's bytes). Entries of a
valid ValueFlows chain, re-signed by their author with one field anywhere (inside a
quantity too) replaced by arbitrary DAG-CBOR, are judged Valid, Invalid or Unresolved."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.core.ops import Op, produce_ops
from node.core.outcome import Invalid, Unresolved, Valid
from tests.unit.test_peer_decoders import _paths, _replace, dag_values
from tests.unit.test_validation_properties import AGENT, OPS, judge

ENTRY_OPS = [op for op in OPS if op.entry is not None]


def judged(op: Op, content: object) -> list[object]:
    """The outcomes of every op of `op`'s action re-signed over `content`."""
    AGENT.commit(lambda s: s.create(op.action.entry_type, content))  # type: ignore[attr-defined]
    record = AGENT.records.pop()
    return [judge(o.type.value, o.signed.data, o.signed.signature,
                  o.entry.data if o.entry else None) for o in produce_ops(record)]


def test_a_quantity_given_as_bytes_is_invalid_not_a_crash() -> None:
    """hasNumericalValue b"" passed the model as text "" (lax pydantic) and then raised
    decimal.InvalidOperation out of validation, ending the validation loop."""
    event = next(op for op in ENTRY_OPS if "resourceQuantity" in op.entry.value)  # type: ignore[union-attr]
    content = _replace(event.entry.value, ("resourceQuantity", "hasNumericalValue"), b"")  # type: ignore[union-attr]
    outcomes = judged(event, content)
    assert outcomes and all(isinstance(o, Invalid) for o in outcomes)


@settings(max_examples=150, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(ENTRY_OPS), st.data())
def test_entries_with_any_field_replaced_give_an_outcome(op: Op, data: st.DataObject) -> None:
    content = op.entry.value  # type: ignore[union-attr]
    path = data.draw(st.sampled_from(list(_paths(content))))
    for outcome in judged(op, _replace(content, path, data.draw(dag_values))):
        assert isinstance(outcome, Valid | Invalid | Unresolved)
