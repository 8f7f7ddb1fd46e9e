"""The package's shape, checked on the source tree: imports point down, no module imports
itself back through others. Files follow concepts, so there is no line budget (one made
shards of single concepts before)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cosmos_reason_ros"
NAME = "cosmos_reason_ros"

# Each layer, and the layers it must never import (directly or inside a function).
FORBIDDEN = {
    "core": {"backends", "config", "ros", "tools", "bench", "testing", "node"},
    "backends": {"config", "ros", "tools", "bench", "testing", "node"},
    "config": {"ros", "tools", "bench", "testing", "node"},
    "ros": {"tools", "bench", "testing"},
    "tools": {"bench"},  # tools may start the node (demo) or use its conversions
    "testing": {"ros", "tools", "bench", "config", "node"},
}
GENERATED = {"msg", "srv", "action"}  # rosidl's packages, installed beside ours


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(module: str, path: Path) -> set[str]:
    """Every module of the package that ``module`` imports, at any depth of its code."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    modules = _modules()
    return {m for m in found if m in modules and m != module}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_layers_only_import_downwards() -> None:
    modules = _modules()
    wrong = []
    for module, path in modules.items():
        for target in _imports(module, path):
            if _layer(target) in FORBIDDEN.get(_layer(module), set()):
                wrong.append(f"{module} imports {target}")
    assert not wrong, "imports that point up or sideways:\n" + "\n".join(wrong)


def test_no_module_imports_itself_back_through_others() -> None:
    modules = _modules()
    # A package's __init__ re-exporting its own modules (and they importing their package) is
    # not a cycle of code: only edges between modules that do not contain one another count.
    graph = {
        m: {t for t in _imports(m, p) if not t.startswith(m + ".") and not m.startswith(t + ".")}
        for m, p in modules.items()
    }
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_fmt_skip_packing() -> None:
    packed = [
        f"{p.relative_to(PACKAGE.parent)}:{n}"
        for p in sorted(PACKAGE.rglob("*.py"))
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if "fmt: skip" in line
    ]
    assert not packed, "lines packed past the formatter:\n" + "\n".join(packed)


def test_the_layer_checker_sees_a_planted_upward_import(tmp_path: Path) -> None:
    """The checks above are only worth something if they can fail."""
    fake = tmp_path / "m.py"
    fake.write_text("from cosmos_reason_ros.ros.node import ReasonNode\n", encoding="utf-8")
    assert "cosmos_reason_ros.ros.node" in _imports("cosmos_reason_ros.core.fake", fake)
    assert _layer("cosmos_reason_ros.ros.node") in FORBIDDEN["core"]
    assert not GENERATED & set(FORBIDDEN)
