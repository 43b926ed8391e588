"""Draw a laid-out state machine as SVG, each state coloured by what one execution did.

States carry ``data-state`` and a ``status-*`` class (the page's script and style use them);
transitions taken by the execution carry ``taken``. Catch edges are dashed, a state with Retry
rules gets a loop arrow on its right with its retry count. Every name and label is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from facepipe.console.layout import ROW_GAP, GraphLayout, PlacedState, layout_graph
from facepipe.graph.history import ExecutionSummary, StateRun, StateStatus
from facepipe.graph.model import Edge, EdgeKind, StateGraph

LABEL_LIMIT = 40
LANE_GAP = 40  # a Catch lane clears the Retry loops drawn on the states' right

_DEFS = (
    "<defs>"
    '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8"'
    ' markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
    '<path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker>'
    '<marker id="arrow-taken" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9"'
    ' markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
    '<path d="M0,0 L10,5 L0,10 z" class="arrowhead taken"/></marker>'
    "</defs>"
)


def _short(label: str) -> str:
    return label if len(label) <= LABEL_LIMIT else label[: LABEL_LIMIT - 1] + "…"


# A JSONata Condition reads its data as `$states.input.<field>`; the drawing says `<field>`
# (the tooltip keeps the whole expression).
_JSONATA_INPUT = "$states.input."


def _display_label(edge: Edge) -> str:
    """Catch edges name their first error and count the rest (the tooltip lists them all)."""
    if edge.kind is not EdgeKind.CATCH:
        return edge.label.replace(_JSONATA_INPUT, "")
    errors = [e.strip() for e in edge.label.replace("|", ",").split(",") if e.strip()]
    more = f" +{len(errors) - 1}" if len(errors) > 1 else ""
    return f"catch: {errors[0]}{more}" if errors else "catch"


def _merged_edges(graph: StateGraph) -> list[Edge]:
    """One edge per (source, target, kind); several Catch rules to one state share an arrow."""
    merged: dict[tuple[str, str, EdgeKind], Edge] = {}
    for edge in graph.edges:
        key = (edge.source, edge.target, edge.kind)
        if key in merged and edge.label:
            previous = merged[key]
            label = f"{previous.label} | {edge.label}" if previous.label else edge.label
            merged[key] = Edge(edge.source, edge.target, edge.kind, label)
        else:
            merged.setdefault(key, edge)
    return list(merged.values())


def _taken_pairs(summary: ExecutionSummary | None) -> set[tuple[str, str]]:
    if summary is None:
        return set()
    return set(zip(summary.path, summary.path[1:], strict=False))


def _edge_svg(
    edge: Edge, source: PlacedState, target: PlacedState, taken: bool, lane: float | None = None
) -> str:
    classes = f"edge edge-{edge.kind.value}" + (" taken" if taken else "")
    marker = "arrow-taken" if taken else "arrow"
    if target.y > source.y and lane is not None:
        # Past the states of the rows in between: down a lane on their right, into the
        # target from above; the label just below the source, ending at the lane.
        sx, sy, tx, ty = source.x + source.width - 16, source.bottom, target.centre_x, target.y
        top, bottom = sy + ROW_GAP / 2, ty - ROW_GAP / 2
        path = (
            f"M{sx:.1f},{sy:.1f} C{sx:.1f},{top:.1f} {lane:.1f},{sy:.1f} {lane:.1f},{top:.1f}"
            f" L{lane:.1f},{bottom:.1f} C{lane:.1f},{ty:.1f} {tx:.1f},{bottom:.1f}"
            f" {tx:.1f},{ty:.1f}"
        )
        return _edge_group(edge, classes, marker, path, (lane - 6, sy + 16), "end")
    if target.y > source.y:
        # Catch routes leave from the lower right corner, so they do not run down the main path.
        catch = edge.kind is EdgeKind.CATCH
        sx = source.x + source.width - 16 if catch else source.centre_x
        sy, tx, ty = source.bottom, target.centre_x, target.y
        bend = (ty - sy) / 2
        points = ((sx, sy), (sx, sy + bend), (tx, ty - bend), (tx, ty))
    else:  # a loop back up: leave and enter on the left so it does not cross the row
        sx, sy = source.x, source.y + source.height / 2
        tx, ty = target.x, target.y + target.height / 2
        out = min(sx, tx) - 40
        points = ((sx, sy), (out, sy), (out, ty), (tx, ty))
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
    path = f"M{x0:.1f},{y0:.1f} C{x1:.1f},{y1:.1f} {x2:.1f},{y2:.1f} {x3:.1f},{y3:.1f}"
    # Labels sit near the target end, where branches of one Choice have moved apart.
    return _edge_group(edge, classes, marker, path, _bezier_point(points, 0.78), "middle")


def _edge_group(
    edge: Edge, classes: str, marker: str, path: str, at: tuple[float, float], anchor: str
) -> str:
    parts = [
        f'<g class="{classes}" data-source="{escape(edge.source)}"'
        f' data-target="{escape(edge.target)}">',
        f'<path d="{path}" marker-end="url(#{marker})"/>',
    ]
    if edge.label:
        full = f"catch: {edge.label}" if edge.kind is EdgeKind.CATCH else edge.label
        parts.append(
            f'<text class="edge-label" x="{at[0]:.1f}" y="{at[1]:.1f}" text-anchor="{anchor}">'
            f"<title>{escape(full)}</title>{escape(_short(_display_label(edge)))}</text>"
        )
    parts.append("</g>")
    return "".join(parts)


def _catch_lanes(layout: GraphLayout) -> dict[Edge, float]:
    """For each Catch edge that passes states on its way down: a lane right of them all."""
    lanes = {}
    for edge in _merged_edges(layout.graph):
        source, target = layout.states.get(edge.source), layout.states.get(edge.target)
        if edge.kind is not EdgeKind.CATCH or source is None or target is None:
            continue
        between = [
            state.x + state.width
            for state in layout.states.values()
            if state.y >= source.bottom and state.bottom <= target.y
        ]
        if between:
            lanes[edge] = max(between) + LANE_GAP
    return lanes


def _bezier_point(points: tuple[tuple[float, float], ...], t: float) -> tuple[float, float]:
    weights = ((1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3)
    return (
        sum(w * p[0] for w, p in zip(weights, points, strict=True)),
        sum(w * p[1] for w, p in zip(weights, points, strict=True)),
    )


def _detail_line(node_type: str, run: StateRun | None) -> str:
    bits = [node_type]
    if run is not None and run.duration_ms is not None:
        bits.append(f"{run.duration_ms:.0f} ms")
    if run is not None and run.status is StateStatus.NOT_REACHED:
        bits.append("not reached")
    return " · ".join(bits)


def _retry_loop(state: PlacedState, run: StateRun | None) -> str:
    """The Retry policy as a loop on the state's right edge, with how often it fired."""
    x, top, bottom = state.x + state.width, state.y + 12, state.y + state.height - 12
    retries = run.retries if run is not None else 0
    classes = "retry" + (" retried" if retries else "")
    label = f"↻ {retries}x" if retries else "↻"
    return (
        f'<g class="{classes}"><path d="M{x:.1f},{bottom:.1f} C{x + 26:.1f},{bottom:.1f}'
        f' {x + 26:.1f},{top:.1f} {x:.1f},{top:.1f}" marker-end="url(#arrow)"/>'
        f'<text x="{x + 22:.1f}" y="{state.y + state.height / 2 + 4:.1f}">{label}'
        f"<title>Retry: retried {retries} time(s)</title></text></g>"
    )


