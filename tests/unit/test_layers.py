"""bench/'s packages in layers: each imports only packages below it, lazy imports and
annotation-only ones included. The graph is read from the source, so it cannot creep back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

# Bottom to top. A package may import the packages before it in this order, and itself.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("config", "errors", "progress"),  # ground
    ("model",),  # the vocabulary: Sample, series key, TrialRecord, Resources, registry, units
    ("host", "guest", "definitions", "analysis"),
    ("images", "net", "probes", "rundir"),
    ("platforms",),  # the drivers
    ("operations",),  # doctor, clean, the accelerator choice
    ("run",),  # the executor
    ("report", "exports", "history"),  # the readers
    ("cli", "__main__"),
)
ORDER = [name for layer in LAYERS for name in layer]
# The readers read run directories and the history; they never drive an instance.
READERS_NEVER = {"report", "exports", "history"}, {"run", "platforms", "operations"}


def unit_of(path: Path) -> str:
    """The package (or top-level module) a source file belongs to."""
    parts = path.relative_to(BENCH).with_suffix("").parts
    return parts[0]


def module_of(path: Path) -> list[str]:
    parts = list(("bench",) + path.relative_to(BENCH).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def imported(path: Path) -> set[str]:
    """Every bench unit the file imports, at any depth of the code (functions, TYPE_CHECKING)."""
    found: set[str] = set()
    package = module_of(path) if path.name == "__init__.py" else module_of(path)[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                names = [".".join(base + ([node.module] if node.module else []))]
                if not node.module:
                    names = [".".join(base + [alias.name]) for alias in node.names]
            elif node.module:
                names = [node.module]
                if node.module == "bench":
                    names = [f"bench.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "bench" and len(parts) > 1:
                found.add(parts[1])
    return found


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in sorted(BENCH.rglob("*.py")):
        unit = unit_of(path)
        edges.setdefault(unit, set()).update(imported(path) - {unit})
    return edges


def against_the_order(edges: dict[str, set[str]]) -> list[str]:
    wrong = []
    for unit, targets in sorted(edges.items()):
        for target in sorted(targets):
            if target not in ORDER or unit not in ORDER or ORDER.index(target) > ORDER.index(unit):
                wrong.append(f"bench.{unit} imports bench.{target}")
    return wrong


def test_every_package_has_a_place_in_the_layers() -> None:
    assert sorted(set(graph()) - {"__init__"}) == sorted(set(ORDER))


def test_no_package_imports_against_the_order() -> None:
    assert against_the_order(graph()) == []


def test_the_readers_never_drive_an_instance() -> None:
    readers, forbidden = READERS_NEVER
    edges = graph()
    assert {f"{r} -> {t}" for r in readers for t in edges[r] & forbidden} == set()


@pytest.mark.parametrize("source, expected", [
    ("from bench.run.trial import run_trial\n", "bench.model imports bench.run"),
    ("def later():\n    from bench.cli import main\n", "bench.model imports bench.cli"),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bench.platforms.base import Driver\n",
     "bench.model imports bench.platforms"),
    ("from bench import report\n", "bench.model imports bench.report"),
    ("from ..history import store\n", "bench.model imports bench.history"),
])
def test_the_check_catches_an_upward_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str,
                                             expected: str) -> None:
    fake = tmp_path / "bench"
    (fake / "model").mkdir(parents=True)
    (fake / "model" / "upward.py").write_text(source)
    monkeypatch.setitem(globals(), "BENCH", fake)
    assert against_the_order(graph()) == [expected]


def test_no_module_compares_a_workload_kind_by_name() -> None:
    """Workload kinds are declared once (definitions/kinds.py); every decision reads their traits."""
    from bench.definitions.kinds import KINDS

    found = []
    for path in BENCH.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            names = {s.value for s in sides if isinstance(s, ast.Constant) and isinstance(s.value, str)}
            names |= {e.value for s in sides if isinstance(s, (ast.Tuple, ast.List, ast.Set))
                      for e in s.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
            by_kind = any(isinstance(s, ast.Attribute) and s.attr == "kind" for s in sides)
            if by_kind and names & set(KINDS):
                found.append(f"{path.relative_to(BENCH)}:{node.lineno}")
    assert found == []
