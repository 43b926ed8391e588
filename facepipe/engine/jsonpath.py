"""JSONPath as Step Functions evaluates it (Jayway semantics), stdlib only.

A *definite* path (names and single indexes only) selects one value and fails when it is
missing; an *indefinite* path (wildcards, slices, unions, filters, deep scan) selects a list of
matches, empty when nothing matches. Paths are parsed once and cached.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

MISSING: Any = object()


class PathSyntaxError(ValueError):
    """The text is not a JSONPath Step Functions would accept."""


class PathNotFound(LookupError):
    """A definite path selected nothing; carries Jayway's normalized form of the path."""

    def __init__(self, path: str, normalized: str) -> None:
        self.path = path
        self.normalized = normalized
        super().__init__(f"No results for path: {normalized}")


Segment = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class JsonPath:
    text: str
    root: str  # "$", "$$", "@" or a variable name
    segments: tuple[Segment, ...]
    definite: bool

    def select(self, document: Any) -> Any:
        """The selected value (definite) or list of matches (indefinite)."""
        if self.definite:
            current = document
            for segment in self.segments:
                current = _step_definite(current, segment)
                if current is MISSING:
                    raise PathNotFound(self.text, self.normalized())
            return current
        matches = [document]
        for segment in self.segments:
            matches = [found for item in matches for found in _step(item, segment)]
        return matches

    def normalized(self) -> str:
        parts = [self.root if self.root in ("$", "$$", "@") else f"${self.root}"]
        for segment in self.segments:
            kind, arg = segment[0], segment[1] if len(segment) > 1 else None
            parts.append(f"['{arg}']" if kind == "key" else f"[{arg}]")
        return "".join(parts)


def _step_definite(value: Any, segment: Segment) -> Any:
    kind, arg = segment
    if kind == "key":
        return value.get(arg, MISSING) if isinstance(value, dict) else MISSING
    if isinstance(value, list) and -len(value) <= arg < len(value):
        return value[arg]
    return MISSING


def _step(value: Any, segment: Segment) -> Iterator[Any]:
    kind = segment[0]
    if kind in ("key", "index"):
        found = _step_definite(value, segment)
        if found is not MISSING:
            yield found
    elif kind == "keys":
        if isinstance(value, dict):
            yield from (value[k] for k in segment[1] if k in value)
    elif kind == "indexes":
        if isinstance(value, list):
            yield from (value[i] for i in segment[1] if -len(value) <= i < len(value))
    elif kind == "wild":
        yield from _children(value)
    elif kind == "slice":
        if isinstance(value, list):
            yield from value[slice(*segment[1:])]
    elif kind == "filter":
        yield from (child for child in _children(value) if segment[1](child))
    elif kind == "deep":
        yield from _deep(value, segment[1])


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    return list(value) if isinstance(value, list) else []


def _deep(value: Any, name: str | None) -> Iterator[Any]:
    if isinstance(value, dict):
        if name is None:
            yield from value.values()
        elif name in value:
            yield value[name]
    elif isinstance(value, list) and name is None:
        yield from value
    for child in _children(value):
        yield from _deep(child, name)


_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> JsonPath:
    """Parse a JSONPath (`$...`), context path (`$$...`), variable path (`$name...`) or `@...`."""
    if not isinstance(text, str) or not text or text[0] not in "$@":
        raise PathSyntaxError(f"'{text}' is not a JSONPath: it must start with '$'")
    if text.startswith("$$"):
        root, pos = "$$", 2
    elif text[0] == "@":
        root, pos = "@", 1
    elif (match := _VARIABLE.match(text)) is not None:
        root, pos = match.group(1), match.end()
    else:
        root, pos = "$", 1
    segments = tuple(_Parser(text, pos).segments())
    definite = all(s[0] in ("key", "index") for s in segments)
    return JsonPath(text, root, segments, definite)


