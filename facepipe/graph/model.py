"""States as nodes and transitions as edges, read from an ASL definition."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class EdgeKind(StrEnum):
    NEXT = "next"
    CHOICE = "choice"
    DEFAULT = "default"
    CATCH = "catch"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: EdgeKind
    label: str = ""


@dataclass
class StateNode:
    name: str
    type: str
    comment: str = ""
    end: bool = False
    retries: list[list[str]] = field(default_factory=list)  # ErrorEquals of each Retry rule
    branches: list[StateGraph] = field(default_factory=list)  # Parallel branches / Map processor


@dataclass
class StateGraph:
    start_at: str
    nodes: dict[str, StateNode]
    edges: list[Edge]

    def successors(self, name: str) -> list[Edge]:
        return [edge for edge in self.edges if edge.source == name]

    def walk_order(self) -> list[str]:
        """States in reading order: depth-first from StartAt, main path before Catch targets."""
        order: list[str] = []
        pending = [self.start_at]
        while pending:
            name = pending.pop()
            if name in order or name not in self.nodes:
                continue
            order.append(name)
            ranked = sorted(self.successors(name), key=lambda e: e.kind == EdgeKind.CATCH)
            pending.extend(edge.target for edge in reversed(ranked))
        order.extend(name for name in self.nodes if name not in order)
        return order


def _choice_label(rule: dict[str, Any]) -> str:
    """A short human label for a Choice rule, e.g. ``$.detection.faceCount > 0``."""
    operators = {
        "NumericGreaterThan": ">",
        "NumericGreaterThanEquals": ">=",
        "NumericLessThan": "<",
        "NumericLessThanEquals": "<=",
        "NumericEquals": "==",
        "StringEquals": "==",
        "BooleanEquals": "==",
    }
    for key, value in rule.items():
        if key in operators:
            return f"{rule.get('Variable', '')} {operators[key]} {value}"
        if key in ("And", "Or"):
            return f" {key.lower()} ".join(_choice_label(sub) for sub in value)
        if key == "Not":
            return f"not ({_choice_label(value)})"
        if key == "Condition":  # JSONata Choice rules: the expression without its {% %}
            text = str(value).strip()
            if text.startswith("{%") and text.endswith("%}"):
                text = text[2:-2].strip()
            return text
        if key.startswith("Is"):  # IsPresent, IsNull, IsString, ...: a type or presence test
            verb = "is" if value else "is not"
            return f"{rule.get('Variable', '')} {verb} {key[2:].lower()}"
    return next((f"{key} {value}" for key, value in rule.items() if key not in ("Next",)), "")


def build_graph(definition: dict[str, Any]) -> StateGraph:
    """Build the graph of one ASL state machine (nested branches become sub-graphs)."""
    nodes: dict[str, StateNode] = {}
    edges: list[Edge] = []
    for name, state in definition.get("States", {}).items():
        node = StateNode(
            name=name,
            type=state.get("Type", "?"),
            comment=state.get("Comment", ""),
            end=bool(state.get("End")) or state.get("Type") in ("Succeed", "Fail"),
            retries=[list(rule.get("ErrorEquals", [])) for rule in state.get("Retry", [])],
        )
        for branch in state.get("Branches", []):
            node.branches.append(build_graph(branch))
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            node.branches.append(build_graph(processor))
        nodes[name] = node
        if "Next" in state:
            edges.append(Edge(name, state["Next"], EdgeKind.NEXT))
        for rule in state.get("Choices", []):
            edges.append(Edge(name, rule["Next"], EdgeKind.CHOICE, _choice_label(rule)))
        if "Default" in state:
            edges.append(Edge(name, state["Default"], EdgeKind.DEFAULT, "default"))
        for catcher in state.get("Catch", []):
            label = ", ".join(catcher.get("ErrorEquals", []))
            edges.append(Edge(name, catcher["Next"], EdgeKind.CATCH, label))
    return StateGraph(start_at=definition.get("StartAt", ""), nodes=nodes, edges=edges)
