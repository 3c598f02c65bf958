"""Packaging: the declared licence ships as a file, and constraints.txt pins what is installed.

constraints.txt is the resolved set that `make install` installs; a pin for a package that
nothing installs is a stale line that misleads whoever audits the dependencies.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[_canonical(name)] = version
    return pins


def test_the_declared_licence_ships_as_a_file() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "AGPL-3.0-or-later"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("GNU AFFERO GENERAL PUBLIC LICENSE\nVersion 3")
    assert "or (at your option) any later version" in text


def test_constraints_pin_exactly_the_installed_versions() -> None:
    installed = {
        _canonical(dist.metadata["Name"]): dist.version for dist in metadata.distributions()
    }
    pins = _pins()
    not_installed = sorted(name for name in pins if name not in installed)
    assert not_installed == [], "constraints.txt pins packages nothing installs"
    wrong = {name: (v, installed[name]) for name, v in pins.items() if installed[name] != v}
    assert wrong == {}


def test_every_direct_dependency_is_pinned_in_both_files() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    direct = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pins = _pins()
    for requirement in direct:
        name, _, version = requirement.partition("==")
        assert version, f"{requirement} is not pinned"
        assert pins.get(_canonical(name)) == version, requirement
