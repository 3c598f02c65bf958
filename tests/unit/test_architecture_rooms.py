"""docs/architecture.md's rooms table names every file of the product, and only files that
exist: a file added, moved or removed without its row fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
PACKAGES = ("node", "validation", "zomes", "dht", "clicmd")


def product_files() -> set[str]:
    files = {str(p.relative_to(ROOT)) for top in PACKAGES for p in (ROOT / top).rglob("*.py")}
    return files | {"cli.py"}


def named_in_rooms() -> set[str]:
    """Files named in the first cell of each row of the rooms section; a bare name after a
    path (`validation/receipts.py`, `warrants.py`) is in the first path's folder."""
    text = DOC.read_text()
    start = text.index("## Rooms")
    section = text[start:text.index("\n## ", start + 1)]
    named: set[str] = set()
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        first = line.split("|")[1]
        folder = ""
        for token in re.findall(r"`([^`]+\.py)`", first):
            if "/" in token:
                folder = token.rsplit("/", 1)[0]
                named.add(token)
            else:
                named.add(f"{folder}/{token}" if folder else token)
    return named


def test_every_file_of_the_product_has_a_room():
    missing = sorted(product_files() - named_in_rooms())
    assert not missing, f"not in docs/architecture.md's rooms: {missing}"


def test_every_room_is_a_file_that_exists():
    stale = sorted(named_in_rooms() - product_files())
    assert not stale, f"docs/architecture.md names files that do not exist: {stale}"
