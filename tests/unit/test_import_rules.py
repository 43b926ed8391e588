"""The house's dependency rules, read from every module's imports (``ast``, nothing is run).

Every ``import`` counts: at the top of a module, inside a function (a lazy import is still
a dependency) and, except for cycles, under ``TYPE_CHECKING``: an import for annotations
only is never run, so it cannot close a cycle at run time, but it still names what a module
depends on. The rules (README.md, the table of folders): no import cycle among facepipe's
modules; ``facepipe/engine`` imports nothing of
facepipe outside itself; ``lambdas/`` imports nothing of ``facepipe``; ``infra/`` nothing of
the local runtime (``facepipe.local``); ``lambdas/domain`` no boto3 or botocore (nor any
other AWS SDK module: it is the standard library only).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("facepipe", "lambdas", "infra")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            if "__pycache__" not in path.parts:
                found[module_name(path)] = path
    return found


def _type_checking_only(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _nodes(tree: ast.AST, *, run_time_only: bool) -> Iterator[ast.AST]:
    for node in ast.iter_child_nodes(tree):
        if run_time_only and _type_checking_only(node):
            assert isinstance(node, ast.If)
            for other in node.orelse:  # the else branch does run
                yield other
                yield from _nodes(other, run_time_only=True)
            continue
        yield node
        yield from _nodes(node, run_time_only=run_time_only)


def imported_names(path: Path, *, run_time_only: bool = False) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for each import in the file; ``from a import b`` names ``a.b``
    when that is a module of ours, else ``a``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    for node in _nodes(tree, run_time_only=run_time_only):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield node.lineno, submodule if submodule in modules() else base


@cache
def graph(*, run_time_only: bool = True) -> dict[str, set[str]]:
    """Our modules, each with the modules of ours it imports (when it runs, by default; the
    nearest one named: ``a.b.C`` is ``a.b``)."""
    edges: dict[str, set[str]] = {}
    for name, path in modules().items():
        edges[name] = set()
        for _, imported in imported_names(path, run_time_only=run_time_only):
            target = imported
            while target and target not in modules():
                target = target.rpartition(".")[0]
            if target and target != name:
                edges[name].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), and modules
    that import themselves."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def violations(package: str, refused: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    """``file:line imports module`` for each import in ``package`` of a refused module."""
    found = []
    for name, path in modules().items():
        if name != package and not name.startswith(package + "."):
            continue
        for line, imported in imported_names(path):
            hits = any(imported == r or imported.startswith(r + ".") for r in refused)
            excused = any(imported == a or imported.startswith(a + ".") for a in allowed)
            if hits and not excused:
                found.append(f"{path.relative_to(REPO_ROOT)}:{line} imports {imported}")
    return found


def test_every_package_is_read() -> None:
    assert {"facepipe.cli.program", "facepipe.engine", "lambdas.detect.handler"} <= set(modules())
    assert "facepipe.local.runtime" in graph()["facepipe.cli.context"]


def test_no_import_cycle_in_facepipe() -> None:
    edges = {
        name: {target for target in targets if target.startswith("facepipe")}
        for name, targets in graph().items()
        if name.startswith("facepipe")
    }
    assert cycles(edges) == []


def test_no_cycle_outside_the_engine_even_through_annotations() -> None:
    """Outside the engine not even an import for annotations closes a circle: the intake
    names the pipeline it needs by a Protocol of its own (``facepipe.local.intake.Pipeline``)."""
    outside = ("facepipe.", "lambdas.", "infra.")
    edges = {
        name: {target for target in targets if not target.startswith("facepipe.engine")}
        for name, targets in graph(run_time_only=False).items()
        if name.startswith(outside) and not name.startswith("facepipe.engine")
    }
    assert cycles(edges) == []


def test_no_import_cycle_in_lambdas_or_infra() -> None:
    edges = {name: targets for name, targets in graph().items() if not name.startswith("facepipe")}
    assert cycles(edges) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The rule above holds because there is no cycle, not because none could be seen."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(edges) == [["a", "b", "c"]]


def test_the_engine_imports_nothing_of_facepipe_outside_itself() -> None:
    assert violations("facepipe.engine", ("facepipe", "lambdas"), ("facepipe.engine",)) == []


def test_the_lambdas_import_nothing_of_facepipe() -> None:
    assert violations("lambdas", ("facepipe",)) == []


def test_infra_imports_nothing_of_the_local_runtime() -> None:
    assert violations("infra", ("facepipe.local",)) == []


def test_the_lambda_domain_imports_no_aws_sdk() -> None:
    aws = ("boto3", "botocore", "aws_lambda_powertools", "lambdas.aws", "lambdas.runtime")
    assert violations("lambdas.domain", aws) == []


@pytest.mark.parametrize("step", ["detect", "persist", "notify"])
def test_step_logic_does_not_import_its_aws_wiring(step: str) -> None:
    """``step.py`` is what the local runtime imports: no AWS adapter, no boto3."""
    refused = ("boto3", "botocore", "lambdas.aws", f"lambdas.{step}.handler")
    assert violations(f"lambdas.{step}.step", refused) == []


def test_imports_are_read_with_their_place() -> None:
    """The rules read real import statements: a lazy one inside a function, and one under
    TYPE_CHECKING, which counts for every rule but the cycles."""
    lazy = dict(imported_names(REPO_ROOT / "facepipe" / "cli" / "program.py"))
    assert "facepipe.local.runtime" not in lazy.values()
    assert "lambdas.domain.errors" in lazy.values()  # imported inside _known_error_message
    views = REPO_ROOT / "facepipe" / "cli" / "views.py"
    typing_only = {name for _, name in imported_names(views)}
    run_time = {name for _, name in imported_names(views, run_time_only=True)}
    assert "facepipe.cli.results" in typing_only - run_time
