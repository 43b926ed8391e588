"""Draw an execution as a tree in the terminal: each state's status, duration and retries.

A chain of ``Next`` transitions stays at one level; Choice branches and Catch routes open a
level each, labelled with their condition. Colour only when the console is a terminal (rich
decides), plain text otherwise.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text
from rich.tree import Tree

from facepipe.graph.history import ExecutionSummary, StateRun, StateStatus
from facepipe.graph.model import EdgeKind, StateGraph

_STYLE = {
    StateStatus.SUCCEEDED: ("✔", "green"),
    StateStatus.FAILED: ("✘", "red"),
    StateStatus.CAUGHT: ("↯", "yellow"),
    StateStatus.RUNNING: ("…", "cyan"),
    StateStatus.NOT_REACHED: ("·", "dim"),
}


def _state_line(graph: StateGraph, run: StateRun, label: str = "") -> Text:
    icon, style = _STYLE[run.status]
    line = Text()
    if label:
        line.append(f"[{label}] ", style="dim")
    line.append(f"{icon} {run.name}", style=style)
    line.append(f" ({graph.nodes[run.name].type})", style="dim")
    if run.duration_ms is not None:
        line.append(f"  {run.duration_ms:.0f} ms")
    if run.retries:
        line.append(f"  retried {run.retries}x", style="yellow")
    if run.error and run.status in (StateStatus.FAILED, StateStatus.CAUGHT):
        line.append(f"  {run.error}", style=style)
    if run.status is StateStatus.NOT_REACHED:
        line.append("  not reached", style="dim")
    return line


def _add_chain(
    tree: Tree,
    graph: StateGraph,
    summary: ExecutionSummary,
    start: str,
    shown: set[str],
    label: str = "",
) -> None:
    name: str | None = start
    while name is not None:
        if name in shown:
            tree.add(Text(f"→ {name}", style="dim"))
            return
        shown.add(name)
        tree.add(_state_line(graph, summary.states[name], label))
        label = ""
        following: str | None = None
        # Catch rules that lead to one state share one branch; Choice rules keep their own.
        branches: dict[tuple[str, str, bool], list[str]] = {}
        for edge in graph.successors(name):
            if edge.kind is EdgeKind.NEXT:
                following = edge.target
                continue
            is_catch = edge.kind is EdgeKind.CATCH
            key = (edge.target, "" if is_catch else edge.label, is_catch)
            branches.setdefault(key, []).append(edge.label)
        for (target, _, is_catch), labels in branches.items():
            heading = ("catch " if is_catch else "") + ", ".join(labels)
            branch = tree.add(Text(heading, style="dim"))
            _add_chain(branch, graph, summary, target, shown)
        name = following


def render_execution(graph: StateGraph, summary: ExecutionSummary, title: str) -> Tree:
    style = {"SUCCEEDED": "green", "FAILED": "red", "RUNNING": "cyan"}.get(summary.status, "red")
    heading = Text(f"{title}  ")
    heading.append(summary.status, style=f"bold {style}")
    if summary.started_at and summary.stopped_at:
        seconds = (summary.stopped_at - summary.started_at).total_seconds()
        heading.append(f"  {seconds:.2f} s")
    if summary.error:
        heading.append(f"  {summary.error}: {summary.cause or ''}"[:200], style=style)
    tree = Tree(heading)
    _add_chain(tree, graph, summary, graph.start_at, set())
    return tree


def print_execution(
    graph: StateGraph, summary: ExecutionSummary, title: str, console: Console | None = None
) -> None:
    (console or Console()).print(render_execution(graph, summary, title))
