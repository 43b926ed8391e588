"""Input and output processing: InputPath, Parameters, ResultSelector, ResultPath, OutputPath,
the context object, and Assign/variables."""

from __future__ import annotations

import pytest
from engine_helpers import failure_of, output_of, run

from facepipe.engine import FakeClock


def _pass(**fields):
    return {"P": {"Type": "Pass", "End": True, **fields}}


def test_pass_without_fields_returns_its_input():
    assert output_of(_pass(), {"a": 1}) == {"a": 1}


def test_input_path_selects_the_effective_input():
    assert output_of(_pass(InputPath="$.a"), {"a": {"b": 1}}) == {"b": 1}


def test_null_input_and_output_paths_give_empty_objects():
    assert output_of(_pass(InputPath=None), {"a": 1}) == {}
    assert output_of(_pass(OutputPath=None), {"a": 1}) == {}


def test_parameters_with_paths_and_literals():
    parameters = {"lit": "x", "got.$": "$.a", "nested": {"n.$": "$.b[0]"}, "list": [{"v.$": "$.a"}]}
    output = output_of(_pass(Parameters=parameters), {"a": 1, "b": [7]})
    assert output == {"lit": "x", "got": 1, "nested": {"n": 7}, "list": [{"v": 1}]}


def test_result_is_literal_even_with_dollar_keys():
    result = {"x.$": "$.a"}
    assert output_of(_pass(Result=result), {"a": 1}) == {"x.$": "$.a"}


def test_result_path_merges_into_the_raw_input_not_the_effective_input():
    fields = {"InputPath": "$.a", "Result": 5, "ResultPath": "$.r"}
    assert output_of(_pass(**fields), {"a": {"x": 1}}) == {"a": {"x": 1}, "r": 5}


def test_result_path_null_discards_the_result():
    assert output_of(_pass(Result=5, ResultPath=None), {"a": 1}) == {"a": 1}


def test_output_path_applies_after_result_path():
    fields = {"Result": {"v": 3}, "ResultPath": "$.r", "OutputPath": "$.r.v"}
    assert output_of(_pass(**fields), {"a": 1}) == 3


def test_result_path_into_a_non_object_is_a_result_path_match_failure():
    error, cause = failure_of(_pass(Result=1, ResultPath="$.r"), [1, 2])
    assert error == "States.ResultPathMatchFailure" and "ResultPath '$.r'" in cause


def test_result_path_match_failure_can_be_caught():
    states = {
        "T": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:1:function:f",
            "ResultPath": "$.r",
            "Catch": [
                {"ErrorEquals": ["States.ResultPathMatchFailure"], "ResultPath": None, "Next": "H"}
            ],
            "End": True,
        },
        "H": {"Type": "Pass", "Result": "handled", "End": True},
    }
    assert output_of(states, [1], resolver={"f": lambda e, c: 1}) == "handled"


def test_missing_input_path_is_a_runtime_error_with_aws_wording():
    error, cause = failure_of(_pass(InputPath="$.nope"), {"a": 1})
    assert error == "States.Runtime"
    assert cause == (
        "An error occurred while executing the state 'P' (entered at the event id #2). "
        "Invalid path '$.nope' : No results for path: $['nope']"
    )


def test_missing_parameter_path_is_a_runtime_error():
    error, cause = failure_of(_pass(Parameters={"x.$": "$.nope"}), {"a": 1})
    assert error == "States.Runtime" and "'x.$'" in cause


def test_indefinite_parameter_path_yields_a_list():
    assert output_of(_pass(Parameters={"x.$": "$.items[*].v"}), {}) == {"x": []}


def test_context_object_fields():
    parameters = {
        "id.$": "$$.Execution.Id",
        "name.$": "$$.Execution.Name",
        "input.$": "$$.Execution.Input",
        "start.$": "$$.Execution.StartTime",
        "state.$": "$$.State.Name",
        "entered.$": "$$.State.EnteredTime",
        "retries.$": "$$.State.RetryCount",
        "machine.$": "$$.StateMachine.Name",
    }
    result = run(_pass(Parameters=parameters), {"k": 1}, execution_name="run-1", clock=FakeClock())
    output = result.output
    assert output["id"] == result.execution_arn and output["id"].endswith(":run-1")
    assert (output["name"], output["input"], output["state"]) == ("run-1", {"k": 1}, "P")
    assert output["start"] == "2024-01-01T00:00:00.000Z" == output["entered"]
    assert output["retries"] == 0 and output["machine"] == "facepipe-local"


