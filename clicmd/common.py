"""What every `coledger` command shares: the options, the command registry, argument
types, output (`emit`, with the terminal made safe) and the front door (`client()`).

Imported by every command: stdlib only here, and node.api (light) when a command asks.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from node.core.errors import LocalError

if TYPE_CHECKING:  # (imported where a command needs them: a command pays for what it uses)
    from node.api import Client
    from node.store.home import Agent

Handler = Callable[[argparse.Namespace], None]


class Options:
    """The common options of this command (a plain class: a dataclass costs every command
    about half a millisecond to generate)."""

    __slots__ = ("debug", "home", "json")

    def __init__(self, home: Path, json: bool, debug: bool) -> None:
        self.home, self.json, self.debug = home, json, debug


OPTS = Options(home=Path("."), json=False, debug=False)
_COMMANDS: list[tuple[str, Handler, list[tuple[tuple[str, ...], dict[str, Any]]]]] = []


def arg(*flags: str, **kw: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    return flags, kw


def command(
    path: str, *args: tuple[tuple[str, ...], dict[str, Any]]
) -> Callable[[Handler], Handler]:
    """Register `fn` as the command `path` (e.g. "chain show"); its docstring is the help."""

    def register(fn: Handler) -> Handler:
        _COMMANDS.append((path, fn, list(args)))
        return fn

    return register


# -- helpers -------------------------------------------------------------------


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e"
                      r"\u2060-\u206f\ufeff\ufff9-\ufffb]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(value: Any) -> str:
    """`value` as text safe for a terminal: control and format characters (escape codes,
    newlines, bidi overrides) from any chain shown escaped (`\\x1b`), never obeyed."""
    return _CONTROL.sub(_escape_char, "\\n".join(str(value).split("\n")))


def clean_lines(text: str) -> str:
    """Every line of an output made safe with `clean`, the line breaks kept: the last
    guard on every text output, whatever renderer made the text."""
    return "\n".join(clean(line) for line in text.split("\n"))


def iso_time(us: Any) -> Any:
    """Microseconds since the epoch as ISO 8601 UTC (what people read); other values as given."""
    if isinstance(us, bool) or not isinstance(us, int):
        return us
    from datetime import UTC, datetime

    try:
        return datetime.fromtimestamp(us / 1_000_000, UTC).isoformat(timespec="seconds")
    except (OverflowError, ValueError, OSError):
        return us


def parse_time(text: str | None) -> int | None:
    if text is None:
        return None
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise LocalError(
            f"--at {text!r} is not an ISO time (e.g. 2026-11-26T14:00:00+00:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return epoch_us(moment, f"--at {text!r}")


def epoch_us(moment: Any, what: str) -> int:
    """A timezone-aware datetime in µs since 1970; LocalError before 1970 (or past 9999)."""
    try:
        us = int(moment.timestamp() * 1_000_000)
    except (OverflowError, ValueError, OSError):
        us = -1
    if us < 0:
        raise LocalError(f"{what} is before 1970 or after 9999: give a time in between")
    return us


def _number(text: str, what: str, low: float, high: float, *, low_open: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of {what}") from None
    above = value > low if low_open else value >= low
    if not (above and value <= high):  # also refuses nan
        bound = "more than" if low_open else "at least"
        raise argparse.ArgumentTypeError(
            f"{text!r}: give {bound} {low:g} and at most {high:g} {what}")
    return value


def days(text: str) -> float:
    """An argparse type: days in (0, 36500]."""
    return _number(text, "days", 0, 36_500, low_open=True)


def seconds(text: str) -> float:
    """An argparse type: a duration in seconds, [0, one day]."""
    return _number(text, "seconds", 0, 86_400, low_open=False)


def interval(text: str) -> float:
    """An argparse type: a period in seconds, (0, one hour] (0 would spin)."""
    return _number(text, "seconds", 0, 3_600, low_open=True)


def count(text: str) -> int:
    """An argparse type: a whole number from 1 to 10 million."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 10_000_000:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number from 1 to 10000000")
    return value


def _multiaddr(text: str, *, peer: bool) -> str:
    from dht.libp2p_backend import multiaddr_problem

    problem = multiaddr_problem(text, peer=peer)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def listen_addr(text: str) -> str:
    """An argparse type: a multiaddr to listen on, /ip4|/ip6/ADDRESS/tcp/PORT."""
    return _multiaddr(text, peer=False)


def peer_addr(text: str) -> str:
    """An argparse type: a member's multiaddr ending in /p2p/<agent id>."""
    return _multiaddr(text, peer=True)


def aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows (the first a header) as columns padded to their widest cell."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
            for r in rows]


def short(text: str | None) -> str:
    """A long address or agent id cut to its two ends, for a table."""
    text = text or ""
    return text if len(text) <= 18 else text[:8] + "…" + text[-8:]


def emit(data: Any, text: str | None = None) -> None:
    """Print `data` as JSON under --json, else `text` (or the JSON if there is no text).
    A warning (a damaged chain) goes to stderr and, under --json, into a "warning" key (a
    list becomes {"warning": ..., "result": [...]})."""
    if WARNINGS:
        # (the library says what is wrong; what to run about it is the command line's)
        warning = "; ".join(f"{w}; run `coledger chain verify`" for w in WARNINGS)
        print(f"coledger: warning: {warning}", file=sys.stderr)
        if OPTS.json:
            data = dict(data, warning=warning) if isinstance(data, dict) else {
                "warning": warning, "result": data}
    if OPTS.json or text is None:
        print(json.dumps(data, indent=2))
    else:
        print(clean_lines(text))


def passphrase() -> str:
    """From COLEDGER_PASSPHRASE, else a prompt when there is a terminal."""
    given = _passphrase_given()
    if given is not None:
        return given
    import getpass

    return getpass.getpass("Passphrase: ")


def new_passphrase() -> str:
    given = _passphrase_given()
    if given is not None:
        return given
    import getpass

    first = getpass.getpass("New passphrase: ")
    if first != getpass.getpass("Repeat passphrase: "):
        raise LocalError("the passphrases differ")
    return first


def _passphrase_given() -> str | None:
    """COLEDGER_PASSPHRASE; None if it is unset and a terminal can be asked; else LocalError."""
    env = os.environ.get("COLEDGER_PASSPHRASE")
    if env is None and not sys.stdin.isatty():
        raise LocalError("no passphrase: set COLEDGER_PASSPHRASE or run in a terminal")
    return env


def agent() -> AbstractContextManager[Agent]:
    """This home's agent (its chain and key), for the commands that work on them alone."""
    from node.api import open_agent

    return _warned(open_agent(OPTS.home, passphrase))


WARNINGS: list[str] = []
_CLIENT: list[Client] = []  # the one client of this command, once made


def client() -> Client:
    """The front door to this home: through its node when one runs, else on the home."""
    from node.api import open_client

    if not _CLIENT:
        _CLIENT.append(open_client(OPTS.home, passphrase, warnings=WARNINGS))
    return _CLIENT[0]


def forget_client() -> None:
    """Choose the client again at the next command (main() runs many in a test's process,
    and a node may start or stop between them)."""
    _CLIENT.clear()


@contextmanager
def _warned(opened: AbstractContextManager[Agent]) -> Iterator[Agent]:
    """Yield the agent `opened` opens; keep its warning (a damaged chain) for emit."""
    with opened as value:
        try:
            yield value
        finally:
            warning = value.warning()
            if warning is not None and warning not in WARNINGS:
                WARNINGS.append(warning)
