"""ASL intrinsic functions: syntax, every States.* function, and the failures AWS reports."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from facepipe.engine.intrinsics import (
    IntrinsicFailure,
    evaluate_intrinsic,
    intrinsic_paths,
    is_intrinsic,
    validate_intrinsic,
)


def bind(values: dict[str, Any]) -> Callable[[str], Any]:
    """A resolver that knows only the exact paths in `values` (a KeyError otherwise)."""

    def resolve(path: str) -> Any:
        return values[path]

    return resolve


def run(expression: str, values: dict[str, Any] | None = None) -> Any:
    return evaluate_intrinsic(expression, bind(values or {}))


def fails(expression: str, values: dict[str, Any] | None = None, match: str = "") -> str:
    with pytest.raises(IntrinsicFailure, match=match) as caught:
        run(expression, values)
    return str(caught.value)


# --- recognising and parsing ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "States.UUID()",
        "States.Format('{}', $.a)",
        "States.Array ( )",
        "States.Nope(1)",
        "States.Array('unterminated",
    ],
)
def test_calls_are_intrinsics(text: str) -> None:
    assert is_intrinsic(text)


@pytest.mark.parametrize(
    "text", ["$.a", "$$.Execution.Id", "$var", "States.Format", "Format('x')", "xStates.UUID()"]
)
def test_paths_and_plain_text_are_not_intrinsics(text: str) -> None:
    assert not is_intrinsic(text)


def test_literal_arguments_keep_their_json_types() -> None:
    assert run("States.Array('a', 1, -2, 1.5, -0.25, 2e3, true, false, null)") == [
        "a",
        1,
        -2,
        1.5,
        -0.25,
        2000.0,
        True,
        False,
        None,
    ]
    assert isinstance(run("States.Array(1)")[0], int)
    assert isinstance(run("States.Array(1.0)")[0], float)


def test_string_literal_escapes() -> None:
    assert run(r"States.Array('it\'s', '\{x\}', 'back\\slash', 'a,b)c')") == [
        "it's",
        "{x}",
        "back\\slash",
        "a,b)c",
    ]


def test_unescaped_braces_are_plain_text_outside_format() -> None:
    assert run('States.StringToJson(\'{"k": "v"}\')') == {"k": "v"}


def test_paths_are_handed_to_the_resolver_exactly_as_written() -> None:
    seen: list[str] = []

    def resolve(path: str) -> Any:
        seen.append(path)
        return path

    paths = ["$", "$.a.b[0]", "$$.Execution.Id", "$name", "$name.field", "$.abc['def, ghi)']"]
    result = evaluate_intrinsic(f"States.Array({', '.join(paths)})", resolve)
    assert seen == paths
    assert result == paths


def test_intrinsic_paths_lists_every_path_argument_for_definition_checks() -> None:
    expression = "States.Format('{} {}', $.a, States.ArrayGetItem($$.Map.Item.Value, $index))"
    assert intrinsic_paths(expression) == ("$.a", "$$.Map.Item.Value", "$index")
    assert intrinsic_paths("States.UUID()") == ()


def test_resolver_errors_propagate_untouched() -> None:
    class MissingPath(Exception):
        pass

    def resolve(path: str) -> Any:
        raise MissingPath(path)

    with pytest.raises(MissingPath, match=r"\$\.absent"):
        evaluate_intrinsic("States.Format('{}', $.absent)", resolve)


def test_nested_calls_are_evaluated_inside_out() -> None:
    arn = "arn:aws:imagebuilder:eu-west-1:123:image-recipe/my-recipe.v2/1.0.0"
    expression = (
        "States.Format('{}.{}', "
        "States.ArrayGetItem(States.StringSplit(States.ArrayGetItem("
        "States.StringSplit($.Arn, '/'), 1), '.'), 0), "
        "States.ArrayGetItem(States.StringSplit(States.ArrayGetItem("
        "States.StringSplit($.Arn, '/'), 1), '.'), 1))"
    )
    assert run(expression, {"$.Arn": arn}) == "my-recipe.v2"


def test_the_same_expression_is_parsed_once() -> None:
    from facepipe.engine.intrinsics import _parse

    expression = "States.MathAdd($.counter, 1)"
    run(expression, {"$.counter": 1})
    hits_before = _parse.cache_info().hits
    assert run(expression, {"$.counter": 41}) == 42
    assert _parse.cache_info().hits == hits_before + 1


def test_results_do_not_share_data_with_the_input() -> None:
    item = {"faces": [1]}
    result = run("States.Array($.item)", {"$.item": item})
    result[0]["faces"].append(2)
    assert item == {"faces": [1]}


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("States.Array('open", "missing its closing quote"),
        ("States.Array(1, 2", "missing '\\)'"),
        ("States.Array(1,)", "missing argument"),
        ("States.Array(1) trailing", "unexpected"),
        ("States.Array(1 2)", "expected ',' or '\\)'"),
        ("States.Array('a\\nb')", "backslash"),
        ("States.Array(hello)", "an argument must be"),
        ("States.Array($.a[0)", "unterminated bracket"),
        ("States.Nope(1)", "not an intrinsic function"),
        ("States.ArrayLength()", "takes 1 argument but was given 0"),
        ("States.MathAdd(1, 2, 3)", "takes 2 arguments but was given 3"),
        ("States.MathRandom(1)", "takes 2 to 3 arguments"),
        ("States.Format()", "takes at least 1 argument"),
        ("States.UUID(1)", "takes 0 arguments"),
        ("States.Array(States.Oops())", "not an intrinsic function"),
    ],
)
def test_malformed_calls_fail_with_the_reason(expression: str, reason: str) -> None:
    with pytest.raises(IntrinsicFailure, match=reason):
        validate_intrinsic(expression)
    fails(expression, match=reason)


def test_nesting_is_limited_to_ten_levels() -> None:
    def nested(depth: int) -> str:
        return "States.Array(" * depth + ")" * depth

    assert run(nested(10)) is not None
    fails(nested(11), match="nest at most 10")


# --- States.Format ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("", ""),
        ("HelloWorld", "HelloWorld"),
        (None, "null"),
        (True, "true"),
        (1, "1"),
        (1.1, "1.1"),
        ('{"Arg1": 1}', '{"Arg1": 1}'),
        ({"Arg1": 1, "Arg2": []}, "{Arg1=1, Arg2=[]}"),
        (["a", {"b": None}], "[a, {b=null}]"),
    ],
)
def test_format_renders_values_like_aws(value: Any, rendered: str) -> None:
    assert run("States.Format('value={}.', $.v)", {"$.v": value}) == f"value={rendered}."


def test_format_fills_placeholders_in_order() -> None:
    result = run(
        "States.Format('{} has {} faces', $.key, $.count)", {"$.key": "a.jpg", "$.count": 2}
    )
    assert result == "a.jpg has 2 faces"


def test_format_escaped_braces_are_not_placeholders() -> None:
    assert run(r"States.Format('\{}{}\{\}', 'x')") == "{}x{}"


def test_format_template_can_come_from_a_path() -> None:
    assert run("States.Format($.t, 'Arnav')", {"$.t": "Hello, my name is {}."}) == (
        "Hello, my name is Arnav."
    )


def test_format_placeholder_count_must_match() -> None:
    fails("States.Format('{} and {}', 'one')", match="2 '\\{\\}' placeholder\\(s\\) but 1")
    fails("States.Format('none', 'extra')", match="0 '\\{\\}' placeholder")


def test_format_template_must_be_a_string() -> None:
    fails("States.Format($.t)", {"$.t": 5}, match="argument 1 the template must be a string")


# --- JSON -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("null", None),
        ("1", 1),
        ("1.1", 1.1),
        ("true", True),
        ('"HelloWorld"', "HelloWorld"),
        ('[1, 2, "x"]', [1, 2, "x"]),
        ('{"a": {"b": []}}', {"a": {"b": []}}),
        ("", None),
        ("   ", None),
    ],
)
def test_string_to_json(text: str, parsed: Any) -> None:
    assert run("States.StringToJson($.s)", {"$.s": text}) == parsed


def test_string_to_json_rejects_bad_json_and_non_strings() -> None:
    fails("States.StringToJson('{oops')", match="is not valid JSON")
    fails("States.StringToJson($.s)", {"$.s": {"a": 1}}, match="must be a string; got object")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (True, "true"),
        (None, "null"),
        (1.5, "1.5"),
        ("HelloWorld", '"HelloWorld"'),
        ({"Arg1": 1, "Arg2": []}, '{"Arg1":1,"Arg2":[]}'),
        ({"name": "Zoë"}, '{"name":"Zoë"}'),
    ],
)
def test_json_to_string_is_compact(value: Any, text: str) -> None:
    assert run("States.JsonToString($.v)", {"$.v": value}) == text


def test_json_merge_is_shallow_and_right_wins() -> None:
    first = {"a": {"a1": 1}, "b": 2, "d": 3}
    second = {"a": {"a3": 1}, "c": 3, "d": 4}
    merged = run("States.JsonMerge($.x, $.y, false)", {"$.x": first, "$.y": second})
    assert merged == {"a": {"a3": 1}, "b": 2, "c": 3, "d": 4}


def test_json_merge_refuses_deep_mode_and_non_objects() -> None:
    fails("States.JsonMerge($.x, $.x, true)", {"$.x": {}}, match="must be false")
    fails("States.JsonMerge($.x, $.y, false)", {"$.x": {}, "$.y": [1]}, match="argument 2")


# --- arrays ---------------------------------------------------------------------------------


def test_array_builds_from_any_values() -> None:
    assert run("States.Array()") == []
    assert run("States.Array($.id, 'x')", {"$.id": {"n": 1}}) == [{"n": 1}, "x"]


@pytest.mark.parametrize(
    ("array", "size", "chunks"),
    [
        ([1, 2, 3, 4, 5, 6, 7, 8, 9], 4, [[1, 2, 3, 4], [5, 6, 7, 8], [9]]),
        ([0, 1, 2, 3], 2, [[0, 1], [2, 3]]),
        ([0, 1], 5, [[0, 1]]),
        ([], 3, []),
        ([0, 1, 2], 1.5, [[0, 1], [2]]),
    ],
)
def test_array_partition(array: list[Any], size: float, chunks: list[Any]) -> None:
    assert run("States.ArrayPartition($.a, $.n)", {"$.a": array, "$.n": size}) == chunks


@pytest.mark.parametrize("size", [0, -1, 0.4])
def test_array_partition_needs_a_positive_chunk_size(size: float) -> None:
    fails("States.ArrayPartition($.a, $.n)", {"$.a": [1], "$.n": size}, match="positive")


def test_array_partition_needs_an_array() -> None:
    fails("States.ArrayPartition('abc', 1)", match="argument 1 must be an array; got string")


@pytest.mark.parametrize(
    ("array", "wanted", "found"),
    [
        ([1, 2, 3], 2, True),
        ([], None, False),
        ([[1, 2, 3], 2], [1, 2, 3], True),
        ([{"1": 2, "2": []}], {"2": [], "1": 2}, True),
        ([{"1": 2, "2": []}], [], False),
        ([True, False], 1, False),
        ([1, 0], False, False),
        (["a"], "a", True),
    ],
)
def test_array_contains_compares_json_values(array: list[Any], wanted: Any, found: bool) -> None:
    assert run("States.ArrayContains($.a, $.v)", {"$.a": array, "$.v": wanted}) is found


@pytest.mark.parametrize(
    ("first", "last", "step", "values"),
    [
        (1, 9, 2, [1, 3, 5, 7, 9]),
        (0, 10, 3, [0, 3, 6, 9]),
        (1, 9, 9, [1]),
        (5, 1, -2, [5, 3, 1]),
        (5, 1, 1, []),
        (0.5, 2.4, 1, [1, 2]),
    ],
)
def test_array_range_includes_its_end(first: float, last: float, step: float, values: list) -> None:
    assert run(f"States.ArrayRange({first}, {last}, {step})") == values


def test_array_range_limits() -> None:
    assert len(run("States.ArrayRange(1, 1000, 1)")) == 1000
    fails("States.ArrayRange(0, 1000, 1)", match="1001 items; the limit is 1000")
    fails("States.ArrayRange(0, 10, 0)", match="must not be zero")
    fails("States.ArrayRange(0, '10', 1)", match="argument 2 must be a number")


def test_array_get_item() -> None:
    values = {"$.a": [1, 2, 3, 4, 5, 6, 7, 8, 9], "$.i": 5}
    assert run("States.ArrayGetItem($.a, $.i)", values) == 6
    fails("States.ArrayGetItem($.a, 9)", values, match="index 9 is out of range .* 9 item")
    fails("States.ArrayGetItem($.a, -1)", values, match="index -1 is out of range")
    fails("States.ArrayGetItem($.a, true)", values, match="must be a number; got boolean")


def test_array_length() -> None:
    assert run("States.ArrayLength($.a)", {"$.a": [None, [], {}]}) == 3
    fails("States.ArrayLength($.a)", {"$.a": {"k": 1}}, match="must be an array; got object")


def test_array_unique_keeps_first_occurrences_in_order() -> None:
    array = [3, 1, 3, None, None, True, 1, "1", {"a": 1, "b": 2}, {"b": 2, "a": 1}, [1], [1]]
    assert run("States.ArrayUnique($.a)", {"$.a": array}) == [
        3,
        1,
        None,
        True,
        "1",
        {"a": 1, "b": 2},
        [1],
    ]


# --- encoding and hashing ---------------------------------------------------------------------


def test_base64_round_trip() -> None:
    assert run("States.Base64Encode('Data to encode')") == "RGF0YSB0byBlbmNvZGU="
    assert run("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')") == "Data to encode"
    assert run("States.Base64Encode('')") == ""
    text = "visage détecté ✓"
    assert run("States.Base64Decode(States.Base64Encode($.t))", {"$.t": text}) == text


def test_base64_limits_and_bad_input() -> None:
    assert len(run("States.Base64Encode($.t)", {"$.t": "a" * 10_000})) > 10_000
    fails("States.Base64Encode($.t)", {"$.t": "a" * 10_001}, match="10001 characters; the limit")
    fails("States.Base64Decode('abc')", match="is not valid Base64")
    fails("States.Base64Encode($.t)", {"$.t": 12}, match="must be a string; got number")


ABC_DIGESTS = {
    "MD5": "900150983cd24fb0d6963f7d28e17f72",
    "SHA-1": "a9993e364706816aba3e25717850c26c9cd0d89d",
    "SHA-256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    "SHA-384": (
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163"
        "1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"
    ),
    "SHA-512": (
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
    ),
}


@pytest.mark.parametrize(("algorithm", "digest"), ABC_DIGESTS.items())
def test_hash_algorithms_as_aws_names_them(algorithm: str, digest: str) -> None:
    assert run(f"States.Hash('abc', '{algorithm}')") == digest


def test_hash_rejects_unknown_algorithms_and_long_input() -> None:
    fails("States.Hash('abc', 'SHA256')", match="must be one of MD5, SHA-1, SHA-256")
    fails("States.Hash($.t, 'MD5')", {"$.t": "x" * 10_001}, match="the limit is 10000")
    expected = hashlib.md5(("x" * 10_000).encode()).hexdigest()
    assert run("States.Hash($.t, 'MD5')", {"$.t": "x" * 10_000}) == expected


# --- math -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "total"),
    [
        (111, -1, 110),
        (-9, 3, -6),
        (1.5, 1.51, 4),
        (1.49, 0, 1),
        (0.5, 0, 1),
        (2.5, 0, 3),
        (-0.5, 0, 0),
        (-1.5, 0, -1),
        (-1.51, 0, -2),
        (-0.5, 0.5, 1),
    ],
)
def test_math_add_rounds_each_operand_half_up(a: float, b: float, total: int) -> None:
    result = run("States.MathAdd($.a, $.b)", {"$.a": a, "$.b": b})
    assert result == total
    assert isinstance(result, int)


def test_math_add_operands_are_int32_numbers() -> None:
    assert run("States.MathAdd(2147483647, -2147483648)") == -1
    fails("States.MathAdd(2147483648, 0)", match="between -2147483648 and 2147483647")
    fails("States.MathAdd('1', 2)", match="argument 1 must be a number; got string")
    fails("States.MathAdd(1, null)", match="argument 2 must be a number; got null")


def test_math_random_stays_in_range_end_exclusive() -> None:
    draws = {run("States.MathRandom(1, 4)") for _ in range(200)}
    assert draws == {1, 2, 3}


def test_math_random_with_a_seed_is_repeatable() -> None:
    first = [run("States.MathRandom(0, 1000000, $.s)", {"$.s": 7}) for _ in range(3)]
    assert len(set(first)) == 1
    assert 0 <= first[0] < 1000000


def test_math_random_rejects_empty_ranges() -> None:
    fails("States.MathRandom(5, 5)", match="start \\(5\\) must be less than the end \\(5\\)")
    assert run("States.MathRandom(0.6, 1.6)") == 1


# --- strings and ids ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "delimiters", "pieces"),
    [
        ("1,2,3,4,5", ",", ["1", "2", "3", "4", "5"]),
        ("This.is+a,test=string", ".+,=", ["This", "is", "a", "test", "string"]),
        (", , ,", ",", [" ", " "]),
        (",,,,", ",", []),
        ("split on T and \nnew line", "T\n", ["split on ", " and ", "new line"]),
        ("a]b[c\\d", "[]\\", ["a", "b", "c", "d"]),
        ("abc", "", ["abc"]),
    ],
)
def test_string_split_on_any_delimiter_character(text: str, delimiters: str, pieces: list) -> None:
    assert run("States.StringSplit($.t, $.d)", {"$.t": text, "$.d": delimiters}) == pieces


def test_string_split_needs_strings() -> None:
    fails("States.StringSplit($.t, ',')", {"$.t": ["a,b"]}, match="argument 1 must be a string")


def test_uuid_is_a_fresh_version_4_uuid() -> None:
    first, second = run("States.UUID()"), run("States.UUID()")
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first
    )
    assert uuid.UUID(first).version == 4
    assert first != second
