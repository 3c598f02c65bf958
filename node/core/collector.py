"""`gc_paused`: the one way coledger holds off Python's cyclic garbage collector.

Building a large batch, walking a flow index or running a report allocates many live
objects and no cycles; the collections those allocations start would only rescan them
(a quarter of a large commit's time). Use it as `with gc_paused():` or `@gc_paused()`.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the block; re-enable it after, if it was on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
