"""Choice rules: every comparison operator, the Path forms, And/Or/Not, the type tests."""

from __future__ import annotations

import pytest
from engine_helpers import failure_of, output_of, run


def _choose(rule, data, default=True):
    states = {
        "C": {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}]},
        "Yes": {"Type": "Pass", "Result": "yes", "End": True},
        "No": {"Type": "Pass", "Result": "no", "End": True},
    }
    if default:
        states["C"]["Default"] = "No"
    return output_of(states, data) == "yes"


T1, T2 = "2012-10-09T19:00:55Z", "2012-10-09T19:00:56Z"

CASES = [
    ("StringEquals", "a", "a", True),
    ("StringEquals", "a", "b", False),
    ("StringEquals", "1", 1, False),
    ("StringLessThan", "b", "a", True),
    ("StringLessThan", "a", "a", False),
    ("StringGreaterThan", "a", "b", True),
    ("StringLessThanEquals", "a", "a", True),
    ("StringGreaterThanEquals", "b", "a", False),
    ("StringMatches", "log-*.txt", "log-2024.txt", True),
    ("StringMatches", "log-*.txt", "log-2024.csv", False),
    ("StringMatches", "a\\*b", "a*b", True),
    ("StringMatches", "a\\*b", "axxb", False),
    ("NumericEquals", 1, 1.0, True),
    ("NumericEquals", 1, "1", False),
    ("NumericEquals", 0, False, False),
    ("NumericLessThan", 2, 1.5, True),
    ("NumericGreaterThan", 2, 2, False),
    ("NumericLessThanEquals", 2, 2, True),
    ("NumericGreaterThanEquals", 2, 3, True),
    ("BooleanEquals", True, True, True),
    ("BooleanEquals", False, 0, False),
    ("TimestampEquals", T1, "2012-10-09T20:00:55+01:00", True),
    ("TimestampEquals", T1, "2012-10-09T19:00:55", False),
    ("TimestampLessThan", T2, T1, True),
    ("TimestampGreaterThan", T1, T2, True),
    ("TimestampLessThanEquals", T1, T1, True),
    ("TimestampGreaterThanEquals", T2, T1, False),
    ("TimestampEquals", T1, 0, False),
]


@pytest.mark.parametrize(("operator", "operand", "value", "expected"), CASES)
def test_comparison(operator, operand, value, expected):
    assert _choose({"Variable": "$.v", operator: operand}, {"v": value}) is expected


# StringMatches has no Path form in the language.
PATH_CASES = [case for case in CASES if case[0] != "StringMatches"]


@pytest.mark.parametrize(("operator", "operand", "value", "expected"), PATH_CASES)
def test_path_form_of_comparison(operator, operand, value, expected):
    rule = {"Variable": "$.v", f"{operator}Path": "$.other"}
    assert _choose(rule, {"v": value, "other": operand}) is expected


TYPE_CASES = [
    ("IsNull", None, True),
    ("IsNull", 0, False),
    ("IsNumeric", 1.5, True),
    ("IsNumeric", True, False),
    ("IsNumeric", "1", False),
    ("IsString", "", True),
    ("IsString", [], False),
    ("IsBoolean", False, True),
    ("IsBoolean", 0, False),
    ("IsTimestamp", T1, True),
    ("IsTimestamp", "2012-10-09", False),
]


@pytest.mark.parametrize(("operator", "value", "expected"), TYPE_CASES)
def test_type_tests(operator, value, expected):
    assert _choose({"Variable": "$.v", operator: True}, {"v": value}) is expected
    assert _choose({"Variable": "$.v", operator: False}, {"v": value}) is (not expected)


def test_is_present():
    assert _choose({"Variable": "$.v", "IsPresent": True}, {"v": None})
    assert not _choose({"Variable": "$.v", "IsPresent": True}, {})
    assert _choose({"Variable": "$.v", "IsPresent": False}, {})


def test_and_or_not():
    small = {"Variable": "$.v", "NumericLessThan": 10}
    big = {"Variable": "$.v", "NumericGreaterThan": 5}
    assert _choose({"And": [small, big]}, {"v": 7})
    assert not _choose({"And": [small, big]}, {"v": 3})
    assert _choose({"Or": [small, big]}, {"v": 3})
    assert _choose({"Not": small}, {"v": 12})
    assert not _choose({"Not": {"Or": [small, big]}}, {"v": 7})


def test_first_matching_rule_wins():
    states = {
        "C": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.v", "NumericGreaterThan": 0, "Next": "First"},
                {"Variable": "$.v", "NumericGreaterThan": 1, "Next": "Second"},
            ],
        },
        "First": {"Type": "Pass", "Result": 1, "End": True},
        "Second": {"Type": "Pass", "Result": 2, "End": True},
    }
    assert output_of(states, {"v": 5}) == 1


def test_missing_variable_is_a_runtime_error():
    error, cause = failure_of(
        {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.v", "NumericEquals": 1, "Next": "Y"}],
                "Default": "Y",
            },
            "Y": {"Type": "Succeed"},
        },
        {},
    )
    assert error == "States.Runtime" and "$.v" in cause


def test_no_match_and_no_default_fails_with_no_choice_matched():
    states = {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.v", "IsNull": True, "Next": "Y"}]},
        "Y": {"Type": "Succeed"},
    }
    assert failure_of(states, {"v": 1})[0] == "States.NoChoiceMatched"


def test_choice_input_and_output_paths_and_assign():
    states = {
        "C": {
            "Type": "Choice",
            "InputPath": "$.inner",
            "OutputPath": "$.v",
            "Choices": [
                {"Variable": "$.v", "IsPresent": True, "Next": "Y", "Assign": {"hit.$": "$.v"}}
            ],
            "Default": "Y",
            "Assign": {"hit": "default"},
        },
        "Y": {"Type": "Pass", "Parameters": {"in.$": "$", "hit.$": "$hit"}, "End": True},
    }
    assert output_of(states, {"inner": {"v": 3}}) == {"in": 3, "hit": 3}
    assert run(states, {"inner": {}}).error == "States.Runtime"  # OutputPath $.v is missing


def test_variable_may_be_a_context_path_or_a_variable():
    assert _choose({"Variable": "$$.Execution.Input.v", "NumericEquals": 1}, {"v": 1})
