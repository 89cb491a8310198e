"""The package's import graph has no cycles: no module imports a module that (directly or through others)
imports it back. Lazy imports inside functions count too: they only postpone the cycle to the first call,
and they hide which module is the lower one.

The graph is read from the source with ``ast`` (nothing is imported): ``from .x import y``,
``from ..x import y``, ``from xaicnn.x import y`` and ``import xaicnn.x`` anywhere in a module, at
module level or inside functions and ``if TYPE_CHECKING`` blocks alike. ``from pkg import name`` is an
edge to ``pkg.name`` when that is a module, else to ``pkg`` (its ``__init__``). The implicit import of a
parent package that every submodule import triggers is not an edge (Python initialises the parent first,
so a package whose ``__init__`` imports its own submodules is not a cycle).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import xaicnn

ROOT = Path(xaicnn.__file__).resolve().parent
PACKAGE = "xaicnn"

# Cycles that are allowed, each as the sorted tuple of its modules, with the reason. Keep it empty.
ALLOWED_CYCLES: dict[tuple[str, ...], str] = {}


def module_files(root: Path = ROOT, package: str = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under ``root`` (``pkg/__init__.py`` is ``pkg``)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join([package, *parts])] = path
    return out


def _target(name: str, modules: dict[str, Path]) -> str | None:
    """``name`` or its nearest enclosing package that is one of ours (``xaicnn.data.load`` -> ``xaicnn.data``)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of the package that ``module`` imports anywhere in its source."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(PACKAGE + "."):
                    found.add(_target(alias.name, modules))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            if origin != PACKAGE and not origin.startswith(PACKAGE + "."):
                continue
            for alias in node.names:
                submodule = f"{origin}.{alias.name}"
                found.add(submodule if submodule in modules else _target(origin, modules))
    found.discard(None)
    found.discard(module)
    return found


def import_graph(root: Path = ROOT, package: str = PACKAGE) -> dict[str, set[str]]:
    modules = module_files(root, package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[tuple[str, ...]] = []

    def visit(v: str) -> None:  # the package's graph is shallow: recursion depth is no concern
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(tuple(sorted(component)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def test_the_graph_sees_the_package():
    graph = import_graph()
    assert len(graph) > 30, sorted(graph)
    # a few edges that must be there, of each kind the parser handles
    assert "xaicnn.errors" in graph["xaicnn._registry"]  # from .errors import UserError
    assert "xaicnn.data._registry" in graph["xaicnn.data"]  # from ._registry import ... (in an __init__)
    assert "xaicnn.analysis.attribution_methods" in graph["xaicnn.analysis.attribution"]  # from . import x
    assert "xaicnn._registry" in graph["xaicnn.analysis._attribution_base"]  # from .._registry import Registry


def test_no_import_cycles():
    found = {c: "cycle among " + ", ".join(c) for c in cycles(import_graph())}
    unexpected = {c: text for c, text in found.items() if c not in ALLOWED_CYCLES}
    assert not unexpected, "import cycles:\n" + "\n".join(unexpected.values())
    stale = set(ALLOWED_CYCLES) - set(found)
    assert not stale, f"allowed cycles that no longer exist (remove them from ALLOWED_CYCLES): {sorted(stale)}"


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize("files, expected", [
    # module-level cycle through a relative import
    ({"__init__.py": "", "a.py": "from .b import x\n", "b.py": "from .a import y\n"},
     [("xaicnn.a", "xaicnn.b")]),
    # a lazy import inside a function closes the cycle just the same
    ({"__init__.py": "", "a.py": "from .b import x\n", "b.py": "def f():\n    from .a import y\n"},
     [("xaicnn.a", "xaicnn.b")]),
    # an import at the bottom of a module (the registration pattern) and an absolute import
    ({"__init__.py": "", "sub/__init__.py": "", "sub/a.py": "X = 1\nfrom . import b\n",
      "sub/b.py": "import xaicnn.sub.a\n"},
     [("xaicnn.sub.a", "xaicnn.sub.b")]),
    # a submodule importing a name from its own package's __init__, which imports the submodule
    ({"__init__.py": "", "sub/__init__.py": "from .a import f\n", "sub/a.py": "from . import g\n"},
     [("xaicnn.sub", "xaicnn.sub.a")]),
    # no cycle: an __init__ importing its submodules, which import each other one way
    ({"__init__.py": "", "sub/__init__.py": "from . import a, b\n", "sub/a.py": "from .b import y\n",
      "sub/b.py": "from ..c import z\n", "c.py": "import os\n"},
     []),
])
def test_cycles_are_found(tmp_path, files, expected):
    _write(tmp_path, files)
    assert cycles(import_graph(tmp_path, PACKAGE)) == expected
