"""The home's config file, `config.toml`: read with tomllib, and one top-level key set at a
time by editing its text, so that a person's comments and layout stay as they wrote them.

What the keys mean and which values they take is the command line's (clicmd/settings.py);
this module only reads and writes the file.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from node.core.errors import LocalError

CONFIG_FILE = "config.toml"
_TABLE = re.compile(r"^\s*\[")  # a [table] or [[array]] header: top-level keys end there


def config_path(home: Path) -> Path:
    """Where the config file of `home` is."""
    return Path(home) / CONFIG_FILE


def read_config(path: Path) -> dict[str, Any]:
    """The file's keys and values ({} when there is no file); LocalError, in one line naming
    the file and the line, when it is not TOML."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise LocalError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise LocalError(f"{path} is not valid TOML: {e}") from None


def toml_value(value: str | int | float | bool | list[str]) -> str:
    """A value as TOML text, a list one item a line."""
    if isinstance(value, list):
        return "[\n" + "".join(f"    {toml_value(item)},\n" for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # JSON's string is TOML's basic string, written in UTF-8 (JSON's \ud800\udc00 pairs
        # are no TOML) with DEL escaped (TOML forbids it raw; JSON leaves it)
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    return json.dumps(value)


def set_config_value(path: Path, key: str, value: str | int | float | bool | list[str]) -> None:
    """Set top-level `key` to `value` in the file (made if missing): its old assignment,
    however many lines it spans, is replaced in place; a new key goes before the first
    table. The file is replaced atomically and read back to check it."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", key):
        raise ValueError(f"not a bare TOML key: {key!r}")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    new = [f"{key} = {toml_value(value)}\n"]
    span = _assignment(lines, key)
    if span is not None:
        lines[span[0]:span[1]] = new
    else:
        at = next((i for i, line in enumerate(lines) if _TABLE.match(line)), len(lines))
        lines[at:at] = new
    updated = "".join(lines)
    if tomllib.loads(updated).get(key) != value:  # the edit must read back as asked
        raise LocalError(f"cannot set {key} in {path}: its text is too unusual to edit")
    _write(path, updated)


def _assignment(lines: list[str], key: str) -> tuple[int, int] | None:
    """The lines [start, end) of `key`'s top-level assignment: from its `key =` line to the
    first line after which those lines alone read as TOML (a multi-line array ends there)."""
    start_of = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for start, line in enumerate(lines):
        if _TABLE.match(line):
            return None
        if start_of.match(line):
            for end in range(start + 1, len(lines) + 1):
                try:
                    if key in tomllib.loads("".join(lines[start:end])):
                        return start, end
                except tomllib.TOMLDecodeError:
                    continue
            return None
    return None


def _write(path: Path, text: str) -> None:
    """Write atomically (a temporary file renamed), keeping the file's mode if it had one."""
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    tmp.replace(path)
