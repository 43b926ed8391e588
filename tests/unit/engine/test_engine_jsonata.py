"""JSONata states, held to the Step Functions developer guide.

Pages (docs.aws.amazon.com/step-functions/latest/dg/...): "Transforming data with JSONata in
Step Functions" (transforming-data.html), "Passing data between states with variables"
(workflow-variables.html), the state pages (state-choice, state-wait, state-fail, state-map,
state-parallel, state-task .html), "Handling errors in Step Functions workflows"
(concepts-error-handling.html, States.QueryEvaluationError), and the API reference's
EvaluationFailedEventDetails (API_EvaluationFailedEventDetails.html).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys

import pytest
from engine_helpers import event_types, failure_of, output_of, run

from facepipe.engine import DefinitionError, FakeClock, StateMachine

INVOKE = "arn:aws:states:::lambda:invoke"
QUERY_ERROR = "States.QueryEvaluationError"


def jsonata(states: dict, start: str | None = None) -> dict:
    return {"QueryLanguage": "JSONata", "StartAt": start or next(iter(states)), "States": states}


def pass_output(output, **fields) -> dict:
    return jsonata({"P": {"Type": "Pass", "Output": output, "End": True, **fields}})


# --- transforming-data.html: {% %} expressions, $states, Output -------------------------


def test_output_evaluates_expressions_at_any_depth_and_keeps_the_rest_literal():
    output = {
        "static": "Hello",
        "title": "{% $states.input.title %}",
        "nested": [{"n": "{% $count($states.input.items) %}"}, "$.not.a.path"],
        "spaced": " {% 1 %}",  # a space before {% makes it a plain string
    }
    result = output_of(pass_output(output), {"title": "Doctor", "items": [1, 2]})
    assert result == {
        "static": "Hello",
        "title": "Doctor",
        "nested": [{"n": 2}, "$.not.a.path"],
        "spaced": " {% 1 %}",
    }


def test_a_state_without_output_passes_its_input_on():
    machine = jsonata({"P": {"Type": "Pass", "End": True}})
    assert output_of(machine, {"a": 1}) == {"a": 1}


def test_states_context_is_the_context_object():
    output = {
        "name": "{% $states.context.Execution.Name %}",
        "input": "{% $states.context.Execution.Input.a %}",
        "state": "{% $states.context.State.Name %}",
    }
    result = output_of(pass_output(output), {"a": 7}, execution_name="run-1")
    assert result == {"name": "run-1", "input": 7, "state": "P"}


def test_an_expression_that_returns_nothing_fails_naming_the_field():
    result = run(pass_output({"result": "{% $doesNotExist %}"}))
    assert result.error == QUERY_ERROR
    assert result.cause == (
        "An error occurred while executing the state 'P' (entered at the event id #2). "
        "The JSONata expression '$doesNotExist' specified for the field 'Output/result' "
        "returned nothing (undefined)."
    )


def test_an_evaluation_error_carries_the_jsonata_code_and_an_evaluation_failed_event():
    result = run(pass_output("{% $nope(1) %}"))
    assert result.error == QUERY_ERROR
    assert result.cause.endswith(
        "threw an error during evaluation. T1006: Attempted to invoke a non-function"
    )
    assert event_types(result) == [
        "ExecutionStarted", "PassStateEntered", "EvaluationFailed", "ExecutionFailed"
    ]  # fmt: skip
    details = result.history[2]["evaluationFailedEventDetails"]
    assert details["state"] == "P" and details["location"] == "Output"
    assert details["error"] == QUERY_ERROR and details["cause"] == result.cause


def test_a_function_is_not_a_json_result():
    result = run(pass_output("{% function($x){$x} %}"))
    assert result.error == QUERY_ERROR and result.cause.endswith(
        "returned an unsupported result type."
    )


def test_invalid_jsonata_is_refused_with_the_definition():
    with pytest.raises(DefinitionError) as refused:
        StateMachine(pass_output({"x": "{% $states.input. %}"}))
    assert refused.value.state == "P" and "JSONata" in refused.value.reason


def test_expressions_are_compiled_once_per_definition(monkeypatch):
    import jlens

    compiled = []
    original = jlens.Expression

    def counting(text):
        compiled.append(text)
        return original(text)

    monkeypatch.setattr(jlens, "Expression", counting)
    machine = StateMachine(pass_output({"a": "{% $states.input.a %}"}))
    after_definition = len(compiled)
    for value in range(3):
        assert machine.run({"a": value}, clock=FakeClock()).output == {"a": value}
    assert after_definition == 1 and len(compiled) == 1


# --- QueryLanguage: per state and for the whole machine ---------------------------------


def test_both_languages_in_one_machine_share_data_and_variables():
    machine = {
        "StartAt": "Path",
        "States": {
            "Path": {"Type": "Pass", "Parameters": {"x.$": "$.x"}, "Assign": {"fromPath.$": "$.x"},
                     "Next": "Ata"},
            "Ata": {"Type": "Pass", "QueryLanguage": "JSONata", "Next": "Back",
                    "Output": {"sum": "{% $states.input.x + $fromPath %}"},
                    "Assign": {"fromAta": "{% $states.input.x * 10 %}"}},
            "Back": {"Type": "Pass", "Parameters": {"sum.$": "$.sum", "ata.$": "$fromAta"},
                     "End": True},
        },
    }  # fmt: skip
    assert output_of(machine, {"x": 2}) == {"sum": 4, "ata": 20}


def test_a_jsonpath_state_in_a_jsonata_machine_is_refused_with_aws_words():
    machine = jsonata({"P": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": True}})
    with pytest.raises(DefinitionError) as refused:
        StateMachine(machine)
    assert refused.value.reason == (
        "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine"
    )


@pytest.mark.parametrize(
    "field, value",
    [("InputPath", "$.a"), ("Parameters", {"a": 1}), ("ResultPath", "$.r"),
     ("OutputPath", "$.o"), ("Result", {"a": 1})],
)  # fmt: skip
def test_jsonpath_only_fields_are_refused_in_a_jsonata_state(field, value):
    with pytest.raises(DefinitionError) as refused:
        StateMachine(jsonata({"P": {"Type": "Pass", field: value, "End": True}}))
    assert f"'{field}' is JSONPath-only" in refused.value.reason


def test_path_fields_are_refused_in_jsonata_wait_and_map_states():
    wait = {"Type": "Wait", "SecondsPath": "$.s", "End": True}
    with pytest.raises(DefinitionError, match="Seconds with a"):
        StateMachine(jsonata({"W": wait}))
    processor = {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}
    mapped = {"Type": "Map", "ItemsPath": "$.a", "ItemProcessor": processor, "End": True}
    with pytest.raises(DefinitionError, match="Items"):
        StateMachine(jsonata({"M": mapped}))


def test_jsonata_fields_are_refused_in_a_jsonpath_state():
    with pytest.raises(DefinitionError, match='needs "QueryLanguage": "JSONata"'):
        StateMachine({"StartAt": "P", "States": {"P": {"Type": "Pass", "Output": 1, "End": True}}})


# --- workflow-variables.html: Assign, evaluation order, scope ---------------------------


def test_assign_sees_the_values_at_state_entry_so_a_swap_works():
    machine = jsonata({
        "Init": {"Type": "Pass", "Assign": {"x": 3, "y": 6}, "Next": "Swap"},
        "Swap": {"Type": "Pass", "Assign": {"x": "{% $y %}", "y": "{% $x %}"},
                 "Output": {"seenX": "{% $x %}"}, "Next": "Show"},
        "Show": {"Type": "Pass", "Output": {"x": "{% $x %}", "y": "{% $y %}"}, "End": True},
    })  # fmt: skip
    result = run(machine)
    assert result.output == {"x": 6, "y": 3}
    swap_exit = result.history[4]["stateExitedEventDetails"]
    assert swap_exit["output"] == '{"seenX":3}'
    assert swap_exit["assignedVariables"] == {"x": "6", "y": "3"}


def test_map_iterations_read_outer_variables_and_their_own_do_not_leak_out():
    processor = {"StartAt": "Inner", "States": {"Inner": {
        "Type": "Pass", "Assign": {"inner": "{% $states.input %}"},
        "Output": "{% $states.input * $factor %}", "End": True}}}  # fmt: skip
    machine = jsonata({
        "Init": {"Type": "Pass", "Assign": {"factor": 10}, "Next": "Each"},
        "Each": {"Type": "Map", "Items": [1, 2], "ItemProcessor": processor, "Next": "After"},
        "After": {"Type": "Pass", "Output": {"r": "{% $states.input %}",
                                             "leaked": "{% $exists($inner) %}"}, "End": True},
    })  # fmt: skip
    assert output_of(machine) == {"r": [10, 20], "leaked": False}


def test_states_is_a_reserved_variable_name():
    with pytest.raises(DefinitionError, match="reserved"):
        StateMachine(jsonata({"P": {"Type": "Pass", "Assign": {"states": 1}, "End": True}}))


# --- state-choice.html: Condition, Output and Assign in rules ---------------------------


def _choice(**extra) -> dict:
    rule = {"Condition": "{% $states.input.n > 1 %}", "Next": "Big", "Output": {"big": True},
            "Assign": {"size": "big"}}  # fmt: skip
    return jsonata({
        "C": {"Type": "Choice", "Choices": [rule], **extra},
        "Big": {"Type": "Pass", "Output": {"in": "{% $states.input %}", "size": "{% $size %}"},
                "End": True},
        "Small": {"Type": "Pass", "Output": {"in": "{% $states.input %}", "size": "{% $size %}"},
                  "End": True},
    })  # fmt: skip


def test_a_matching_rule_gives_its_output_and_assign():
    assert output_of(_choice(Default="Small"), {"n": 2}) == {"in": {"big": True}, "size": "big"}


def test_the_default_branch_uses_the_state_output_and_assign():
    machine = _choice(Default="Small", Output={"small": True}, Assign={"size": "small"})
    assert output_of(machine, {"n": 0}) == {"in": {"small": True}, "size": "small"}


def test_no_match_without_default_is_no_choice_matched():
    machine = _choice()
    del machine["States"]["Small"]
    assert failure_of(machine, {"n": 0})[0] == "States.NoChoiceMatched"


def test_a_condition_that_is_not_a_boolean_fails():
    machine = jsonata({
        "C": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.n %}", "Next": "E"}]},
        "E": {"Type": "Succeed"},
    })  # fmt: skip
    error, cause = failure_of(machine, {"n": 3})
    assert error == QUERY_ERROR and "Expected 'boolean', but was 'number' for value: 3" in cause


# --- state-wait.html and state-fail.html ------------------------------------------------


def test_wait_seconds_and_timestamp_take_expressions():
    clock = FakeClock()
    waits = jsonata({
        "S": {"Type": "Wait", "Seconds": "{% $states.input.s %}", "Next": "T"},
        "T": {"Type": "Wait", "Timestamp": "{% $states.input.until %}", "End": True},
    })  # fmt: skip
    result = run(waits, {"s": 5, "until": "2024-01-01T00:01:00Z"}, clock=clock)
    assert result.status == "SUCCEEDED" and clock.sleeps == [5, 55.0]


def test_a_wait_timestamp_that_is_not_iso_8601_fails_with_aws_cause():
    wait = jsonata({"W": {"Type": "Wait", "Timestamp": "{% $states.input.t %}", "End": True}})
    error, cause = failure_of(wait, {"t": "2016-12-05 21:29:29Z"})
    assert error == QUERY_ERROR
    assert cause.endswith(
        "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format "
        "string: 2016-12-05 21:29:29Z"
    )


def test_fail_error_and_cause_take_expressions():
    fail = jsonata({"F": {"Type": "Fail", "Error": "{% $states.input.e %}",
                          "Cause": "{% 'because ' & $states.input.c %}"}})  # fmt: skip
    assert failure_of(fail, {"e": "Custom", "c": "x"}) == ("Custom", "because x")


# --- state-task.html: Arguments, $states.result, Retry/Catch with $states.errorOutput ---


def _task(**fields) -> dict:
    arguments = {"FunctionName": "fn", "Payload": {"n": "{% $states.input.n %}"}}
    return {"Type": "Task", "Resource": INVOKE, "Arguments": arguments, **fields}


def test_task_arguments_result_output_and_assign():
    machine = jsonata({
        "T": _task(Output={"doubled": "{% $states.result.Payload %}"},
                   Assign={"last": "{% $states.result.Payload %}"}, Next="Show"),
        "Show": {"Type": "Pass", "Output": {"out": "{% $states.input %}", "last": "{% $last %}"},
                 "End": True},
    })  # fmt: skip
    result = output_of(machine, {"n": 4}, resolver={"fn": lambda event, context: event["n"] * 2})
    assert result == {"out": {"doubled": 8}, "last": 8}


def test_timeout_and_heartbeat_expressions_reach_the_scheduled_event():
    task = _task(TimeoutSeconds="{% $states.input.t %}", HeartbeatSeconds=5, End=True)
    result = run(jsonata({"T": task}), {"n": 1, "t": 30}, resolver={"fn": lambda e, c: 1})
    scheduled = next(e for e in result.history if e["type"] == "TaskScheduled")
    details = scheduled["taskScheduledEventDetails"]
    assert details["timeoutInSeconds"] == 30 and details["heartbeatInSeconds"] == 5


def test_catch_output_and_assign_see_the_error_output():
    def broken(event, context):
        raise ValueError("no")

    catcher = {"ErrorEquals": ["States.ALL"], "Next": "Handled",
               "Output": {"error": "{% $states.errorOutput.Error %}", "n": "{% $states.input.n %}"},
               "Assign": {"caught": "{% $states.errorOutput.Error %}"}}  # fmt: skip
    machine = jsonata({
        "T": _task(Catch=[catcher], End=True),
        "Handled": {"Type": "Pass", "Output": {"in": "{% $states.input %}", "v": "{% $caught %}"},
                    "End": True},
    })  # fmt: skip
    result = output_of(machine, {"n": 1}, resolver={"fn": broken})
    assert result == {"in": {"error": "ValueError", "n": 1}, "v": "ValueError"}


def test_a_query_evaluation_error_can_be_caught_and_defaults_to_the_error_output():
    bad = _task(Arguments={"FunctionName": "fn", "Payload": "{% $missing %}"},
                Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Handled"}], End=True)  # fmt: skip
    machine = jsonata({"T": bad, "Handled": {"Type": "Pass", "End": True}})
    result = output_of(machine, {}, resolver={"fn": lambda e, c: 1})
    assert result["Error"] == QUERY_ERROR and "'Arguments/Payload'" in result["Cause"]


# --- state-parallel.html and state-map.html ---------------------------------------------


def test_parallel_arguments_are_every_branch_input():
    branch = {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True,
                                              "Output": "{% $states.input.v + 1 %}"}}}  # fmt: skip
    machine = jsonata({"Par": {"Type": "Parallel", "Branches": [branch, branch],
                               "Arguments": {"v": "{% $states.input.start %}"},
                               "Output": {"sum": "{% $sum($states.result) %}"},
                               "End": True}})  # fmt: skip
    assert output_of(machine, {"start": 1}) == {"sum": 4}


def test_map_items_item_selector_and_max_concurrency_take_expressions():
    processor = {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}
    machine = jsonata({"M": {
        "Type": "Map", "Items": "{% $states.input.list %}", "MaxConcurrency": "{% 1 %}",
        "ItemSelector": {"value": "{% $states.context.Map.Item.Value %}",
                         "index": "{% $states.context.Map.Item.Index %}",
                         "tag": "{% $states.input.tag %}"},
        "ItemProcessor": processor, "End": True}})  # fmt: skip
    assert output_of(machine, {"list": ["a", "b"], "tag": "t"}) == [
        {"value": "a", "index": 0, "tag": "t"},
        {"value": "b", "index": 1, "tag": "t"},
    ]


def _map(**fields) -> dict:
    processor = {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}
    return jsonata({"M": {"Type": "Map", "ItemProcessor": processor, "End": True, **fields}})


def test_items_that_are_not_an_array_fail_with_map_state_failed():
    result = run(_map(Items="{% $states.input.o %}"), {"o": {"foo": "bar"}})
    assert result.error == QUERY_ERROR
    assert result.cause.endswith(
        "The JSONata expression '$states.input.o' specified for the field 'Items' returned an "
        "unexpected result type. Expected 'array', but was 'object' for value: {\"foo\":\"bar\"}"
    )
    assert event_types(result) == [
        "ExecutionStarted", "MapStateEntered", "EvaluationFailed", "MapStateFailed",
        "ExecutionFailed",
    ]  # fmt: skip


def test_map_input_must_be_an_array_without_items():
    error, cause = failure_of(_map(), "text")
    assert error == QUERY_ERROR and cause.endswith(
        'Map state input must be an array but was: "text"'
    )


def _distributed(**fields) -> dict:
    processor = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                 "StartAt": "I", "States": {"I": {"Type": "Fail", "Error": "Bad"}}}  # fmt: skip
    return jsonata({"M": {"Type": "Map", "Items": [1, 2, 3, 4], "ItemProcessor": processor,
                          "End": True, **fields}})  # fmt: skip


def test_tolerated_failure_count_takes_an_expression():
    tolerant = run(
        _distributed(ToleratedFailureCount="{% $states.input.allowed %}"), {"allowed": 4}
    )
    assert tolerant.status == "SUCCEEDED" and tolerant.output[0] == {"Error": "Bad"}
    strict = run(_distributed(ToleratedFailureCount="{% $states.input.allowed %}"), {"allowed": 3})
    assert strict.error == "States.ExceedToleratedFailureThreshold"


def test_a_tolerated_percentage_out_of_range_fails_after_map_state_started():
    result = run(_distributed(ToleratedFailurePercentage="{% 101 %}"))
    assert result.error == QUERY_ERROR
    assert event_types(result)[:3] == ["ExecutionStarted", "MapStateEntered", "MapStateStarted"]


# --- transforming-data.html: the functions Step Functions adds, and $eval's absence -----


def test_step_functions_jsonata_functions():
    output = {
        "partition": "{% $partition([1, 2, 3, 4, 5], 2) %}",
        "range": "{% $range(0, 10, 5) %}",
        "hash": "{% $hash('abc', 'SHA-256') %}",
        "seeded": "{% $random(7) = $random(7) %}",
        "random": "{% $random() < 1 %}",
        "uuid": "{% $uuid() %}",
        "parse": "{% $parse('{\"a\": [1]}') %}",
    }
    result = output_of(pass_output(output))
    assert result["partition"] == [[1, 2], [3, 4], [5]]
    assert result["range"] == [0, 5, 10]
    assert result["hash"] == hashlib.sha256(b"abc").hexdigest()
    assert result["seeded"] is True and result["random"] is True
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", result["uuid"]
    )
    assert result["parse"] == {"a": [1]}


def test_eval_is_not_available():
    error, cause = failure_of(pass_output("{% $eval('1 + 1') %}"))
    assert error == QUERY_ERROR and "T1006" in cause


# --- cheap imports ----------------------------------------------------------------------


def test_the_jsonata_library_loads_only_for_a_jsonata_definition():
    probe = (
        "import sys, facepipe.engine as e\n"
        "e.StateMachine({'StartAt': 'P', 'States': {'P': {'Type': 'Pass', 'End': True}}}).run({})\n"
        "before = 'jlens' in sys.modules\n"
        "e.StateMachine({'QueryLanguage': 'JSONata', 'StartAt': 'P', "
        "'States': {'P': {'Type': 'Pass', 'Output': '{% 1 %}', 'End': True}}})\n"
        "print(before, 'jlens' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["False", "True"], done.stderr


def test_an_expression_that_never_ends_fails_instead_of_hanging(monkeypatch):
    from facepipe.engine import jsonata_fields

    monkeypatch.setattr(jsonata_fields, "EVALUATION_TIMEOUT_SECONDS", 0.2)
    forever = "{% ($f := function($n){ $f($n + 1) }; $f(0)) %}"
    error, cause = failure_of(pass_output(forever))
    assert error == QUERY_ERROR and "D1012" in cause


def test_the_command_line_runs_a_jsonata_definition(tmp_path):
    import json

    definition = tmp_path / "d.json"
    definition.write_text(json.dumps(pass_output({"r": "{% $missing %}"})))
    done = subprocess.run(
        [sys.executable, "-m", "facepipe.engine", "--definition", str(definition), "--history"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    printed = json.loads(done.stdout)
    assert printed["error"] == QUERY_ERROR
    assert [e["type"] for e in printed["history"]][-2:] == ["EvaluationFailed", "ExecutionFailed"]


def test_a_branch_may_set_its_states_language_but_not_back_to_jsonpath():
    inner = {"Type": "Pass", "Output": "{% $states.input.v %}", "End": True}
    branch = {"QueryLanguage": "JSONata", "StartAt": "B", "States": {"B": inner}}
    machine = {
        "StartAt": "P",
        "States": {"P": {"Type": "Parallel", "Branches": [branch], "End": True}},
    }
    assert output_of(machine, {"v": 5}) == [5]
    downgrade = dict(branch, QueryLanguage="JSONPath")
    with pytest.raises(DefinitionError, match="can not be 'JSONPath'"):
        StateMachine(jsonata({"P": {"Type": "Parallel", "Branches": [downgrade], "End": True}}))
