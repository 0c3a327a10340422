"""The package's import graph: no circles, and no imports inside functions except the
optional extras (which must stay importable without them) and the libraries slow to import
(so that commands start without them)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import modeguard

ROOT = Path(modeguard.__file__).parent
#: top-level packages that may be imported inside a function: optional extras
OPTIONAL = {"lightning", "pytorch_lightning", "tensorboard", "torch.utils.tensorboard", "ray", "optuna", "jax",
            "hypothesis"}
#: libraries slow to import (~1 s) that only some commands need: imported where they are used,
#: so that every command starts without them
HEAVY = {"sklearn"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports():
    """(module, imported module, at top level?, line) for every import of the package."""
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        top = set(map(id, tree.body))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(name, path.name == "__init__.py", node)
                # "from . import x" may name a submodule
                targets = [f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target for a in node.names]
            else:
                continue
            for t in targets:
                yield name, t, id(node) in top, node.lineno, modules


def test_no_function_level_imports_except_optional_extras():
    inner = [f"{m}:{line} imports {t}" for m, t, top, line, _ in _imports()
             if not top and t.split(".")[0] not in OPTIONAL | HEAVY and t not in OPTIONAL]
    assert inner == []


def test_no_import_circles():
    graph: dict[str, set[str]] = {}
    for m, t, top, _, modules in _imports():
        if t.startswith("modeguard") and top:
            # importing a.b.c runs a/__init__ and a/b/__init__ too
            while t and t not in modules:
                t = t.rpartition(".")[0]
            if t and t != m:
                graph.setdefault(m, set()).add(t)
    cycles = []
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_commands_start_without_the_heavy_libraries():
    code = ("import sys, modeguard.cli; heavy = sorted(m for m in sys.modules if m.split('.')[0] in %r "
            "or m == 'scipy.stats'); print(heavy)" % sorted(HEAVY))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
