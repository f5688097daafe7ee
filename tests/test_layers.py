"""The package's shape: layers only point down, and no module imports another in a circle.

    cli, fastpath, output, __main__      entry points
    review, trackers, alerts, history, comms
                                         capabilities: use the repository, never each other
    repo                                 one repository: IncidentRepo, git, sync, merge
    incident                             one incident file and the policy, no git
    errors, safetext, record, deadline   the base

Every import counts: at the top of a module, inside a function, under TYPE_CHECKING.
A new top-level module or package must be given a layer here, which is the moment to
decide where it belongs (README, "Development").
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "incidentctl"

BASE, INCIDENT, REPO, CAPABILITY, ENTRY = range(5)
LAYER_NAMES = ["base", "incident", "repo", "capability", "entry"]
# The first part of the module's name below `incidentctl.` -> its layer.
LAYERS = {
    "": BASE,  # incidentctl/__init__.py: the version only
    "errors": BASE,
    "safetext": BASE,
    "record": BASE,
    "deadline": BASE,
    "incident": INCIDENT,
    "repo": REPO,
    "review": CAPABILITY,
    "trackers": CAPABILITY,
    "alerts": CAPABILITY,
    "history": CAPABILITY,
    "comms": CAPABILITY,
    "cli": ENTRY,
    "fastpath": ENTRY,
    "output": ENTRY,
    "__main__": ENTRY,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> Iterator[tuple[str, int]]:
    """(incidentctl module imported, line) for every import statement in module `name`."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "incidentctl":
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "incidentctl":
                continue
            for alias in node.names:  # `from . import x`: x may be a module
                sub = f"{target}.{alias.name}"
                yield (sub if sub in MODULES else target), node.lineno


GRAPH = {name: sorted(set(imports_of(name))) for name in MODULES}


def top(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer(name: str) -> int:
    return LAYERS[top(name)]


def test_every_module_has_a_layer() -> None:
    """A new module or package is placed in a layer on purpose, not by accident."""
    missing = sorted({top(name) for name in MODULES} - set(LAYERS))
    assert not missing, f"give these a layer in tests/test_layers.py: {missing}"


def upward_imports(graph: dict[str, list[tuple[str, int]]]) -> list[str]:
    """Imports that point up, or sideways between capabilities (or at nothing)."""
    wrong = []
    for name, imported in graph.items():
        for target, line in imported:
            if target not in graph:
                wrong.append(f"{name}:{line} imports {target}, which does not exist")
                continue
            here, there = layer(name), layer(target)
            same_package = top(name) == top(target) and top(name) != ""
            if there < here or same_package or (here == there == ENTRY):
                continue
            wrong.append(
                f"{name}:{line} ({LAYER_NAMES[here]}) imports {target} ({LAYER_NAMES[there]})"
            )
    return wrong


def circles(graph: dict[str, list[tuple[str, int]]]) -> list[list[str]]:
    """The groups of modules that reach themselves through their imports (Tarjan)."""
    edges = {name: {t for t, _ in imported if t in graph} for name, imported in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges[node]:
                found.append(sorted(component))

    for name in sorted(edges):
        if name not in index:
            visit(name)
    return found


def test_imports_point_down() -> None:
    """A module imports only from lower layers, or from its own package (entry points may
    use each other); a capability never imports another capability."""
    wrong = upward_imports(GRAPH)
    assert not wrong, "\n".join(wrong)


def test_no_import_circle() -> None:
    """No module reaches itself through its imports (function-level ones included)."""
    found = circles(GRAPH)
    assert not found, "import circles: " + "; ".join(" <-> ".join(c) for c in found)


def test_the_guards_find_an_upward_import_a_sideways_one_and_a_circle() -> None:
    """The checks can fail: the real graph plus three made-up imports is refused."""
    graph = {name: list(imported) for name, imported in GRAPH.items()}
    graph["incidentctl.incident.file"].append(("incidentctl.repo.base", 1))  # up + circle
    graph["incidentctl.review.check"].append(("incidentctl.trackers.http", 2))  # sideways
    wrong = upward_imports(graph)
    assert wrong == [
        "incidentctl.incident.file:1 (incident) imports incidentctl.repo.base (repo)",
        "incidentctl.review.check:2 (capability) imports incidentctl.trackers.http (capability)",
    ]
    [circle] = circles(graph)
    assert {"incidentctl.incident.file", "incidentctl.repo.base"} <= set(circle)


def test_only_the_command_line_imports_click() -> None:
    """The core never prints, prompts or exits through click (STYLE.md)."""
    users = sorted(
        f"{name}:{node.lineno}"
        for name, path in MODULES.items()
        if top(name) != "cli"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if (
            isinstance(node, ast.Import)
            and any(a.name.split(".")[0] == "click" for a in node.names)
        )
        or (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "click")
    )
    assert not users, users


MAX_LINES = 450


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_stays_small(name: str) -> None:
    """No module grows past about 450 lines: a bigger one holds two things (STYLE.md)."""
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it by what it holds"
