"""libp2p streams as the backend uses them: reading, closing and resetting one without
letting libp2p's exceptions out, and those exceptions mapped to ours (`map_errors`).

Part of the py-libp2p backend (`dht.libp2p_backend`); importing it imports libp2p.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

import trio
from libp2p.abc import INetStream
from libp2p.exceptions import BaseLibp2pError
from libp2p.network.exceptions import SwarmException
from libp2p.network.stream.exceptions import StreamEOF, StreamError, StreamReset
from libp2p.stream_muxer.exceptions import MuxedConnError, MuxedStreamError

from dht.transport import FrameError, PeerUnreachable, RequestFailed
from node.core.identity import AgentId

LIBP2P_ERRORS = (BaseLibp2pError, OSError, EOFError, ValueError)


@contextmanager
def map_errors(peer: AgentId, name: str) -> Iterator[None]:
    """libp2p's exceptions, as ours (httpcore's map_exceptions)."""
    try:
        yield
    except FrameError as e:
        raise RequestFailed(f"malformed response from {peer}: {e}") from None
    except (StreamReset, MuxedStreamError) as e:
        raise RequestFailed(f"{name} stream reset by {peer}") from e
    except StreamEOF as e:
        raise RequestFailed(f"{peer} closed the {name} stream without answering") from e
    except SwarmException as e:
        raise PeerUnreachable(f"cannot reach {peer}: {e}") from e
    except MuxedConnError as e:
        raise PeerUnreachable(f"connection to {peer} lost: {e}") from e
    except StreamError as e:
        raise RequestFailed(f"{name} stream to {peer} failed: {e}") from e
    except LIBP2P_ERRORS as e:
        raise RequestFailed(f"{name} request to {peer} failed: {type(e).__name__}: {e}") from e


def not_supported(error: BaseException) -> bool:
    """Whether a failed stream open means "the peer does not speak that protocol"."""
    cause: BaseException | None = error
    while cause is not None:
        if "not supported" in str(cause):
            return True
        cause = cause.__cause__
    return False


async def half_close(stream: INetStream) -> None:
    """Close our writing side: the peer reads an end of stream, we can still read."""
    close_write = getattr(stream, "close_write", None)  # NetStream has it, INetStream not
    await (close_write() if close_write is not None else stream.close())


async def read_or_eof(stream: INetStream, n: int) -> bytes:
    """Up to `n` bytes from `stream`; b"" at its end (libp2p raises StreamEOF)."""
    try:
        return await stream.read(n)
    except StreamEOF:
        return b""


async def close_quietly(stream: INetStream) -> None:
    """Close `stream`, even when cancelled, ignoring a stream already broken."""
    with trio.CancelScope(shield=True), suppress(*LIBP2P_ERRORS):
        await stream.close()


async def reset_quietly(stream: INetStream) -> None:
    """Reset `stream`, even when cancelled, ignoring a stream already broken."""
    with trio.CancelScope(shield=True), suppress(*LIBP2P_ERRORS):
        await stream.reset()
