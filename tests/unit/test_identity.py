"""Addresses and agent ids agree byte for byte with the standard multiformats / libp2p code."""

import cid as py_cid
import multihash
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.core.cid import Cid
from node.core.errors import AddressError, SignatureError
from node.core.identity import AgentId, AgentKey


@given(st.binary(max_size=256))
def test_cid_matches_py_cid(data):
    ours = Cid.of(data)
    theirs = py_cid.make_cid(str(ours))
    assert theirs.version == 1
    assert theirs.codec == "dag-cbor"
    decoded = multihash.decode(theirs.multihash)
    assert decoded.name == "blake2b-256"
    import hashlib

    assert decoded.digest == hashlib.blake2b(data, digest_size=32).digest()
    assert Cid.parse(str(ours)) == ours
    assert str(ours).startswith("bafy2bza")


@pytest.mark.parametrize(
    "text",
    ["", "b", "bafy", "Qmfoo", "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", 42],
)
def test_bad_addresses_are_rejected(text):
    with pytest.raises(AddressError):
        Cid.parse(text)  # type: ignore[arg-type]


@settings(max_examples=20)
@given(st.binary(min_size=32, max_size=32))
def test_agent_id_is_the_libp2p_peer_id(seed):
    from libp2p.crypto.ed25519 import Ed25519PrivateKey
    from libp2p.peer.id import ID

    key = AgentKey(seed)
    peer = ID.from_pubkey(Ed25519PrivateKey.from_bytes(seed).get_public_key())
    assert key.agent_id.to_bytes() == peer.to_bytes()
    assert str(key.agent_id) == peer.to_base58()
    assert str(key.agent_id).startswith("12D3KooW")
    assert AgentId.parse(peer.to_base58()) == key.agent_id
    # signatures are the same bytes as libp2p's
    msg = b"coledger"
    assert key.sign(msg) == Ed25519PrivateKey.from_bytes(seed).sign(msg)


def test_verify_rejects_other_signers_and_tampering():
    a, b = AgentKey.generate(), AgentKey.generate()
    sig = a.sign(b"x")
    a.agent_id.verify(b"x", sig)
    with pytest.raises(SignatureError):
        b.agent_id.verify(b"x", sig)
    with pytest.raises(SignatureError):
        a.agent_id.verify(b"y", sig)


@pytest.mark.parametrize(
    "text", ["", "12D3KooW", "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", "0OIl"]
)
def test_bad_agent_ids_are_rejected(text):
    with pytest.raises(AddressError):
        AgentId.parse(text)
