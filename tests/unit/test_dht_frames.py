"""Frames on a stream: varint lengths, limits, response status."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dht.transport import (
    MAX_MESSAGE,
    FrameError,
    RequestFailed,
    check_name,
    decode_varint,
    encode_frame,
    encode_response,
    encode_varint,
    parse_frame,
    parse_response,
    protocol_id,
    read_frame_or_end,
)
from node.core.cid import Cid


@given(st.integers(0, 2**63))
def test_varint_round_trip(n: int) -> None:
    data = encode_varint(n)
    assert decode_varint(data + b"rest") == (n, len(data))


def test_varint_garbage() -> None:
    for bad in (b"", b"\x80", b"\xff" * 11, b"\x80\x00"):
        with pytest.raises(FrameError):
            decode_varint(bad)


@given(st.binary(max_size=1000))
def test_frame_round_trip(payload: bytes) -> None:
    assert parse_frame(encode_frame(payload)) == payload


@given(st.binary(max_size=40))
def test_parse_frame_only_raises_frame_error(data: bytes) -> None:
    with contextlib.suppress(FrameError):
        parse_frame(data, limit=20)


def test_limits() -> None:
    with pytest.raises(FrameError):
        encode_frame(bytes(11), limit=10)
    with pytest.raises(FrameError):
        parse_frame(encode_varint(MAX_MESSAGE + 1) + b"x")
    with pytest.raises(FrameError):
        parse_frame(encode_frame(b"abc") + b"trailing")


def test_responses() -> None:
    assert parse_response(parse_frame(encode_response(True, b"body"))) == b"body"
    with pytest.raises(RequestFailed, match="boom"):
        parse_response(parse_frame(encode_response(False, b"boom")))
    for bad in (b"", b"\x07x"):
        with pytest.raises(RequestFailed):
            parse_response(bad)


async def test_read_frame_from_chunks() -> None:
    data = encode_frame(b"x" * 70_000) + b"next"
    pos = 0

    async def read(n: int) -> bytes:
        nonlocal pos
        chunk = data[pos : pos + min(n, 1000)]
        pos += len(chunk)
        return chunk

    assert await read_frame_or_end(read) == b"x" * 70_000
    with pytest.raises(FrameError):
        await read_frame_or_end(read)  # "next": announces 110 bytes, has 3
    assert await read_frame_or_end(read) is None  # the end, between frames


async def test_an_end_inside_a_frames_length_is_an_error() -> None:
    data = encode_frame(b"x" * 300)[:1]  # the first byte of a two-byte length

    async def read(n: int) -> bytes:
        nonlocal data
        chunk, data = data[:n], data[n:]
        return chunk

    with pytest.raises(FrameError, match="length"):
        await read_frame_or_end(read)


def test_protocol_ids() -> None:
    net = Cid.of(b"net")
    assert protocol_id(net, "publish") == f"/coledger/{net}/publish/1"
    for bad in ("", "Publish", "a/b", "x" * 33):
        with pytest.raises(ValueError):
            check_name(bad)
