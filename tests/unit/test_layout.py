"""The package's shape: packages only import the ones below them and no module imports in a circle (imports
inside functions included), nothing done on import, every package says in one line what it holds."""

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
# The house, top to bottom (ARCHITECTURE.md): a package imports from its own layer or the ones below, never above.
LAYERS = (
    ("cli", "__main__"),  # python -m convlab: the command line's front door (convlab.cli.commands)
    ("run",),
    ("tasks", "trackers", "report", "viz", "sweeps", "checkpoints"),
    ("data", "models"),
    ("config", "errors", "fileio", "runfiles"),
)


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


def _type_checking_only(tree: ast.AST) -> set[int]:
    """The ids of the nodes under ``if TYPE_CHECKING:``: annotations only, nothing imported at run time."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            skipped |= {id(inner) for statement in node.body for inner in ast.walk(statement)}
    return skipped


def package_imports() -> dict[str, dict[str, str]]:
    """convlab package -> {package it imports: one module line that does it}, every import counted (inside
    functions too) except those under ``if TYPE_CHECKING:``. errors.py and fileio.py count as packages."""
    found: dict[str, dict[str, str]] = {}
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        package = name.split(".")[1] if "." in name else ""
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _type_checking_only(tree)
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                assert node.level == 0, f"{name}: relative import"  # the graph reads absolute imports only
                targets = [node.module]
            else:
                continue
            for target in targets:
                parts = target.split(".")
                if parts[0] == "convlab" and len(parts) > 1 and parts[1] != package:
                    found.setdefault(package, {}).setdefault(parts[1], f"{name} line {node.lineno}")
    return found


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


def test_packages_only_import_their_own_layer_or_the_ones_below() -> None:
    imports = package_imports()
    layer = {package: depth for depth, packages in enumerate(LAYERS) for package in packages}
    on_disk = {module_name(p).split(".")[1] for p in PACKAGE.rglob("*.py") if module_name(p) != "convlab"}
    assert on_disk == set(layer), "a package missing from LAYERS, or a layer naming no package"
    assert "" not in imports, "convlab/__init__.py imports nothing: importing any package must not load the rest"
    upward = [
        f"{package} -> {target} ({where})"
        for package, targets in imports.items()
        for target, where in targets.items()
        if layer[target] < layer[package]
    ]
    assert not upward, "\n".join(upward)
    assert imports["cli"].keys() >= {"run", "report"} and "runfiles" in imports["report"]  # the graph is read


def test_no_package_level_import_cycles_of_any_length() -> None:
    graph = {package: set(targets) for package, targets in package_imports().items()}
    graph |= {t: graph.get(t, set()) for targets in list(graph.values()) for t in targets}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_layer_check_sees_imports_inside_functions_but_not_type_checking_ones() -> None:
    source = """
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from convlab.cli.job import run_job
def f():
    from convlab.run.train import train
"""
    tree = ast.parse(source)
    skipped = _type_checking_only(tree)
    seen = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and id(n) not in skipped]
    assert seen == ["typing", "convlab.run.train"]


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
    assert loose == ["__init__.py", "__main__.py", "errors.py", "fileio.py"]  # __main__: python -m convlab


def test_the_entry_points_import_no_torch_before_the_precheck() -> None:
    """Bad input is refused in about a second: the pre-check must not wait for torch to load."""
    probe = "import sys, convlab.cli.train, convlab.cli.eval; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
