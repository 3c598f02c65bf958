"""Every decoder of bytes (or decoded values) from a peer, fed arbitrary CBOR: it returns a
value or raises the project's DecodeError, nothing else (issue #11, item 1).

`DECODERS` below is the one list of them, each run the way the node runs it on what a
peer sent (a fetch answer's ops go on through `decode_op`, a hello through
`check_hello`...). `test_the_table_is_complete` finds every `from_bytes` / `from_obj` /
`from_value` / `parse` method and every `decode*` / `parse*` function of the modules that
read peer data, and fails on one the table lacks: a new message class needs a row here.

Inputs: random bytes; arbitrary CBOR (bignums, floats, tags, undefined, simple values,
maps with int or bytes keys, nesting); well-formed DAG-CBOR of the wrong shape; and
well-formed messages with one field (also inside the action, proof or receipt bytes they
carry) replaced by any of those.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
from collections.abc import Callable, Iterator
from dataclasses import astuple, dataclass
from functools import cache
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dht import link_wire, session_wire, transport, wire
from node.core.actions import ACTION_TYPES, action_from_obj
from node.core.cid import Cid
from node.core.countersign import Envelope, Party, Session
from node.core.encoding import decode, encode, encode_trusted
from node.core.errors import DecodeError
from node.core.identity import AgentId, AgentKey
from node.core.ops import OpType, produce_ops
from node.core.outcome import Invalid
from node.core.records import Entry, SignedAction
from node.core.scratch import Scratch
from node.runtime.hello import Hello, check_hello
from node.testing import MemoryAgent, step_clock
from tests.unit.test_links import BASE as LINK_BASE
from tests.unit.test_links import checked_links as _checked_links
from tests.unit.test_links import raw_links as _raw_links
from validation.receipts import ValidationReceipt, receipt_bytes
from validation.sys import decode_op
from validation.warrants import ForkEvidence, InvalidOpEvidence, Warrant, issue_warrant
from zomes.membrane.invitations import MembraneProof, check_membrane_proof, issue_invitation

# -- a small world of well-formed samples --------------------------------------------------

T = 1_800_000_000_000_000
NETWORK = Cid.of(b"decoder test network")
PROGENITOR = AgentKey(b"\x01" * 32)
MEMBER = AgentKey(b"\x02" * 32)
OTHER = AgentKey(b"\x03" * 32)
COUNTERSIGNED = "valueflows.CountersignedEvent"


@dataclass(frozen=True)
class World:
    proof: bytes
    records: list[Any]
    ops: list[Any]
    hello: Hello
    receipts: list[bytes]
    warrants: list[bytes]
    envelope: Any
    party: Party


@cache
def world() -> World:
    proof = issue_invitation(PROGENITOR, None, NETWORK, MEMBER.agent_id, T * 2, b"nonce")
    member = MemoryAgent(MEMBER, step_clock(T))
    member.genesis(NETWORK, proof)
    other = MemoryAgent(OTHER, step_clock(T))
    other.genesis(NETWORK, None)
    member.create("valueflows.Note", {"text": "hello", "n": 3})
    envelope = member.countersign_with([other], COUNTERSIGNED, {"action": "transfer"})
    head = member.head
    assert head is not None
    forks = [Scratch(head, MEMBER, step_clock(T * 2)) for _ in range(2)]
    for n, s in enumerate(forks):
        s.create("valueflows.Note", {"fork": n})
    records = member.records
    ops = [op for r in records for op in produce_ops(r)]
    hello = Hello(records[1].signed, ((MEMBER.agent_id, ("/ip4/127.0.0.1/tcp/1",)),))
    receipts = [receipt_bytes(PROGENITOR, ops[0].address, "valid", T)]
    invalid = InvalidOpEvidence.of(ops[-1], Invalid("check_entry_type", "no such type"))
    fork = ForkEvidence.of(forks[0].records[0].signed, forks[1].records[0].signed)
    warrants = [issue_warrant(PROGENITOR, ev, T).to_bytes() for ev in (invalid, fork)]
    party = Envelope.from_value(envelope.value).session.parties[0]
    return World(proof, records, ops, hello, receipts, warrants, envelope, party)


def _raw_ops() -> list[wire.RawOp]:
    return [wire.RawOp.of(op) for op in world().ops[:12]]


def _raw_records() -> list[wire.RawRecord]:
    return [wire.RawRecord.of(r) for r in world().records]


def _session_id() -> bytes:
    return Envelope.from_value(world().envelope.value).session.id


def _messages() -> dict[str, Any]:
    w = world()
    sid, party = _session_id(), w.party
    return {
        "PublishRequest": wire.PublishRequest(tuple(_raw_ops())),
        "PublishResponse": wire.PublishResponse(
            (wire.OpResult(w.ops[0].address, "rejected", "why"),), tuple(w.receipts)),
        "FetchRequest": wire.FetchRequest((w.ops[0].address, w.ops[1].address)),
        "FetchResponse": wire.FetchResponse(tuple(_raw_ops())),
        "GetRequest": wire.GetRequest(w.ops[0].address, "record"),
        "GetResponse": wire.GetResponse(True, tuple(_raw_records())),
        "GossipRequest": wire.GossipRequest(
            T, 3, ((wire.Bucket(0, 1000), wire.Fingerprint(2, 12345)),), (w.ops[0].address,)),
        "GossipResponse": wire.GossipResponse((wire.Bucket(0, 1000),), (w.ops[0].address,)),
        "WarrantMessage": wire.WarrantMessage(tuple(w.warrants)),
        "Propose": session_wire.Propose(sid, COUNTERSIGNED, {"action": "transfer"}, party, T,
                                        T + 10**7, "wheat", tuple(_raw_records()[:4])),
        "Ack": session_wire.Ack("declined", "no"),
        "Accept": session_wire.Accept(sid, {"action": "transfer"}, party, bytes(64),
                                      tuple(_raw_records()[:2])),
        "Decline": session_wire.Decline(sid, "no"),
        "Status": session_wire.Status(sid),
        "Decision": session_wire.Decision("committed", bytes(64), None),
        "LinksRequest": link_wire.LinksRequest(LINK_BASE, "offer", b"wh", False,
                                               w.ops[0].address, 10),
        "LinksResponse": link_wire.LinksResponse(tuple(_raw_links()), True),
    }


def _message_bytes(name: str) -> list[bytes]:
    message = _messages()[name]
    if type(message) in wire.MESSAGE_TYPES.values():
        return [wire.encode_message(message)]
    if isinstance(message, link_wire.LinksRequest | link_wire.LinksResponse):
        return [link_wire.encode_links(message)]
    return [session_wire.encode_session(message)]


# -- the decoders, each run as the node runs it --------------------------------------------


def _ops_of(raws: Any) -> list[object]:
    """What the node does with ops a peer sent (node.runtime.receive.decode_ops)."""
    return [decode_op(*astuple(raw)) for raw in raws]


def _records_of(raws: Any) -> list[object]:
    """What the node does with records a peer sent (get, agent activity, countersign)."""
    return [(raw.decoded(), raw.checked()) for raw in raws]


def _hello(data: bytes) -> object:
    hello = Hello.from_bytes(data)
    author = hello.avp.action.author
    return check_hello(hello, author, network_id=NETWORK, progenitor=PROGENITOR.agent_id)


def _publish_answer(data: bytes) -> object:
    answer = wire.decode_message(wire.PublishResponse, data)
    return [ValidationReceipt.from_bytes(r) for r in answer.receipts]


def _warrants(data: bytes) -> object:
    return [Warrant.from_bytes(w) for w in wire.decode_message(wire.WarrantMessage, data).warrants]


def _session(data: bytes) -> object:
    msg = session_wire.decode_request(data)
    if isinstance(msg, session_wire.Propose | session_wire.Accept):
        return msg, _records_of(msg.records)
    return msg


def _signed_action(value: Any) -> object:
    if isinstance(value, list) and len(value) == 2 and all(isinstance(x, bytes) for x in value):
        return SignedAction.from_bytes(value[0], value[1])
    return SignedAction.from_bytes(encode(value), bytes(64))


def _op_parts(value: Any) -> object:
    if isinstance(value, list) and len(value) == 4:
        return decode_op(*value)
    return decode_op("StoreRecord", encode(value), bytes(64), None)


def _record_parts(value: Any) -> object:
    if isinstance(value, list) and len(value) == 3:
        return _records_of([wire.RawRecord(*value)])
    return _records_of([wire.RawRecord(encode(value), bytes(64), None)])


def _membrane_proof(data: bytes) -> object:
    MembraneProof.from_bytes(data)
    return check_membrane_proof(data, author=MEMBER.agent_id, network_id=NETWORK,
                                progenitor=PROGENITOR.agent_id, at_us=T)


@dataclass(frozen=True)
class Decoder:
    """One decoder of peer data: `name` as the completeness check finds it; `run` applies
    it (and what the node does next) to one input; `takes` bytes, or a decoded value."""

    name: str
    run: Callable[[Any], object]
    samples: Callable[[], list[Any]]
    takes: str = "bytes"
    raises: tuple[type[BaseException], ...] = (DecodeError,)


def _wire(cls: Any, then: Callable[[Any], object] = lambda m: m) -> Decoder:
    return Decoder(f"dht.wire.{cls.__name__}.from_obj",
                   lambda data: then(wire.decode_message(cls, data)),
                   lambda: _message_bytes(cls.__name__))


def _cs(cls: Any, run: Callable[[bytes], object]) -> Decoder:
    return Decoder(f"dht.session_wire.{cls.__name__}.from_obj", run,
                   lambda: _message_bytes(cls.__name__))


DECODERS: tuple[Decoder, ...] = (
    # the protocol messages (dht.wire), as the node's handlers and loops read them
    _wire(wire.PublishRequest, lambda m: _ops_of(m.ops)),
    Decoder("dht.wire.PublishResponse.from_obj", _publish_answer,
            lambda: _message_bytes("PublishResponse")),
    _wire(wire.FetchRequest),
    _wire(wire.FetchResponse, lambda m: _ops_of(m.ops)),
    _wire(wire.GetRequest),
    _wire(wire.GetResponse, lambda m: _records_of(m.records)),
    _wire(wire.GossipRequest),
    _wire(wire.GossipResponse),
    Decoder("dht.wire.WarrantMessage.from_obj", _warrants,
            lambda: _message_bytes("WarrantMessage")),
    Decoder("dht.wire.decode_message", lambda d: wire.decode_message("fetch_resp", d),
            lambda: _message_bytes("FetchResponse")),
    # their parts, as values
    Decoder("dht.wire.RawOp.from_obj", lambda v: _ops_of([wire.RawOp.from_obj(v)]),
            lambda: [r.to_obj() for r in _raw_ops()], "value"),
    Decoder("dht.wire.RawRecord.from_obj", lambda v: _records_of([wire.RawRecord.from_obj(v)]),
            lambda: [r.to_obj() for r in _raw_records()], "value"),
    Decoder("dht.wire.RawRecord.decoded", _record_parts,
            lambda: [r.to_obj() for r in _raw_records()], "value", ()),
    Decoder("dht.wire.OpResult.from_obj", wire.OpResult.from_obj,
            lambda: [wire.OpResult(world().ops[0].address, "pending", None).to_obj()], "value"),
    # countersigning sessions (dht.session_wire)
    _cs(session_wire.Propose, _session),
    _cs(session_wire.Accept, _session),
    _cs(session_wire.Decline, _session),
    _cs(session_wire.Status, _session),
    _cs(session_wire.Ack, lambda d: session_wire.decode_reply(session_wire.Ack, d)),
    _cs(session_wire.Decision, lambda d: session_wire.decode_reply(session_wire.Decision, d)),
    Decoder("dht.session_wire.decode_request", session_wire.decode_request,
            lambda: _message_bytes("Accept")),
    Decoder("dht.session_wire.decode_reply",
            lambda d: session_wire.decode_reply(session_wire.Decision, d),
            lambda: _message_bytes("Decision")),
    # the links of a base (dht.link_wire), as the "links" handler and get_links read them
    Decoder("dht.link_wire.LinksRequest.from_obj",
            lambda d: link_wire.decode_links(link_wire.LinksRequest, d),
            lambda: _message_bytes("LinksRequest")),
    Decoder("dht.link_wire.LinksResponse.from_obj",
            lambda d: _checked_links(link_wire.decode_links(link_wire.LinksResponse, d).links),
            lambda: _message_bytes("LinksResponse")),
    Decoder("dht.link_wire.decode_links",
            lambda d: link_wire.decode_links(link_wire.LinksResponse, d),
            lambda: _message_bytes("LinksResponse")),
    Decoder("dht.link_wire.RawLink.from_obj",
            lambda v: _checked_links([link_wire.RawLink.from_obj(v)]),
            lambda: [r.to_obj() for r in _raw_links()], "value"),
    # the membership handshake
    Decoder("node.runtime.hello.Hello.from_bytes", _hello, lambda: [world().hello.to_bytes()]),
    # the pure core
    Decoder("node.core.encoding.decode", decode, lambda: [world().envelope.data]),
    Decoder("node.core.actions.action_from_obj", action_from_obj,
            lambda: [decode(r.signed.data) for r in world().records], "value"),
    Decoder("node.core.records.SignedAction.from_bytes", _signed_action,
            lambda: [[r.signed.data, r.signed.signature] for r in world().records], "value"),
    Decoder("node.core.records.Entry.from_bytes", Entry.from_bytes,
            lambda: [world().envelope.data]),
    Decoder("node.core.cid.Cid.parse", lambda v: Cid.parse(v), lambda: [str(NETWORK)], "value"),
    Decoder("node.core.identity.AgentId.parse", lambda v: AgentId.parse(v),
            lambda: [str(MEMBER.agent_id)], "value"),
    Decoder("node.core.countersign.Party.from_obj", Party.from_obj,
            lambda: [world().party.to_obj()], "value"),
    Decoder("node.core.countersign.Session.from_obj", Session.from_obj,
            lambda: [world().envelope.value["session"]], "value"),
    Decoder("node.core.countersign.Envelope.from_value", Envelope.from_value,
            lambda: [world().envelope.value], "value"),
    # validation: ops, receipts, warrants
    Decoder("validation.sys.decode_op", _op_parts,
            lambda: [list(astuple(r)) for r in _raw_ops()], "value", ()),
    Decoder("validation.receipts.ValidationReceipt.from_bytes", ValidationReceipt.from_bytes,
            lambda: world().receipts),
    Decoder("validation.receipts.ValidationReceipt.from_obj", ValidationReceipt.from_obj,
            lambda: [decode(r) for r in world().receipts], "value"),
    Decoder("validation.warrants.Warrant.from_bytes", Warrant.from_bytes,
            lambda: world().warrants),
    Decoder("validation.warrants.Warrant.from_obj", Warrant.from_obj,
            lambda: [decode(w) for w in world().warrants], "value"),
    # membrane proofs (carried by every AgentValidationPkg and hello)
    Decoder("zomes.membrane.invitations.MembraneProof.from_bytes", _membrane_proof,
            lambda: [world().proof]),
    # framing (dht.transport): a peer's raw stream bytes
    Decoder("dht.transport.parse_frame", transport.parse_frame,
            lambda: [transport.encode_frame(b"abc")]),
    Decoder("dht.transport.decode_varint", transport.decode_varint,
            lambda: [transport.encode_varint(300)]),
    Decoder("dht.transport.parse_response", transport.parse_response,
            lambda: [b"\x00abc"], "bytes", (transport.RequestFailed,)),
)

# Found by the completeness check but not run on peer data, and why.
NOT_PEER_DATA: dict[str, str] = {
    "node.core.encoding.decode_unchecked": "raises anything by contract; its one caller "
    "(records._action_if_canonical) falls back to the strict decode on any error",
    "dht.session_wire._decoded": "decode_request / decode_reply's first step (rows above)",
}

PEER_MODULES = (
    "dht.wire", "dht.session_wire", "dht.link_wire", "dht.transport", "node.runtime.hello",
    "node.core.actions", "node.core.cid", "node.core.countersign", "node.core.encoding",
    "node.core.identity", "node.core.ops", "node.core.records",
    "validation.receipts", "validation.sys", "validation.warrants",
    "zomes.membrane.invitations",
)
_METHODS = ("from_bytes", "from_obj", "from_value", "parse", "decoded")


def found_decoders() -> Iterator[str]:
    """Every decoder-looking name defined in the modules that read peer data."""
    for name in PEER_MODULES:
        module = importlib.import_module(name)
        for attr, obj in vars(module).items():
            if getattr(obj, "__module__", None) != name:
                continue
            if inspect.isclass(obj):
                for method in _METHODS:
                    if method in vars(obj):
                        yield f"{name}.{attr}.{method}"
            elif inspect.isfunction(obj) and attr.lstrip("_").startswith(("decode", "parse")):
                yield f"{name}.{attr}"


def test_the_table_is_complete() -> None:
    listed = {d.name for d in DECODERS}
    assert len(listed) == len(DECODERS), "a decoder is listed twice"
    missing = sorted(set(found_decoders()) - listed - set(NOT_PEER_DATA))
    assert not missing, f"decoders of peer data missing from DECODERS: {missing}"
    assert {f"dht.wire.{c.__name__}.from_obj" for c in wire.MESSAGE_TYPES.values()} <= listed
    assert {f"dht.session_wire.{c.__name__}.from_obj" for c in (
        session_wire.Propose, session_wire.Ack, session_wire.Accept, session_wire.Decline,
        session_wire.Status, session_wire.Decision)} <= listed


@pytest.mark.parametrize("decoder", DECODERS, ids=lambda d: d.name)
def test_the_samples_are_well_formed(decoder: Decoder) -> None:
    """Mutations start from data each decoder accepts (else they test nothing)."""
    for sample in decoder.samples():
        decoder.run(sample)


# -- arbitrary CBOR ---------------------------------------------------------------------------

NAMES = sorted({*ACTION_TYPES, *(t.value for t in OpType), *wire.MESSAGE_TYPES,
                *session_wire.REQUESTS, "cs-ack", "cs-decision", "hello", "Warrant",
                "ValidationReceipt", "Invitation", "invalid_op", "fork", "valid", "pending",
                "record", "agent_activity", "committed", "t", "type", "kind",
                "links_req", "links_resp"})
cids = st.binary(max_size=8).map(Cid.of)
agent_bytes = st.binary(min_size=32, max_size=32).map(lambda b: AgentId.from_public_key(b)
                                                      .to_bytes())
dag_leaves = (st.none() | st.booleans() | st.integers(-(2**64), 2**64 - 1)
              | st.sampled_from([0, 1, 2, 2**63 - 1, 2**63, -1])
              | st.text(max_size=12) | st.sampled_from(NAMES) | st.binary(max_size=40)
              | st.sampled_from([bytes(16), bytes(64)]) | agent_bytes | cids)
dag_values = st.recursive(
    dag_leaves,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8) | st.sampled_from(NAMES), inner, max_size=4),
    max_leaves=12,
)
"""What DAG-CBOR may hold: these pass `decode` and reach the shape checks."""
cbor_leaves = (dag_leaves | st.integers() | st.floats() | st.just(cbor2.undefined)
               | st.builds(cbor2.CBORSimpleValue, st.integers(0, 19) | st.integers(32, 255)))
any_cbor = st.recursive(
    cbor_leaves,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=6) | st.integers(-5, 5) | st.binary(max_size=4), inner,
                      max_size=4)
    | st.builds(cbor2.CBORTag, st.integers(0, 2**64 - 1) | st.sampled_from([2, 3, 42, 258]),
                inner),
    max_leaves=12,
)
"""Anything cbor2 writes: bignums, floats, tags, undefined, simple values, odd keys."""

_NESTED = object()  # a path step into bytes that hold DAG-CBOR (action, proof, receipt...)


def _nested(value: bytes) -> Any:
    if len(value) > 64 * 1024:
        return None
    try:
        inner = decode(value)
    except DecodeError:
        return None
    return inner if isinstance(inner, dict | list) else None


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))
    elif isinstance(value, bytes) and (inner := _nested(value)) is not None:
        yield from _paths(inner, (*prefix, _NESTED))


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    step, rest = path[0], path[1:]
    if step is _NESTED:
        return encode_trusted(_replace(decode(value), rest, new))
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[step] = _replace(value[step], rest, new)
    return copy


@st.composite
def mutated(draw: st.DrawFn, decoder: Decoder) -> Any:
    """A sample of `decoder` with one field (maybe inside nested bytes) replaced, one key
    added or one removed."""
    sample = draw(st.sampled_from(decoder.samples()))
    value = decode(sample) if decoder.takes == "bytes" and _nested(sample) is not None else None
    if value is None:
        value = sample if decoder.takes == "value" else None
    if value is None:
        return draw(st.binary(max_size=64))
    path = draw(st.sampled_from(list(_paths(value))))
    new = draw(dag_values | any_cbor if decoder.takes == "bytes" else dag_values)
    how = draw(st.sampled_from(["replace", "add", "remove"]))
    target = value
    for step in path:
        target = decode(target) if step is _NESTED else target[step]
    if how != "replace" and isinstance(target, dict):
        changed = dict(target)
        if how == "add":
            changed[draw(st.text(max_size=6) | st.sampled_from(NAMES))] = new
        elif changed:
            changed.pop(draw(st.sampled_from(sorted(changed))))
        new = changed
    out = _replace(value, path, new)
    if decoder.takes == "bytes":
        return encode_trusted(out)
    return out


def inputs(decoder: Decoder) -> st.SearchStrategy[Any]:
    if decoder.takes == "value":
        return dag_values | mutated(decoder)
    return (st.binary(max_size=80) | any_cbor.map(encode_trusted) | dag_values.map(encode)
            | mutated(decoder) | mutated(decoder))


EXAMPLES = int(os.environ.get("COLEDGER_DECODER_EXAMPLES", "50"))


@pytest.mark.parametrize("decoder", DECODERS, ids=lambda d: d.name)
@settings(max_examples=EXAMPLES, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_decoder_raises_only_decode_error(decoder: Decoder, data: st.DataObject) -> None:
    value = data.draw(inputs(decoder))
    with contextlib.suppress(*decoder.raises):
        decoder.run(value)
