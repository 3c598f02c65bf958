"""The dependency direction of DESIGN.md, checked on the source (AST), not by convention.

1 node.core  2 validation, zomes.api, dht pure parts  3 zomes.<app>
4 node.store, dht backends  5 node.runtime  6 node.api (and node/*.py)
7 cli.py, clicmd, node.http (the front ends: through the front door only)
Pure layers (1-3) import no trio, sqlite3 or libp2p; only dht backends import libp2p;
only node.store imports sqlite3.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DHT_PURE = {"dht.wire", "dht.wire_fields", "dht.authority", "dht.gossip", "dht.transport"}
IMPURE = {"trio", "sqlite3", "libp2p", "multiaddr"}


def layer(module: str) -> int:
    """The layer a module of ours belongs to (lower may not import higher)."""
    if module.startswith("node.core"):
        return 1
    if module.startswith("validation") or module == "zomes.api" or module in DHT_PURE:
        return 2
    if module.startswith("zomes"):
        return 3
    if module.startswith("node.store") or module.startswith("dht"):
        return 4
    if module.startswith("node.runtime"):
        return 5
    if module == "cli" or module.split(".")[0] == "clicmd" or module == "node.http" \
            or module.startswith("node.http."):
        return 7
    return 6  # node.api, node.membership, node.testing ...


def modules() -> list[tuple[str, Path]]:
    out = []
    for top in ("node", "validation", "zomes", "dht", "clicmd"):
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            name = ".".join(p for p in rel.parts if p != "__init__")
            out.append((name, path))
    out.append(("cli", ROOT / "cli.py"))
    return out


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


OURS = ("node", "validation", "zomes", "dht", "cli", "clicmd")


@pytest.mark.parametrize("name, path", modules(),
                         ids=lambda v: str(v) if isinstance(v, str) else "")
def test_imports_point_down_the_layers(name, path):
    mine = layer(name)
    for imported in imports(path):
        top = imported.split(".")[0]
        if top in OURS:
            assert layer(imported) <= mine, (
                f"{name} (layer {mine}) imports {imported} (layer {layer(imported)})"
            )
        if top in IMPURE and mine <= 3:
            pytest.fail(f"pure module {name} imports {imported}")
        if top == "libp2p" or top == "multiaddr":
            assert name.startswith("dht.") and name not in DHT_PURE or name == "node.api", (
                f"{name} imports libp2p: only dht backends may"
            )
        if top == "sqlite3":
            assert name.startswith("node.store"), f"{name} imports sqlite3: only node.store may"


def cli_modules() -> list[tuple[str, Path]]:
    """The front ends' modules: cli.py, every module of clicmd/ and of node/http/."""
    return [(n, p) for n, p in modules() if layer(n) == 7]


def test_the_cli_imports_nothing_from_the_runtime():
    """The CLI and the HTTP layer go through the front door (node.api): no import of
    node.runtime, in a function or not, however spelt (`from node import runtime`...)."""
    assert {n for n, _ in cli_modules()} >= {"cli", "clicmd.common", "clicmd.chain",
                                               "node.http.door", "node.http.app"}
    for name, path in cli_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                found = [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            runtime = [m for m in found if m == "node.runtime" or m.startswith("node.runtime.")]
            assert not runtime, f"{name} imports {runtime} (line {node.lineno}): use node.api"


def test_package_inits_import_nothing():
    for pkg in ("node", "zomes", "validation", "dht", "clicmd"):
        init = ROOT / pkg / "__init__.py"
        if init.exists():
            assert not imports(init), f"{init} imports {imports(init)}"


def test_light_commands_do_not_import_libp2p():
    import subprocess
    import sys

    code = ("import cli, node.api, node.membership, sys; "
            "print(any(m.startswith('libp2p') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def module_graph() -> dict[str, set[str]]:
    """Our modules -> the modules of ours each imports, wherever the import stands (in a
    function, under TYPE_CHECKING) and however it is spelt (`from pkg import module`,
    relative imports)."""
    paths = dict(modules())
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name in paths)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                found.update(m for m in (base, *(f"{base}.{a.name}" for a in node.names))
                             if m in paths)
        found.discard(name)
        graph[name] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm,
    iterative): each is an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_anywhere():
    found = cycles(module_graph())
    assert not found, f"import cycles: {found}"


APPS = ("zomes.valueflows", "zomes.accounting")
@pytest.mark.parametrize(
    "name",
    [n for n, _ in modules() if n == "node.runtime" or n.startswith("node.runtime.")],
)
def test_the_runtime_imports_no_app(name):
    """The runtime is generic: an app reaches it only through zomes.api's hooks (chosen in
    zomes.registry), never by an import, however spelt or wherever it stands."""
    found = sorted(m for m in _graph()[name]
                   if any(m == app or m.startswith(app + ".") for app in APPS))
    assert not found, f"{name} imports {found}"


@cache
def _graph() -> dict[str, set[str]]:
    return module_graph()
