"""A definition is validated before anything runs, naming the state and the reason."""

from __future__ import annotations

import json

import pytest

from facepipe.engine import DefinitionError, StateMachine


def _states(**states):
    return {"StartAt": next(iter(states)), "States": states}


def _invalid(document) -> DefinitionError:
    with pytest.raises(DefinitionError) as raised:
        StateMachine(document)
    return raised.value


def test_a_valid_definition_is_accepted_as_dict_or_json_text():
    document = _states(A={"Type": "Pass", "End": True})
    assert StateMachine(document).flow.start_at == "A"
    assert StateMachine(json.dumps(document)).flow.start_at == "A"


def test_next_must_name_a_state():
    error = _invalid(_states(A={"Type": "Pass", "Next": "Nowhere"}))
    assert error.state == "A"
    assert "'Nowhere'" in error.reason


def test_unreachable_state_is_rejected():
    error = _invalid(_states(A={"Type": "Pass", "End": True}, Orphan={"Type": "Succeed"}))
    assert error.state == "Orphan"
    assert "unreachable" in error.reason


def test_state_needs_next_or_end():
    error = _invalid(_states(A={"Type": "Pass"}))
    assert (error.state, "neither 'Next' nor 'End'" in error.reason) == ("A", True)


def test_next_and_end_together_are_rejected():
    error = _invalid(_states(A={"Type": "Pass", "Next": "A", "End": True}))
    assert "both" in error.reason


@pytest.mark.parametrize("field", ["InputPath", "OutputPath", "ItemsPath"])
def test_bad_path_is_rejected(field):
    state = {
        "Type": "Map",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
        "End": True,
    }
    state[field] = "$.a[[b"
    error = _invalid(_states(M=state))
    assert error.state == "M" and field in error.reason


def test_result_path_must_be_a_reference_path():
    error = _invalid(_states(A={"Type": "Pass", "ResultPath": "$.a[*]", "End": True}))
    assert "reference path" in error.reason


def test_parameters_path_value_is_checked():
    error = _invalid(_states(A={"Type": "Pass", "Parameters": {"x.$": "no-dollar"}, "End": True}))
    assert "x.$" in error.reason


def test_bad_intrinsic_is_rejected_before_running():
    bad = {"x.$": "States.NoSuchFunction(1)"}
    error = _invalid(_states(A={"Type": "Pass", "Parameters": bad, "End": True}))
    assert error.state == "A"


def test_unknown_field_is_rejected():
    error = _invalid(_states(A={"Type": "Pass", "End": True, "Resultt": 1}))
    assert "unknown field 'Resultt'" in error.reason


def test_unknown_top_level_field_is_rejected():
    document = _states(A={"Type": "Pass", "End": True})
    document["Extra"] = 1
    assert "unknown field 'Extra'" in _invalid(document).reason


def test_unknown_type_is_rejected():
    assert "unknown state Type" in _invalid(_states(A={"Type": "Sleep", "End": True})).reason


def test_start_at_must_exist():
    assert "StartAt" in _invalid({"StartAt": "X", "States": {"A": {"Type": "Succeed"}}}).reason


def test_choice_rule_needs_one_operator():
    rule = {"Variable": "$.a", "Next": "B"}
    error = _invalid(_states(A={"Type": "Choice", "Choices": [rule]}, B={"Type": "Succeed"}))
    assert "comparison operator" in error.reason


def test_choice_operand_type_is_checked():
    rule = {"Variable": "$.a", "NumericEquals": "1", "Next": "B"}
    error = _invalid(_states(A={"Type": "Choice", "Choices": [rule]}, B={"Type": "Succeed"}))
    assert "not a valid operand" in error.reason


def test_choice_default_must_exist():
    rule = {"Variable": "$.a", "IsPresent": True, "Next": "B"}
    state = {"Type": "Choice", "Choices": [rule], "Default": "Gone"}
    assert "Default" in _invalid(_states(A=state, B={"Type": "Succeed"})).reason


def test_states_all_must_be_alone_and_last():
    retry = [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Retry": retry,
        "End": True,
    }
    assert "States.ALL" in _invalid(_states(T=state)).reason


@pytest.mark.parametrize(
    ("field", "value"),
    [("BackoffRate", 0.5), ("MaxAttempts", -1), ("IntervalSeconds", 0), ("JitterStrategy", "X")],
)
def test_retrier_fields_are_checked(field, value):
    retrier = {"ErrorEquals": ["X"], field: value}
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Retry": [retrier],
        "End": True,
    }
    assert field in _invalid(_states(T=state)).reason


def test_catch_next_must_exist():
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "Gone"}]
    state = {"Type": "Task", "Resource": "r", "Catch": catch, "End": True}
    assert "Catch[0].Next" in _invalid(_states(T=state)).reason


def test_wait_needs_exactly_one_duration():
    assert "exactly one" in _invalid(_states(W={"Type": "Wait", "End": True})).reason
    both = {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": True}
    assert "exactly one" in _invalid(_states(W=both)).reason


def test_wait_timestamp_must_be_iso8601():
    state = {"Type": "Wait", "Timestamp": "2016-13-05T00:00:00Z", "End": True}
    assert "ISO-8601" in _invalid(_states(W=state)).reason


def test_fail_cannot_have_error_and_error_path():
    state = {"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}
    assert "ErrorPath" in _invalid(_states(F=state)).reason


def test_nested_branch_problems_name_the_inner_state():
    branch = {"StartAt": "In", "States": {"In": {"Type": "Pass", "Next": "Gone"}}}
    error = _invalid(_states(P={"Type": "Parallel", "Branches": [branch], "End": True}))
    assert error.state == "In"


def test_map_with_item_reader_is_rejected_clearly():
    processor = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    state = {"Type": "Map", "ItemProcessor": processor, "ItemReader": {}, "End": True}
    assert "ItemReader" in _invalid(_states(M=state)).reason


def test_an_unknown_query_language_is_rejected_with_a_reason():
    document = _states(A={"Type": "Pass", "End": True})
    document["QueryLanguage"] = "JMESPath"
    assert "JMESPath" in str(_invalid(document))


def test_invalid_json_text_is_reported():
    assert "not valid JSON" in _invalid("{not json").reason


def test_assign_variable_names_are_checked():
    state = {"Type": "Pass", "Assign": {"bad-name": 1}, "End": True}
    assert "variable name" in _invalid(_states(A=state)).reason


def test_substitutions_replace_placeholders():
    task = {"Type": "Task", "Resource": "${Fn}", "End": True}
    machine = StateMachine(_states(T=task), {"Fn": "arn:aws:lambda:us-east-1:1:function:f"})
    assert machine.flow.states["T"]["Resource"] == "arn:aws:lambda:us-east-1:1:function:f"


def test_message_names_state_and_reason():
    error = _invalid(_states(A={"Type": "Pass", "Next": "Nowhere"}))
    assert str(error).startswith("State 'A': ")


def test_lambda_invoke_needs_a_function_name():
    state = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}
    assert "FunctionName" in _invalid(_states(T=state)).reason


@pytest.mark.parametrize("field", ["ItemBatcher", "ResultWriter"])
def test_map_features_needing_s3_are_rejected_clearly(field):
    processor = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    state = {"Type": "Map", "ItemProcessor": processor, field: {}, "End": True}
    assert field in _invalid(_states(M=state)).reason


def test_substituted_values_are_escaped_inside_json_strings():
    document = _states(P={"Type": "Pass", "Result": "${Text}", "End": True})
    machine = StateMachine(document, {"Text": 'say "hi"\\now'})
    assert machine.flow.states["P"]["Result"] == 'say "hi"\\now'