class _Parser:
    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos

    def fail(self, why: str) -> PathSyntaxError:
        return PathSyntaxError(f"invalid JSONPath '{self.text}': {why} at position {self.pos}")

    def segments(self) -> Iterator[Segment]:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if text.startswith("..", self.pos):
                self.pos += 2
                if self.pos < len(text) and text[self.pos] == "[":
                    yield ("deep", None)
                    continue
                name = self.name()
                yield ("deep", None if name == "*" else name)
            elif char == ".":
                self.pos += 1
                name = self.name()
                yield ("wild",) if name == "*" else ("key", name)
            elif char == "[":
                yield self.bracket()
            else:
                raise self.fail(f"unexpected '{char}'")

    def name(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ".[":
            self.pos += 1
        if self.pos == start:
            raise self.fail("empty name")
        return self.text[start : self.pos]

    def bracket(self) -> Segment:
        text = self.text
        end = _find_bracket_end(text, self.pos)
        if end < 0:
            raise self.fail("unclosed '['")
        inner = text[self.pos + 1 : end].strip()
        self.pos = end + 1
        if inner == "*":
            return ("wild",)
        if inner.startswith("?(") and inner.endswith(")"):
            return ("filter", parse_filter(inner[2:-1], self.text))
        if inner[:1] in ("'", '"'):
            keys = _split_quoted(inner, self.text)
            return ("key", keys[0]) if len(keys) == 1 else ("keys", tuple(keys))
        if ":" in inner:
            try:
                bounds = [int(p) if p.strip() else None for p in inner.split(":")]
            except ValueError:
                raise self.fail(f"bad slice '[{inner}]'") from None
            if len(bounds) > 3:
                raise self.fail(f"bad slice '[{inner}]'")
            return ("slice", *bounds)
        try:
            indexes = [int(p) for p in inner.split(",")]
        except ValueError:
            raise self.fail(f"bad index '[{inner}]'") from None
        return ("index", indexes[0]) if len(indexes) == 1 else ("indexes", tuple(indexes))


def _find_bracket_end(text: str, start: int) -> int:
    depth, quote, pos = 0, "", start
    while pos < len(text):
        char = text[pos]
        if quote:
            if char == "\\":
                pos += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
            if depth == 0:
                return pos
        pos += 1
    return -1


def _split_quoted(inner: str, path: str) -> list[str]:
    keys: list[str] = []
    pos = 0
    while pos < len(inner):
        quote = inner[pos]
        if quote not in "'\"":
            raise PathSyntaxError(f"invalid JSONPath '{path}': expected a quoted name")
        pos += 1
        chars: list[str] = []
        while pos < len(inner) and inner[pos] != quote:
            # Only the quote itself and a backslash are escapable; any other backslash is
            # kept as written, as Jayway does.
            if inner[pos] == "\\" and pos + 1 < len(inner) and inner[pos + 1] in (quote, "\\"):
                pos += 1
            chars.append(inner[pos])
            pos += 1
        if pos >= len(inner):
            raise PathSyntaxError(f"invalid JSONPath '{path}': unclosed quote")
        keys.append("".join(chars))
        pos += 1
        while pos < len(inner) and inner[pos] in " ,":
            pos += 1
    return keys


# --- filter expressions: [?(@.a == 1 && @.b)] -------------------------------------------

_FILTER_TOKEN = re.compile(
    r"\s*(?:(?P<op>==|!=|<=|>=|=~|<|>|&&|\|\||!|\(|\))"
    r"|(?P<str>'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\")"
    r"|(?P<regex>/(?:\\.|[^/\\])*/[a-z]*)"
    r"|(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<word>true|false|null)"
    r"|(?P<path>[@$](?:\.\.?[^\s.=!<>&|()\[\]]+|\[[^\]]*\])*))"
)

Predicate = Callable[[Any], bool]


def parse_filter(expression: str, path: str) -> Predicate:
    tokens: list[tuple[str, str]] = []
    pos = 0
    expression = expression.rstrip()
    while pos < len(expression):
        match = _FILTER_TOKEN.match(expression, pos)
        if match is None or match.end() == pos:
            raise PathSyntaxError(f"invalid filter in JSONPath '{path}': '{expression}'")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    parser = _FilterParser(tokens, path)
    predicate = parser.disjunction()
    if parser.pos != len(tokens):
        raise PathSyntaxError(f"invalid filter in JSONPath '{path}': '{expression}'")
    return predicate


class _FilterParser:
    def __init__(self, tokens: list[tuple[str, str]], path: str) -> None:
        self.tokens = tokens
        self.pos = 0
        self.path = path

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise PathSyntaxError(f"incomplete filter in JSONPath '{self.path}'")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.peek() == "||":
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else lambda item: any(p(item) for p in parts)

    def conjunction(self) -> Predicate:
        parts = [self.atom()]
        while self.peek() == "&&":
            self.take()
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else lambda item: all(p(item) for p in parts)

    def atom(self) -> Predicate:
        if self.peek() == "(":
            self.take()
            inner = self.disjunction()
            if self.take()[1] != ")":
                raise PathSyntaxError(f"unbalanced filter in JSONPath '{self.path}'")
            return inner
        if self.peek() == "!":
            self.take()
            negated = self.atom()
            return lambda item: not negated(item)
        left = self.operand()
        if self.peek() in ("==", "!=", "<", "<=", ">", ">=", "=~"):
            operator = self.take()[1]
            right = self.operand()
            return lambda item: _compare(operator, left(item), right(item))
        return lambda item: left(item) is not MISSING

    def operand(self) -> Callable[[Any], Any]:
        kind, text = self.take()
        if kind == "path":
            relative = parse(text) if text[0] == "$" or len(text) > 1 else None
            if text == "@":
                return lambda item: item
            assert relative is not None
            return lambda item: _select_or_missing(relative, item)
        if kind == "str":
            value: Any = _unquote(text)
        elif kind == "num":
            value = float(text) if any(c in text for c in ".eE") else int(text)
        elif kind == "word":
            value = {"true": True, "false": False, "null": None}[text]
        elif kind == "regex":
            body, _, flags = text[1:].rpartition("/")
            value = re.compile(body, re.IGNORECASE if "i" in flags else 0)
        else:
            raise PathSyntaxError(f"unexpected '{text}' in filter of JSONPath '{self.path}'")
        return lambda item: value


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _select_or_missing(path: JsonPath, item: Any) -> Any:
    try:
        return path.select(item)
    except PathNotFound:
        return MISSING


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare(operator: str, left: Any, right: Any) -> bool:
    if left is MISSING or right is MISSING:
        return operator == "!="
    if operator == "=~":
        return isinstance(left, str) and bool(right.fullmatch(left))
    comparable = (_is_number(left) and _is_number(right)) or type(left) is type(right)
    if operator == "==":
        return comparable and left == right
    if operator == "!=":
        return not (comparable and left == right)
    if not comparable or not isinstance(left, int | float | str):
        return False
    return {
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }[operator]


# --- writing: ResultPath ------------------------------------------------------------------


def assign(document: Any, path: JsonPath, value: Any) -> Any:
    """Return `document` with `value` placed at the definite `path` (`$` replaces it whole).

    Intermediate objects are created as needed; the input is not mutated (the parts on the
    way down are copied).
    """
    if not path.segments:
        return value
    if not isinstance(document, dict):
        raise TypeError("the state input is not a JSON object")
    root = dict(document)
    current = root
    *walk, last = path.segments
    for kind, key in walk:
        if kind != "key":
            raise TypeError("a ResultPath may only name object fields")
        child = current.get(key)
        child = dict(child) if isinstance(child, dict) else {}
        current[key] = child
        current = child
    if last[0] != "key":
        raise TypeError("a ResultPath may only name object fields")
    current[last[1]] = value
    return root