def _state_svg(
    graph: StateGraph,
    state: PlacedState,
    runs: dict[str, StateRun] | None,
    scope: str,
    note: str | None = None,
) -> str:
    node = graph.nodes[state.name]
    run = runs.get(state.name) if runs is not None else None
    status = run.status.value if run is not None else "inner"
    classes = f"state state-{node.type.lower()} status-{status}"
    attrs = f'class="{classes}" data-state="{escape(state.name)}"'
    if scope == "top":
        attrs += ' tabindex="0" role="button"'
    parts = [
        f"<g {attrs}>",
        f"<title>{escape(state.name)} ({escape(node.type)}): {escape(status)}</title>",
        f'<rect x="{state.x:.1f}" y="{state.y:.1f}" width="{state.width:.1f}"'
        f' height="{state.height:.1f}" rx="8"/>',
        f'<text class="state-name" x="{state.centre_x:.1f}" y="{state.y + 21:.1f}"'
        f' text-anchor="middle">{escape(state.name)}</text>',
        f'<text class="state-detail" x="{state.centre_x:.1f}" y="{state.y + 39:.1f}"'
        f' text-anchor="middle">{escape(_detail_line(node.type, run))}{_note(note)}</text>',
    ]
    if node.retries:
        parts.append(_retry_loop(state, run))
    for branch in state.branches:
        parts.append(
            f'<g class="branch" transform="translate({state.x + branch.x:.1f},'
            f'{state.y + branch.y:.1f})">{_graph_body(branch, None, None, "inner")}</g>'
        )
    parts.append("</g>")
    return "".join(parts)


def _note(note: str | None) -> str:
    """A Map Run's counts on its Map state (escaped like every other string)."""
    if not note:
        return ""
    return f' · <tspan class="map-run-counts">{escape(note)}</tspan>'


def _graph_body(
    layout: GraphLayout,
    summary: ExecutionSummary | None,
    runs: dict[str, StateRun] | None,
    scope: str,
    notes: Mapping[str, str] | None = None,
) -> str:
    taken = _taken_pairs(summary)
    lanes = _catch_lanes(layout)
    edges = [
        _edge_svg(
            e,
            layout.states[e.source],
            layout.states[e.target],
            (e.source, e.target) in taken,
            lanes.get(e),
        )
        for e in _merged_edges(layout.graph)
        if e.source in layout.states and e.target in layout.states
    ]
    notes = notes or {}
    states = [
        _state_svg(layout.graph, s, runs, scope, notes.get(s.name)) for s in layout.states.values()
    ]
    return "".join(edges) + "".join(states)


def render_svg(
    graph: StateGraph,
    summary: ExecutionSummary | None = None,
    notes: Mapping[str, str] | None = None,
) -> str:
    """The whole state machine as one ``<svg>`` element, coloured by ``summary`` if given;
    ``notes`` adds a line to top-level states (a DISTRIBUTED Map's Map Run counts)."""
    layout = layout_graph(graph)
    runs = summary.states if summary is not None else None
    # Room for Retry loops, back edges and Catch lanes (at most LANE_GAP past the states).
    width, height = layout.width + 60, layout.height
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="state-graph" role="img"'
        f' aria-label="state machine graph" viewBox="-30 0 {width:.0f} {height:.0f}"'
        f' width="{width:.0f}" height="{height:.0f}">'
        f"{_DEFS}{_graph_body(layout, summary, runs, 'top', notes)}</svg>"
    )
