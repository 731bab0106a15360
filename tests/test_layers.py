"""The package's import graph: no circle, and no import running from a lower layer up.

Every ``import`` statement of every module counts, at the top or inside a function (a lazy
import is still a dependency), except those under ``if TYPE_CHECKING:`` (never executed).
Run as a script to print the layers and any offending import:

    python tests/test_layers.py
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "avpipe"

#: Layers, lowest first. A module may import only from its own layer or the ones below it.
#: Prefixes match a module and everything under it; the longest matching prefix wins.
LAYERS: list[tuple[str, ...]] = [
    # leaves: the schema, options, errors and small helpers every layer may use
    ("avpipe", "avpipe.errors", "avpipe.schema", "avpipe.options", "avpipe.atomic",
     "avpipe.timecode", "avpipe.cache", "avpipe.device", "avpipe.words", "avpipe.threads", "avpipe.stopping"),
    # facts about files and models: probing, the model registry, the ledger, discovery
    ("avpipe.probe", "avpipe.models", "avpipe.ledger", "avpipe.discover", "avpipe.resources"),
    # the domain packages that see and hear
    ("avpipe.decode", "avpipe.shots", "avpipe.speech", "avpipe.vision", "avpipe.sounds", "avpipe.evaluate"),
    # understanding what was seen and heard
    ("avpipe.understand",),
    # what is written and searched
    ("avpipe.report", "avpipe.writers", "avpipe.search"),
    # who is who across a folder's results
    ("avpipe.people",),
    # the stages: thin classes over the domain packages
    ("avpipe.stages",),
    # one video through the stages; pipeline files
    ("avpipe.pipeline", "avpipe.config"),
    # batches
    ("avpipe.runner",),
    ("avpipe.engines",),
    # a results folder served to a browser (reads results, searches, renders the report's layout)
    ("avpipe.serve",),
    ("avpipe.cli", "avpipe.__main__"),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(path: Path) -> set[str]:
    """The avpipe modules ``path`` imports (the module itself, not its parent packages)."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.startswith("avpipe"))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if not target.startswith("avpipe"):
                    continue
                for alias in child.names:  # `from . import x` imports the submodule x
                    sub = f"{target}.{alias.name}"
                    found.add(sub if (PACKAGE.parent / sub.replace(".", "/")).with_suffix(".py").exists()
                              or (PACKAGE.parent / sub.replace(".", "/") / "__init__.py").exists() else target)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    found.discard(here)
    return found


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    best, level = -1, None
    for i, names in enumerate(LAYERS):
        for prefix in names:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, level = len(prefix), i
    if level is None:
        raise KeyError(f"{module} is in no layer: add it to LAYERS in tests/test_layers.py")
    return level


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in edges:
                continue
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return found


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    return [f"{a} (layer {layer_of(a)}) imports {b} (layer {layer_of(b)})"
            for a, targets in sorted(edges.items()) for b in sorted(targets) if layer_of(b) > layer_of(a)]


def test_the_import_graph_has_no_circle():
    assert cycles(graph()) == []


def test_no_module_imports_one_from_a_higher_layer():
    assert upward_imports(graph()) == []


def test_the_checker_sees_lazy_imports_and_ignores_type_checking_blocks(tmp_path, monkeypatch):
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .cli import main\n"
              "def f():\n    from .errors import AvpipeError\n    from . import schema\n")
    path = PACKAGE / "options.py"
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: source)
    assert imports_of(path) == {"avpipe.errors", "avpipe.schema"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


if __name__ == "__main__":
    g = graph()
    for i, names in enumerate(LAYERS):
        print(i, ", ".join(names))
    for c in cycles(g):
        print("circle:", " -> ".join(c))
    for line in upward_imports(g):
        print("upward:", line)
