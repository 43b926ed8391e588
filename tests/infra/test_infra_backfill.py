"""The backfill workflow as synthesized: its state machine, its role, its output.

Held to AWS's documented rules: the Distributed Map's own permissions (Step Functions developer
guide, "IAM policies for using Distributed Map states": states:StartExecution on the state
machine itself, DescribeExecution/StopExecution on its executions; ListBucket for the
ItemReader; PutObject, GetObject, ListMultipartUploadParts, AbortMultipartUpload for the
ResultWriter), and ListObjectsV2's s3:prefix condition key (Amazon S3 user guide, "Condition
keys for Amazon S3": s3:prefix limits ListBucket to keys that begin with it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match
from infra_synth import REPO_ROOT, Synthesized, synthesize

from facepipe.local.events.pattern import EventPattern
from infra.backfill import (
    BACKFILL_FILE,
    RESULTS_PREFIX,
    SMALLEST_DEFAULT_TPS,
    default_detect_faces_tps,
    max_concurrency,
)
from infra.sources import upload_rule_pattern
from infra.storage import UPLOAD_PREFIX

PIPELINE_FILE = REPO_ROOT / "statemachine" / "face_pipeline.asl.json"
BUCKET = "facepipe-images-123"


def backfill_machine(synthesized: Synthesized) -> dict[str, Any]:
    machines = synthesized.resources("AWS::StepFunctions::StateMachine")
    (found,) = [
        resource
        for resource in machines.values()
        if resource["Properties"].get("StateMachineName") == "FacePipe-Backfill"
    ]
    return found


def definition_of(machine: dict[str, Any]) -> dict[str, Any]:
    """The deployed definition with its plain-string DefinitionSubstitutions put in (the
    references to other resources stay placeholders)."""
    text = machine["Properties"]["DefinitionString"]
    values = machine["Properties"].get("DefinitionSubstitutions", {})
    for name, value in values.items():
        if isinstance(value, str):
            text = text.replace("${" + name + "}", value)
    return dict(json.loads(text))


def role_statements(synthesized: Synthesized, machine: dict[str, Any]) -> list[dict[str, Any]]:
    role_id = machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    statements: list[dict[str, Any]] = []
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def actions_of(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def statement_with(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [statement for statement in statements if action in actions_of(statement)]


def test_the_backfill_is_a_standard_machine_with_a_distributed_map_of_express_children(
    default_stack: Synthesized,
) -> None:
    machine = backfill_machine(default_stack)
    assert machine["Properties"]["StateMachineType"] == "STANDARD"
    definition = definition_of(machine)
    mapped = definition["States"]["ProcessImages"]
    assert mapped["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "EXPRESS",
    }
    assert mapped["ItemReader"]["Resource"] == "arn:aws:states:::s3:listObjectsV2"
    assert mapped["ResultWriter"]["Arguments"]["Prefix"] == RESULTS_PREFIX
    assert 0 < mapped["ToleratedFailurePercentage"] < 100
    # No region at synthesis: the smallest documented default quota, a fifth kept free.
    assert mapped["MaxConcurrency"] == max_concurrency(SMALLEST_DEFAULT_TPS) == 4
    default_stack.assertions.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineName": "FacePipe-Backfill",
            "LoggingConfiguration": {"Level": "ALL", "IncludeExecutionData": False},
            "TracingConfiguration": {"Enabled": True},
        },
    )


def test_max_concurrency_follows_the_quota_flag(tmp_path: Path) -> None:
    synthesized = synthesize(tmp_path, "tps", {"detectFacesTps": "50"})
    mapped = definition_of(backfill_machine(synthesized))["States"]["ProcessImages"]
    assert mapped["MaxConcurrency"] == 40


def test_region_defaults_and_the_concurrency_they_give() -> None:
    assert default_detect_faces_tps("us-east-1") == 100
    assert default_detect_faces_tps("ap-south-1") == SMALLEST_DEFAULT_TPS
    assert default_detect_faces_tps(None) == SMALLEST_DEFAULT_TPS
    assert max_concurrency(100) == 80
    assert max_concurrency(1) == 1


def test_the_stack_outputs_the_backfill_arn(default_stack: Synthesized) -> None:
    default_stack.assertions.has_output(
        "BackfillStateMachineArn", {"Value": {"Ref": Match.string_like_regexp("Backfill")}}
    )


def test_listing_is_limited_to_uploads(default_stack: Synthesized) -> None:
    statements = role_statements(default_stack, backfill_machine(default_stack))
    (listing,) = statement_with(statements, "s3:ListBucket")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"{UPLOAD_PREFIX}*"]}}
    assert actions_of(listing) == {"s3:ListBucket"}


def test_object_access_is_uploads_read_and_results_write(default_stack: Synthesized) -> None:
    statements = role_statements(default_stack, backfill_machine(default_stack))
    writes = statement_with(statements, "s3:PutObject")
    assert len(writes) == 1
    assert actions_of(writes[0]) == {
        "s3:PutObject",
        "s3:GetObject",
        "s3:ListMultipartUploadParts",
        "s3:AbortMultipartUpload",
    }
    assert json.dumps(writes[0]["Resource"]).endswith(f'/{RESULTS_PREFIX}/*"]]}}')
    reads = [s for s in statement_with(statements, "s3:GetObject") if s is not writes[0]]
    assert [actions_of(s) for s in reads] == [{"s3:GetObject"}]
    assert json.dumps(reads[0]["Resource"]).endswith(f'/{UPLOAD_PREFIX}*"]]}}')


def test_the_map_may_start_children_of_this_machine_only(default_stack: Synthesized) -> None:
    statements = role_statements(default_stack, backfill_machine(default_stack))
    (start,) = statement_with(statements, "states:StartExecution")
    assert json.dumps(start["Resource"]).endswith(':stateMachine:FacePipe-Backfill"]]}')
    (follow,) = statement_with(statements, "states:DescribeExecution")
    assert actions_of(follow) == {"states:DescribeExecution", "states:StopExecution"}
    for resource in follow["Resource"]:
        assert json.dumps(resource).endswith(':FacePipe-Backfill/*"]]}')
    # No .sync integration, so none of its EventBridge managed-rule permissions.
    assert not statement_with(statements, "events:PutRule")


def test_the_children_invoke_exactly_the_three_functions(default_stack: Synthesized) -> None:
    statements = role_statements(default_stack, backfill_machine(default_stack))
    (invoke,) = statement_with(statements, "lambda:InvokeFunction")
    functions = {default_stack.function(step)[0] for step in ("detect", "persist", "notify")}
    assert {ref["Fn::GetAtt"][0] for ref in invoke["Resource"]} == functions


def test_the_summary_may_publish_to_the_encrypted_topic(default_stack: Synthesized) -> None:
    statements = role_statements(default_stack, backfill_machine(default_stack))
    assert statement_with(statements, "sns:Publish")
    (key,) = statement_with(statements, "kms:GenerateDataKey")
    assert actions_of(key) == {"kms:GenerateDataKey", "kms:Decrypt"}


def result_written(key: str) -> dict[str, Any]:
    """The EventBridge event S3 sends when the ResultWriter puts one of its files."""
    return {
        "version": "0",
        "id": "2d4eba74-fd51-3966-4bfa-b013c9da8ff1",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-12-03T10:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": {
            "version": "0",
            "bucket": {"name": BUCKET},
            "object": {
                "key": key,
                "size": 912,
                "etag": "d41d8cd98f00b204e9800998ecf8427e",
                "version-id": "Ya.yUP9fFH0S3lJ8Srm8JvA6cN2v0Bjj",
                "sequencer": "00617F0829A1B2C3D4",
            },
            "request-id": "57H08PA84AB1JZW0",
            "requester": "states.amazonaws.com",
            "source-ip-address": "states.amazonaws.com",
            "reason": "PutObject",
        },
    }


@pytest.mark.parametrize(
    "name", ["manifest.json", "SUCCEEDED_0.json", "FAILED_0.json", "PENDING_0.json"]
)
def test_result_files_never_trigger_the_upload_rule(name: str) -> None:
    """ResultWriter writes ``<Prefix>/<map run id>/<file>`` (Step Functions developer guide,
    "ResultWriter (Map)"); the bucket sends every object event to EventBridge, and the
    rule's pattern, matched with EventBridge's semantics, must take none of them."""
    rule = EventPattern(upload_rule_pattern(BUCKET))
    key = f"{RESULTS_PREFIX}/0fe2e7c7-7d0f-4cd7-a2b1-5b2ba9e4d2d4/{name}"
    assert not rule.matches(result_written(key))
    assert rule.matches(result_written(f"{UPLOAD_PREFIX}photo.jpg"))  # the same event, uploads/


def lambda_tasks(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: state
        for name, state in states.items()
        if state.get("Resource") == "arn:aws:states:::lambda:invoke"
    }


def test_the_children_retry_and_catch_as_the_per_image_machine() -> None:
    """Each Lambda task of the ItemProcessor has its namesake's Retry, and its Catch takes
    the same errors in the same order to RecordFailure (the children keep the error in a
    variable where the per-image machine adds it to its Catch Output), and calls the same
    function."""
    pipeline = json.loads(PIPELINE_FILE.read_text(encoding="utf-8"))["States"]
    backfill = json.loads(BACKFILL_FILE.read_text(encoding="utf-8"))
    children = backfill["States"]["ProcessImages"]["ItemProcessor"]["States"]
    tasks = lambda_tasks(children)
    assert (
        set(tasks)
        == set(lambda_tasks(pipeline))
        == {
            "Detect",
            "Persist",
            "Notify",
            "RecordFailure",
        }
    )
    for name, task in tasks.items():
        assert task["Retry"] == pipeline[name]["Retry"], name
        ours = [(c["ErrorEquals"], c["Next"]) for c in task.get("Catch", [])]
        theirs = [(c["ErrorEquals"], c["Next"]) for c in pipeline[name].get("Catch", [])]
        assert ours == theirs, name
        function = task["Arguments"]["FunctionName"]
        assert function == pipeline[name]["Arguments"]["FunctionName"], name
