"""House rules, checked on the source tree (docs/architecture.md, the developer guide).

* at most one import circle, the natural authoring one inside ``core/authoring``
  (every import counts: module-level, inside functions, under ``TYPE_CHECKING``);
* no module over 450 lines;
* at most 3 loose modules directly in ``core/`` (``__init__.py`` counts);
* no product module named like a test module, no product function named ``test_*``.

The layering between the floors is checked by import-linter (``make lint``).
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "windvane"
MAX_LINES = 450
MAX_LOOSE_CORE_MODULES = 3
NATURAL_CIRCLE_HOME = "windvane.core.authoring"

#: Breaches that other parts of issue 8 are removing right now. THIS LIST MUST SHRINK TO EMPTY:
#: the test fails on any breach not listed here, and on a listed one that is gone (delete it then).
#: An import circle is listed by its modules; a smaller circle among them is still allowed.
KNOWN_BREACHES: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool

    @property
    def package(self) -> str:
        return self.name if self.is_package else self.name.rpartition(".")[0]


@cache
def modules() -> dict[str, Module]:
    found = {}
    for path in sorted((SRC / ROOT).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        found[name] = Module(name, path, is_package)
    return found


@cache
def tree(name: str) -> ast.Module:
    module = modules()[name]
    return ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))


def _known_module(name: str) -> str | None:
    """``name`` or its nearest parent that is a module of ours (``pkg.func`` -> ``pkg``)."""
    while name and name not in modules():
        name = name.rpartition(".")[0]
    return name or None


def imported_by(name: str) -> set[str]:
    """Our modules that ``name`` imports anywhere in its body."""
    module = modules()[name]
    targets: set[str | None] = set()
    for node in ast.walk(tree(name)):
        if isinstance(node, ast.Import):
            targets.update(_known_module(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.package.split(".")[: len(module.package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                targets.add(submodule if submodule in modules() else _known_module(source))
    return {target for target in targets if target is not None and target != name}


@cache
def import_graph() -> dict[str, frozenset[str]]:
    return {name: frozenset(imported_by(name)) for name in modules()}


def circles(graph: dict[str, frozenset[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def shortest_cycle(graph: dict[str, frozenset[str]], members: frozenset[str], start: str) -> list[str]:
    """The shortest path ``start -> ... -> start`` inside ``members``."""
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(graph[node] & members):
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [start, *reversed(path[:-1]), start] if node != start else [start, start]
            if child not in previous:
                previous[child] = node
                queue.append(child)
    raise AssertionError(f"{start} is not on a cycle")


def describe_circle(graph: dict[str, frozenset[str]], members: frozenset[str]) -> str:
    """Every module of the circle on at least one readable cycle: ``a -> b -> a``."""
    lines, covered = [], set()
    for member in sorted(members):
        if member not in covered:
            cycle = shortest_cycle(graph, members, member)
            covered.update(cycle)
            lines.append("    " + " -> ".join(cycle))
    return f"import circle of {len(members)} modules:\n" + "\n".join(lines)


def known(rule: str) -> set[str]:
    return {subject for kind, subject in KNOWN_BREACHES if kind == rule}


def check_rule(rule: str, found: dict[str, str]) -> None:
    """``found``: subject -> explanation of each breach of ``rule``; only KNOWN_BREACHES may remain."""
    allowed = known(rule)
    new = [found[subject] for subject in sorted(found) if subject not in allowed]
    gone = sorted(allowed - set(found))
    assert not new, f"house rule broken ({rule}):\n" + "\n".join(new)
    assert not gone, f"no longer broken ({rule}), delete from KNOWN_BREACHES: {gone}"


def test_the_graph_sees_every_kind_of_import() -> None:
    graph = import_graph()
    assert "windvane.core.model.workload" in graph["windvane.core.executors.base"]  # module level
    assert "windvane.core.executors.local" in graph["windvane.core.executors.registry"]  # in a function
    assert "windvane.core.scheduler.db" in graph["windvane.core.scheduler.model"]  # TYPE_CHECKING
    assert (
        "windvane.core.scheduler.db" in graph["windvane.core.scheduler.polling"]
    )  # from package import module


def test_circles_are_found_and_printed_readably() -> None:
    graph = {
        "a": frozenset({"b"}),
        "b": frozenset({"c", "a"}),
        "c": frozenset({"a"}),
        "d": frozenset({"a", "e"}),
        "e": frozenset({"d"}),
        "f": frozenset(),
    }
    found = circles(graph)
    assert sorted(map(sorted, found)) == [["a", "b", "c"], ["d", "e"]]
    assert describe_circle(graph, frozenset({"a", "b", "c"})) == (
        "import circle of 3 modules:\n    a -> b -> a\n    c -> a -> b -> c"
    )


def test_at_most_one_import_circle_the_natural_authoring_one() -> None:
    graph = import_graph()
    natural = [c for c in circles(graph) if all(m.startswith(NATURAL_CIRCLE_HOME + ".") for m in c)]
    assert len(natural) <= 1, "\n".join(describe_circle(graph, c) for c in natural)
    allowed = [frozenset(subject.split(", ")) for subject in known("import circle")]
    found = {}
    for circle in circles(graph):
        if circle in natural:
            continue
        subject = next((", ".join(sorted(a)) for a in allowed if circle <= a), ", ".join(sorted(circle)))
        found[subject] = describe_circle(graph, circle)
    check_rule("import circle", found)


def test_no_module_over_450_lines() -> None:
    lengths = {name: len(m.path.read_text(encoding="utf-8").splitlines()) for name, m in modules().items()}
    check_rule(
        "over 450 lines",
        {name: f"{name}: {n} lines (at most {MAX_LINES})" for name, n in lengths.items() if n > MAX_LINES},
    )


def test_at_most_three_loose_modules_in_core() -> None:
    loose = sorted(path.name for path in (SRC / ROOT / "core").glob("*.py"))
    assert len(loose) <= MAX_LOOSE_CORE_MODULES, f"loose modules in core/: {loose}; move them to a floor"


def test_no_product_module_is_named_like_a_test() -> None:
    check_rule(
        "named like a test module",
        {
            name: f"{m.path.relative_to(SRC)}: pytest would collect it"
            for name, m in modules().items()
            if m.path.name.startswith("test_") or m.path.name.endswith("_test.py")
        },
    )


def test_no_product_function_is_named_test() -> None:
    """pytest would collect such a function wherever it is imported. The one exception is a
    *contract*: a class named ``*Contract`` whose ``test_*`` methods a test module inherits on
    purpose (pytest does not collect the class itself, its name does not start with ``Test``)."""
    found = {}
    for name, m in modules().items():
        module_tree = tree(name)
        contract_methods = {
            id(item)
            for node in ast.walk(module_tree)
            if isinstance(node, ast.ClassDef) and node.name.endswith("Contract")
            for item in node.body
        }
        for node in ast.walk(module_tree):
            if (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                and node.name.startswith("test_")
                and id(node) not in contract_methods
            ):
                found[f"{name}.{node.name}"] = f"{m.path.relative_to(SRC)}:{node.lineno}: {node.name}"
    check_rule("product function named test_*", found)
