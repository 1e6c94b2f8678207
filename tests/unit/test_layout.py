"""The package's shape: no import cycles (imports inside functions included), nothing done on import,
every package says in one line what it holds."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

from helpers import ROOT

import convlab

PACKAGE = ROOT / "src" / "convlab"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """convlab module -> the convlab modules it imports anywhere in its body (functions included)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # ``from convlab.x import y``: the module convlab.x.y when y is one, else convlab.x
                targets = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                    for a in node.names
                ]
            else:
                continue
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles_even_through_imports_inside_functions() -> None:
    graph = import_graph()
    assert len(graph) > 50 and "convlab.run.train" in graph["convlab.cli.train"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_importing_any_module_changes_no_process_state() -> None:
    """Environment, warning filters and umask are the entry points' to set (convlab.run.environment), not an
    import's. Run in a clean interpreter with the third-party libraries imported first, so only convlab counts."""
    probe = """
import os, sys, warnings, importlib, pkgutil
import torch, pytorch_lightning, torchmetrics, torchvision, hydra, omegaconf, wandb, matplotlib.pyplot, sklearn
import pytorch_lightning.loggers, torch.utils.tensorboard, skimage, rich
env, filters, mask = dict(os.environ), list(warnings.filters), os.umask(0o22)
os.umask(mask)
import convlab
for m in pkgutil.walk_packages(convlab.__path__, "convlab."):
    importlib.import_module(m.name)
changed = sorted(k for k in set(env) | set(os.environ) if env.get(k) != os.environ.get(k))
now = os.umask(mask)
print(changed, len(warnings.filters) - len(filters), now == mask)
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[] 0 True"


def test_every_package_opens_with_a_one_line_docstring() -> None:
    for info in pkgutil.walk_packages(convlab.__path__, "convlab."):
        if info.ispkg:
            doc = importlib.import_module(info.name).__doc__ or ""
            assert doc.strip() and len(doc.strip().splitlines()[0]) <= 120, info.name


def test_nothing_loose_at_the_top_but_errors_and_file_writes() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert loose == ["__init__.py", "errors.py", "fileio.py"]


def test_the_entry_points_import_no_torch_before_the_precheck() -> None:
    """Bad input is refused in about a second: the pre-check must not wait for torch to load."""
    probe = "import sys, convlab.cli.train, convlab.cli.eval; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
