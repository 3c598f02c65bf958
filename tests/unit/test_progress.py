"""The progress bar is drawn on a terminal only, and cleared when done."""

from __future__ import annotations

import io

from node.runtime.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_drawn_on_a_terminal_and_cleared() -> None:
    out = Terminal()
    with Progress("gathering chains", out) as progress:
        progress.update(3, 12, "chains")
        progress.update(12, 12, "chains")
    text = out.getvalue()
    assert "gathering chains [######" in text and "12/12 chains" in text
    assert text.endswith("\r")  # the line is blanked at the end


def test_silent_when_not_a_terminal() -> None:
    out = io.StringIO()
    with Progress("gathering chains", out) as progress:
        progress.update(1, 2)
    assert out.getvalue() == ""
