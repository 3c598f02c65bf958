"""A one-line progress bar on stderr for long work (gathering many chains), drawn only
when stderr is a terminal, so that pipes, logs and --json consumers never see it."""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 24
INTERVAL = 0.1  # seconds between redraws


class Progress:
    """`update(done, total)` as work goes; `close()` clears the line."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self._drawn = 0.0
        self._width = 0

    def update(self, done: int, total: int | None = None, note: str = "") -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._drawn < INTERVAL and (total is None or done < total):
            return
        self._drawn = now
        if total:
            filled = min(WIDTH, WIDTH * done // total)
            bar = f"[{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{total}"
        else:
            bar = f"{done}"
        line = f"{self.label} {bar} {note}".rstrip()
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = len(line)

    def close(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