def test_output_path_can_read_the_context_object():
    assert output_of(_pass(OutputPath="$$.Execution.Input"), {"i": 1}) == {"i": 1}


def test_assign_sees_the_result_and_variables_are_readable_later():
    states = {
        "A": {"Type": "Pass", "Result": {"answer": 42}, "Assign": {"x.$": "$.answer"}, "Next": "B"},
        "B": {"Type": "Pass", "Parameters": {"got.$": "$x"}, "End": True},
    }
    assert output_of(states) == {"got": 42}


def test_assign_values_see_old_variables_and_output_path_runs_before_assignment():
    states = {
        "A": {"Type": "Pass", "Assign": {"n": 1}, "Next": "B"},
        "B": {
            "Type": "Pass",
            "Assign": {"n": 2, "old.$": "$n"},
            "OutputPath": "$n",
            "Next": "C",
        },
        "C": {
            "Type": "Pass",
            "Parameters": {"n.$": "$n", "old.$": "$old"},
            "OutputPath": "$",
            "End": True,
        },
    }
    result = run(states)
    assert result.output == {"n": 2, "old": 1}
    exited = [e for e in result.history if e["type"] == "PassStateExited"][1]
    assert exited["stateExitedEventDetails"]["output"] == "1"
    assert exited["stateExitedEventDetails"]["assignedVariables"] == {"n": "2", "old": "1"}


def test_variables_in_input_path():
    states = {
        "A": {"Type": "Pass", "Assign": {"v": {"k": 9}}, "Next": "B"},
        "B": {"Type": "Pass", "InputPath": "$v.k", "End": True},
    }
    assert output_of(states) == 9


def test_undefined_variable_is_a_runtime_error():
    error, _ = failure_of(_pass(Parameters={"x.$": "$nothing"}))
    assert error == "States.Runtime"


def test_inner_map_assignments_do_not_leak_out():
    processor = {
        "StartAt": "I",
        "States": {"I": {"Type": "Pass", "Assign": {"x": "inner"}, "End": True}},
    }
    states = {
        "A": {"Type": "Pass", "Assign": {"x": "outer"}, "Result": [1, 2], "Next": "M"},
        "M": {"Type": "Map", "ItemProcessor": processor, "ResultPath": None, "Next": "B"},
        "B": {"Type": "Pass", "Parameters": {"x.$": "$x"}, "End": True},
    }
    assert output_of(states) == {"x": "outer"}


def test_intrinsic_in_parameters():
    parameters = {"s.$": "States.Format('Hello {}', $.name)"}
    assert output_of(_pass(Parameters=parameters), {"name": "face"}) == {"s": "Hello face"}


def test_intrinsic_failure_is_reported_as_states_intrinsic_failure():
    parameters = {"s.$": "States.ArrayGetItem($.items, 5)"}
    error, cause = failure_of(_pass(Parameters=parameters), {"items": [1]})
    assert error == "States.IntrinsicFailure" and cause


def test_intrinsic_with_a_missing_path_argument_is_a_runtime_error():
    parameters = {"s.$": "States.Format('{}', $.nope)"}
    assert failure_of(_pass(Parameters=parameters), {})[0] == "States.Runtime"


def test_intrinsic_can_read_variables_and_context():
    states = {
        "A": {"Type": "Pass", "Assign": {"n": 2}, "Next": "B"},
        "B": {
            "Type": "Pass",
            "Parameters": {
                "s.$": "States.MathAdd($n, 3)",
                "n.$": "States.Format('{}', $$.State.Name)",
            },
            "End": True,
        },
    }
    assert output_of(states) == {"s": 5, "n": "B"}


def test_state_output_over_256_kb_is_data_limit_exceeded():
    doubled = {"a.$": "$.s", "b.$": "$.s"}
    error, cause = failure_of(_pass(Parameters=doubled), {"s": "x" * 150_000})
    assert error == "States.DataLimitExceeded" and "262144" in cause


def test_execution_input_over_256_kb_is_refused_before_starting():
    with pytest.raises(ValueError, match="larger than 262144 bytes"):
        run(_pass(), {"s": "x" * 300_000})
