"""Place the states of an ASL graph on a plane, top to bottom, like the Step Functions console.

Layered layout: each state sits one row below the lowest state that leads to it (loops back
up are ignored for layering), states of a row keep the definition's reading order (the main
path left of Catch targets). Parallel branches and Map processors are laid out recursively
inside their state's box, side by side. Pure data: ``facepipe.console.svg`` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from facepipe.graph.model import Edge, StateGraph

NODE_HEIGHT = 52
ROW_GAP = 46
COLUMN_GAP = 28
MARGIN = 16
CONTAINER_HEADER = 30
CHAR_WIDTH = 7.5  # an average glyph of the console's 13 px sans-serif


@dataclass
class PlacedState:
    name: str
    x: float
    y: float
    width: float
    height: float
    branches: list[GraphLayout] = field(default_factory=list)

    @property
    def centre_x(self) -> float:
        return self.x + self.width / 2

    @property
    def bottom(self) -> float:
        return self.y + self.height


@dataclass
class GraphLayout:
    """Positions of one (sub-)graph's states, in that graph's own coordinates."""

    graph: StateGraph
    states: dict[str, PlacedState]
    width: float
    height: float
    x: float = 0.0  # offset inside the enclosing state, for branches
    y: float = 0.0


def _forward_edges(graph: StateGraph) -> list[Edge]:
    """Edges without the ones that loop back to a state already on the walk (DFS back edges)."""
    back: set[Edge] = set()
    done: set[str] = set()

    def visit(name: str, on_path: set[str]) -> None:
        done.add(name)
        on_path.add(name)
        for edge in graph.successors(name):
            if edge.target in on_path:
                back.add(edge)
            elif edge.target not in done and edge.target in graph.nodes:
                visit(edge.target, on_path)
        on_path.discard(name)

    for name in graph.walk_order():
        if name not in done:
            visit(name, set())
    return [e for e in graph.edges if e not in back and e.target in graph.nodes]


def assign_rows(graph: StateGraph) -> dict[str, int]:
    """Row of each state: the longest forward path from a state nothing leads to."""
    edges = _forward_edges(graph)
    row = dict.fromkeys(graph.nodes, 0)
    # Longest path by repeated relaxation: the forward edges form a DAG, so |V| rounds suffice.
    for _ in range(len(graph.nodes)):
        changed = False
        for edge in edges:
            if row[edge.target] < row[edge.source] + 1:
                row[edge.target] = row[edge.source] + 1
                changed = True
        if not changed:
            break
    return row


def _state_size(graph: StateGraph, name: str) -> tuple[float, float, list[GraphLayout]]:
    node = graph.nodes[name]
    label_width = max(len(name), len(node.type) + 12) * CHAR_WIDTH + 32
    if not node.branches:
        return max(label_width, 132.0), float(NODE_HEIGHT), []
    branches = [layout_graph(branch) for branch in node.branches]
    x = float(MARGIN)
    for branch in branches:
        branch.x, branch.y = x, float(CONTAINER_HEADER)
        x += branch.width + COLUMN_GAP
    width = max(x - COLUMN_GAP + MARGIN, label_width)
    height = CONTAINER_HEADER + max(b.height for b in branches) + MARGIN / 2
    return width, height, branches


def layout_graph(graph: StateGraph) -> GraphLayout:
    rows = assign_rows(graph)
    order = graph.walk_order()
    by_row: dict[int, list[str]] = {}
    for name in order:
        by_row.setdefault(rows[name], []).append(name)
    sizes = {name: _state_size(graph, name) for name in graph.nodes}
    row_widths = {
        r: sum(sizes[n][0] for n in names) + COLUMN_GAP * (len(names) - 1)
        for r, names in by_row.items()
    }
    width = max(row_widths.values(), default=0.0) + 2 * MARGIN
    states: dict[str, PlacedState] = {}
    y = float(MARGIN)
    for r in sorted(by_row):
        x = (width - row_widths[r]) / 2  # centre each row, as the AWS console does
        row_height = max(sizes[n][1] for n in by_row[r])
        for name in by_row[r]:
            w, h, branches = sizes[name]
            states[name] = PlacedState(name, x, y, w, h, branches)
            x += w + COLUMN_GAP
        y += row_height + ROW_GAP
    height = y - ROW_GAP + MARGIN if by_row else 2.0 * MARGIN
    return GraphLayout(graph=graph, states=states, width=width, height=height)
