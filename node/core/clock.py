"""Time as integer microseconds since the epoch: the only clock the core knows."""

from __future__ import annotations

import time


def now_us() -> int:
    return time.time_ns() // 1000
