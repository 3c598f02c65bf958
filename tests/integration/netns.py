"""Two network namespaces joined by a veth pair, for partition tests with real processes
(public test helper). Needs root and iproute2; `unavailable()` says why not, else None.

Side A is 10.213.7.1, side B 10.213.7.2; `cut()` takes the link down on both ends (a
real partition: packets are dropped, connections hang), `heal()` brings it back. The
namespaces, and the veth pair with them, are deleted at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

A_ADDR, B_ADDR = "10.213.7.1", "10.213.7.2"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


def unavailable() -> str | None:
    if shutil.which("ip") is None:
        return "no `ip` (iproute2) on this machine"
    if os.geteuid() != 0:
        return "network namespaces need root"
    try:
        with two_sides():  # the whole set-up once: namespaces, the veth pair, addresses
            pass
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        return f"cannot set up two network namespaces here: {getattr(e, 'stderr', e)!r}"
    return None


@dataclass(frozen=True)
class TwoSides:
    a: str
    b: str
    veth: tuple[str, str]

    def cut(self) -> None:
        _ip("-n", self.a, "link", "set", self.veth[0], "down")
        _ip("-n", self.b, "link", "set", self.veth[1], "down")

    def heal(self) -> None:
        _ip("-n", self.a, "link", "set", self.veth[0], "up")
        _ip("-n", self.b, "link", "set", self.veth[1], "up")


@contextmanager
def two_sides() -> Iterator[TwoSides]:
    tag = f"cl{os.getpid() % 100_000}"
    sides = TwoSides(f"{tag}a", f"{tag}b", (f"{tag}va", f"{tag}vb"))
    try:
        _ip("netns", "add", sides.a)
        _ip("netns", "add", sides.b)
        _ip("link", "add", sides.veth[0], "type", "veth", "peer", "name", sides.veth[1])
        for ns, dev, addr in ((sides.a, sides.veth[0], A_ADDR), (sides.b, sides.veth[1], B_ADDR)):
            _ip("link", "set", dev, "netns", ns)
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", dev, "up")
        yield sides
    finally:
        for ns in (sides.a, sides.b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)
        subprocess.run(["ip", "link", "del", sides.veth[0]], capture_output=True, timeout=20)
