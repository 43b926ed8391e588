"""The execution graph: states and transitions from an ASL definition, coloured by a history.

Shared by the terminal view (``facepipe show``/``run``) and the web console. It reads only
the ASL JSON and GetExecutionHistory-shaped events, so a real AWS execution's history draws
the same way as a local one.
"""

from facepipe.graph.history import StateRun, StateStatus, billed_transitions, summarize_history
from facepipe.graph.model import Edge, EdgeKind, StateGraph, StateNode, build_graph

__all__ = [
    "Edge",
    "EdgeKind",
    "StateGraph",
    "StateNode",
    "StateRun",
    "StateStatus",
    "billed_transitions",
    "build_graph",
    "summarize_history",
]
