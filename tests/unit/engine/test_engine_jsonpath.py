"""JSONPath with Step Functions' (Jayway) semantics."""

from __future__ import annotations

import pytest

from facepipe.engine import jsonpath

DOC = {
    "a": {"b": [10, 20, 30], "c": {"d": "deep"}},
    "users": [{"name": "x", "status": 0}, {"name": "y", "status": 1}, {"name": "z"}],
    "odd key": 1,
    'q"uote': 2,
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DOC),
        ("$.a.c.d", "deep"),
        ("$.a.b[1]", 20),
        ("$.a.b[-1]", 30),
        ("$['odd key']", 1),
        ('$["odd key"]', 1),
        ("$['q\"uote']", 2),
        ("$.a['c']['d']", "deep"),
    ],
)
def test_definite_paths_select_one_value(path, expected):
    parsed = jsonpath.parse(path)
    assert parsed.definite
    assert parsed.select(DOC) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.a.b[*]", [10, 20, 30]),
        ("$.a.b[1:]", [20, 30]),
        ("$.a.b[:2]", [10, 20]),
        ("$.a.b[0,2]", [10, 30]),
        ("$.users[*].name", ["x", "y", "z"]),
        ("$.users[?(@.status == 0)].name", ["x"]),
        ("$.users[?(@.status > 0)].name", ["y"]),
        ("$.users[?(@.status)].name", ["x", "y"]),
        ("$.users[?(@.name == 'y' || @.name == 'z')].name", ["y", "z"]),
        ("$.users[?(@.status >= 0 && @.name != 'x')].name", ["y"]),
        ("$..d", ["deep"]),
        ("$.missing[*]", []),
        ("$.missing[1:3].x", []),
    ],
)
def test_indefinite_paths_select_a_list(path, expected):
    parsed = jsonpath.parse(path)
    assert not parsed.definite
    assert parsed.select(DOC) == expected


def test_missing_definite_path_raises_with_normalized_form():
    with pytest.raises(jsonpath.PathNotFound) as missing:
        jsonpath.parse("$.a.nope[0]").select(DOC)
    assert missing.value.normalized == "$['a']['nope'][0]"


def test_index_out_of_range_is_missing():
    with pytest.raises(jsonpath.PathNotFound):
        jsonpath.parse("$.a.b[3]").select(DOC)


def test_roots_are_told_apart():
    assert jsonpath.parse("$$.Execution.Id").root == "$$"
    assert jsonpath.parse("$myVar.x").root == "myVar"
    assert jsonpath.parse("$.x").root == "$"


@pytest.mark.parametrize("bad", ["", "a.b", "$.a[", "$.a[x]", "$.a..", "$[?(@.a ==)]"])
def test_syntax_errors_are_reported(bad):
    with pytest.raises(jsonpath.PathSyntaxError):
        jsonpath.parse(bad)


def test_backslash_in_quoted_name_is_literal_unless_escaping_the_quote():
    document = {'Test\\""Name"': "v"}
    assert jsonpath.parse('$[\'Test\\""Name"\']').select(document) == "v"


def test_assign_creates_objects_and_leaves_input_untouched():
    original = {"a": {"keep": 1}}
    updated = jsonpath.assign(original, jsonpath.parse("$.a.b.c"), 5)
    assert updated == {"a": {"keep": 1, "b": {"c": 5}}}
    assert original == {"a": {"keep": 1}}


def test_assign_at_root_replaces_the_document():
    assert jsonpath.assign({"a": 1}, jsonpath.parse("$"), [1]) == [1]


def test_assign_into_a_non_object_is_refused():
    with pytest.raises(TypeError):
        jsonpath.assign([1, 2], jsonpath.parse("$.x"), 1)
