"""No import circle in ``flowhost/``, not even through imports made only for type checking.

The graph is read from the source with ``ast``: every ``import`` and ``from ... import`` statement counts,
wherever it is (``if TYPE_CHECKING:``, inside a function). ``from package import name`` depends on the
submodule ``package.name`` when there is one, else on the package itself. That a submodule's import runs its
package's ``__init__`` first is not counted: it would make every package a circle with its modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import flowhost

CORE = Path(flowhost.__file__).parent


def _modules(root: Path) -> dict[str, tuple[Path, bool]]:
    """Every module of the package ``root``, by dotted name: its file and whether it is a package."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _target(node: ast.ImportFrom, package: str) -> str:
    """The absolute module name that ``from ... import`` statement reads from."""
    if not node.level:
        return node.module or ""
    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _imports(path: Path, package: str, modules: dict) -> set[str]:
    """The modules of ``modules`` that the file imports (``package``: the package relative imports start from)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            target = _target(node, package)
            for alias in node.names:
                if f"{target}.{alias.name}" in modules:
                    found.add(f"{target}.{alias.name}")
                elif target in modules:
                    found.add(target)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    modules = _modules(root)
    graph = {}
    for name, (path, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        graph[name] = _imports(path, package, modules) - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            successor = next(successors, None)
            if successor is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while not component or component[-1] != node:
                        component.append(stack.pop())
                        on_stack.discard(component[-1])
                    if len(component) > 1:
                        found.append(sorted(component))
            elif successor not in index:
                index[successor] = low[successor] = len(index)
                stack.append(successor)
                on_stack.add(successor)
                work.append((successor, iter(sorted(graph[successor]))))
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
    return sorted(found)


def test_flowhost_has_no_import_circle():
    graph = import_graph(CORE)
    assert "flowhost.runtime" in graph["flowhost.workspace"]  # the scan resolves relative imports
    assert cycles(graph) == []


def _in_mqtt(module: str) -> bool:
    return module == "flowhost.mqtt" or module.startswith("flowhost.mqtt.")


def test_the_mqtt_client_imports_nothing_else_of_flowhost():
    """A fixed decision: the client stays a library of its own; the core may import it (its `Settlement` is the
    flow's `Receipt`), never the other way round."""
    graph = import_graph(CORE)
    assert "flowhost.mqtt.settlement" in graph["flowhost.message"]
    outside = {(name, target) for name, targets in graph.items() if _in_mqtt(name) for target in targets}
    assert {pair for pair in outside if not _in_mqtt(pair[1])} == set()
    assert ("flowhost.mqtt.inbound", "flowhost.mqtt.settlement") in outside  # the scan sees the package's own imports


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


def test_a_circle_through_type_checking_imports_is_found(tmp_path):
    package = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/keys.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .api.auth import A\n",
            "pkg/api/__init__.py": "",
            "pkg/api/auth.py": "from .. import keys\n",
            "pkg/api/events.py": "from ..keys import KEY\n",
            "pkg/plain.py": "import pkg.api.events\n",
        },
    )
    graph = import_graph(package)
    assert graph["pkg.api.events"] == {"pkg.keys"} and graph["pkg.plain"] == {"pkg.api.events"}
    assert cycles(graph) == [["pkg.api.auth", "pkg.keys"]]


def test_longer_circles_and_imports_inside_functions_are_found(tmp_path):
    package = _write(
        tmp_path,
        {
            "pkg/__init__.py": "from .a import x\n",
            "pkg/a.py": "from pkg import b\n",
            "pkg/b.py": "def later():\n    from .c import y\n",
            "pkg/c.py": "from . import a\n",
            "pkg/d.py": "from .a import x\n",
        },
    )
    assert cycles(import_graph(package)) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_a_submodule_importing_its_package_siblings_is_no_circle(tmp_path):
    package = _write(
        tmp_path,
        {
            "pkg/__init__.py": "from .client import Client\n",
            "pkg/client.py": "from . import packets\n",
            "pkg/packets.py": "",
        },
    )
    assert cycles(import_graph(package)) == []
