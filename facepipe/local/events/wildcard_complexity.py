"""How complex a set of wildcard patterns is, scored the way EventBridge's matcher scores it.

EventBridge matches with aws/event-ruler and refuses a rule whose wildcard patterns score
too high (``MachineComplexityEvaluator``). The score is the largest number of *wildcard rule
prefixes* that one input value can match at the same time: for ``a*b`` and the input ``ab``
both ``a*`` and ``a*b`` match, so the score is 2. Event-ruler builds one byte machine per
field, in which patterns share their states up to their first ``*`` and each wildcard starts
states of its own; a shared state counts once for every pattern that can be reached from it.

This module walks the same machine (as sets of pattern positions) breadth-first over every
byte that can make a difference, and reproduces the numbers of event-ruler's own
``MachineComplexityEvaluatorTest`` (tests/unit/local/test_local_wildcard_complexity.py).
Only ``wildcard`` and ``anything-but`` ``wildcard`` patterns have complexity; prefix, suffix,
exact and the other patterns score 0.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

STAR = -1  # a wildcard position; bytes are 0..255
Position = tuple[int, int]  # (pattern index, number of elements matched)


def parse_wildcard(pattern: str) -> tuple[int, ...]:
    """The pattern as UTF-8 bytes and STARs, with ``\\*`` and ``\\\\`` as literal bytes.

    Raises ValueError with event-ruler's WildcardParser message for ``**`` or a backslash
    before anything but ``*`` or ``\\``.
    """
    data = pattern.encode("utf-8")
    elements: list[int] = []
    i = 0
    while i < len(data):
        byte = data[i]
        if byte == ord("*"):
            if i + 1 < len(data) and data[i + 1] == ord("*"):
                raise ValueError(f"Consecutive wildcard characters at pos {i}")
            elements.append(STAR)
        elif byte == ord("\\"):
            if i + 1 < len(data) and data[i + 1] in (ord("*"), ord("\\")):
                elements.append(data[i + 1])
                i += 2
                continue
            raise ValueError(f"Invalid escape character at pos {i}")
        else:
            elements.append(byte)
        i += 1
    return tuple(elements)


class _Machine:
    def __init__(self, patterns: Iterable[tuple[int, ...]]) -> None:
        self.patterns = sorted(set(patterns))  # a duplicate pattern adds no prefixes
        self.literal_lengths = [_literal_length(p) for p in self.patterns]

    def node(self, position: Position) -> tuple[object, ...]:
        """The machine state a position is in: shared up to the first STAR, else its own."""
        index, matched = position
        if matched <= self.literal_lengths[index]:
            return ("shared", self.patterns[index][:matched])
        return ("own", index, matched)

    def reach(self, node: tuple[object, ...]) -> int:
        """How many wildcard patterns can still be matched from this state."""
        if node[0] == "own":
            return 1
        prefix = node[1]
        assert isinstance(prefix, tuple)
        return sum(
            1
            for pattern, literal in zip(self.patterns, self.literal_lengths, strict=True)
            if literal >= len(prefix) and pattern[: len(prefix)] == prefix
        )

    def closure(self, positions: set[Position]) -> frozenset[Position]:
        """Add the positions a STAR reaches by matching nothing."""
        pending = list(positions)
        while pending:
            index, matched = pending.pop()
            pattern = self.patterns[index]
            if matched < len(pattern) and pattern[matched] == STAR:
                following = (index, matched + 1)
                if following not in positions:
                    positions.add(following)
                    pending.append(following)
        return frozenset(positions)

    def step(self, positions: frozenset[Position], byte: int) -> frozenset[Position]:
        moved: set[Position] = set()
        for index, matched in positions:
            pattern = self.patterns[index]
            if matched and pattern[matched - 1] == STAR:
                moved.add((index, matched))  # the wildcard takes this byte too
            if matched < len(pattern) and pattern[matched] == byte:
                moved.add((index, matched + 1))
        return self.closure(moved)

    def score(self, positions: frozenset[Position]) -> int:
        nodes = {self.node(position) for position in positions if position[1] > 0}
        return sum(self.reach(node) for node in nodes)


def _literal_length(pattern: tuple[int, ...]) -> int:
    return pattern.index(STAR) if STAR in pattern else len(pattern)


def complexity(patterns: Iterable[str], cap: int = 100) -> int:
    """The score of one field's wildcard patterns, at most ``cap`` (event-ruler caps too)."""
    machine = _Machine(parse_wildcard(pattern) for pattern in patterns)
    if not machine.patterns:
        return 0
    used = {element for pattern in machine.patterns for element in pattern if element != STAR}
    # Every byte no pattern names behaves alike: one of them stands for all.
    alphabet = sorted(used) + [b for b in range(256) if b not in used][:1]
    start = machine.closure({(index, 0) for index in range(len(machine.patterns))})
    seen = {start}
    queue = deque([start])
    best = 0
    while queue:
        positions = queue.popleft()
        for byte in alphabet:
            following = machine.step(positions, byte)
            if not following or following in seen:
                continue
            seen.add(following)
            best = max(best, machine.score(following))
            if best >= cap:
                return cap
            queue.append(following)
    return best
