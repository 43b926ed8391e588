"""The synthesized stack's resources: storage, table, functions, workflow, trigger, alerts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match
from infra_synth import NOTIFICATION_EMAIL, Synthesized

from lambdas.domain.errors import FAILURE_METRICS

REPO_ROOT = Path(__file__).resolve().parents[2]
STEPS = ("detect", "persist", "notify")


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def arn_of(logical_id: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def _images_bucket(stack: Synthesized) -> tuple[str, dict]:
    buckets = [
        (logical_id, bucket)
        for logical_id, bucket in stack.resources("AWS::S3::Bucket").items()
        if bucket["Properties"].get("VersioningConfiguration")
    ]
    assert len(buckets) == 1
    return buckets[0]


def test_image_bucket_is_private_versioned_encrypted_logged_and_sends_events(
    default_stack: Synthesized,
) -> None:
    bucket_id, bucket = _images_bucket(default_stack)
    props = bucket["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    encryption = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert props["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    assert "DestinationBucketName" in props["LoggingConfiguration"]
    # No custom resource was needed to switch EventBridge on.
    assert not default_stack.resources("Custom::S3BucketNotifications")
    policies = [
        policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in default_stack.resources("AWS::S3::BucketPolicy").values()
        if policy["Properties"]["Bucket"] == ref(bucket_id)
    ]
    assert any(
        statement["Effect"] == "Deny"
        and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for statement in policies[0]
    )


def test_table_keys_billing_recovery_and_encryption(default_stack: Synthesized) -> None:
    default_stack.assertions.resource_count_is("AWS::DynamoDB::Table", 1)
    default_stack.assertions.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": "imageKey", "KeyType": "HASH"},
                {"AttributeName": "versionId", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": Match.array_equals(
                [
                    {"AttributeName": "imageKey", "AttributeType": "S"},
                    {"AttributeName": "versionId", "AttributeType": "S"},
                ]
            ),
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            # SSE without a key of our own: the AWS managed key (alias/aws/dynamodb).
            "SSESpecification": {"SSEEnabled": True},
        },
    )


def test_runtime_is_the_newest_python_the_pinned_cdk_offers() -> None:
    from infra.functions import RUNTIME

    pythons = [name for name in dir(lambda_.Runtime) if re.fullmatch(r"PYTHON_3_\d+", name)]
    newest = max(pythons, key=lambda name: int(name.rsplit("_", 1)[1]))
    assert RUNTIME.name == getattr(lambda_.Runtime, newest).name


def test_functions_handlers_runtime_tracing_and_logs(default_stack: Synthesized) -> None:
    default_stack.assertions.resource_count_is("AWS::Lambda::Function", 3)
    for step in STEPS:
        default_stack.assertions.has_resource_properties(
            "AWS::Lambda::Function",
            {
                "Handler": f"lambdas.{step}.handler.lambda_handler",
                "Runtime": "python3.14",
                "Architectures": ["arm64"],
                "TracingConfig": {"Mode": "Active"},
                "LoggingConfig": {"LogGroup": Match.object_like({"Ref": Match.any_value()})},
            },
        )
    log_groups = default_stack.resources("AWS::Logs::LogGroup")
    for step in STEPS:
        _, function = default_stack.function(step)
        log_group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert log_groups[log_group_id]["Properties"]["RetentionInDays"] == 30


def test_function_environments(default_stack: Synthesized) -> None:
    table_id, _ = default_stack.only("AWS::DynamoDB::Table")
    topic_id, _ = default_stack.only("AWS::SNS::Topic")
    common = {
        "POWERTOOLS_METRICS_NAMESPACE": "FacePipe",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    expected: dict[str, dict[str, Any]] = {
        "detect": {"FACE_ATTRIBUTES": "DEFAULT", "MIN_CONFIDENCE": "90"},
        "persist": {"TABLE_NAME": ref(table_id)},
        "notify": {
            "TABLE_NAME": ref(table_id),
            "TOPIC_ARN": ref(topic_id),
            "WORKFLOW_TYPE": "STANDARD",
            "WORKFLOW_LOG_GROUP": ref(_execution_log_group(default_stack)),
        },
    }
    for step in STEPS:
        _, function = default_stack.function(step)
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables == {
            **common,
            "POWERTOOLS_SERVICE_NAME": f"facepipe-{step}",
            **expected[step],
        }


def _execution_log_group(stack: Synthesized) -> str:
    (logical_id,) = [
        logical_id
        for logical_id, group in stack.resources("AWS::Logs::LogGroup").items()
        if str(group["Properties"].get("LogGroupName", "")).startswith("/aws/vendedlogs/states/")
        and str(group["Properties"]["LogGroupName"]).endswith("-FacePipeline")
    ]
    return logical_id


def test_express_notify_links_emails_to_the_execution_log_group(express_stack: Synthesized) -> None:
    """Express executions have no console page or history: the email points at their logs."""
    _, notify = express_stack.function("notify")
    variables = notify["Properties"]["Environment"]["Variables"]
    assert variables["WORKFLOW_TYPE"] == "EXPRESS"
    group_id = _execution_log_group(express_stack)
    assert variables["WORKFLOW_LOG_GROUP"] == ref(group_id)
    _, machine = express_stack.pipeline_machine()
    [destination] = machine["Properties"]["LoggingConfiguration"]["Destinations"]
    assert destination["CloudWatchLogsLogGroup"]["LogGroupArn"] == arn_of(group_id)


def test_powertools_layer_is_the_official_arm64_layer_at_the_pinned_version(
    default_stack: Synthesized,
) -> None:
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pinned = re.search(r'"aws-lambda-powertools(?:\[[^\]]*\])?==([\d.]+)"', pyproject)
    assert pinned, "pyproject.toml pins aws-lambda-powertools exactly"
    parameters = default_stack.template["Parameters"]
    for step in STEPS:
        _, function = default_stack.function(step)
        (layer,) = function["Properties"]["Layers"]
        parameter = parameters[layer["Ref"]]
        assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
        assert parameter["Default"] == (
            f"/aws/service/powertools/python/arm64/python3.14/{pinned.group(1)}"
        )


def test_code_asset_holds_only_the_lambdas_python_files(default_stack: Synthesized) -> None:
    keys = {
        function["Properties"]["Code"]["S3Key"]
        for function in default_stack.resources("AWS::Lambda::Function").values()
    }
    assert len(keys) == 1, "the three functions share one code asset"
    asset_dir = default_stack.assembly_dir / f"asset.{keys.pop().removesuffix('.zip')}"
    files = sorted(
        path.relative_to(asset_dir).as_posix() for path in asset_dir.rglob("*") if path.is_file()
    )
    expected = sorted(
        path.relative_to(REPO_ROOT).as_posix()
        for path in (REPO_ROOT / "lambdas").rglob("*.py")
        if "__pycache__" not in path.parts
    )
    assert files == expected
    for step in STEPS:
        assert f"lambdas/{step}/handler.py" in files
        assert f"lambdas/{step}/step.py" in files


def test_network_is_isolated_with_endpoints_and_https_only_egress(
    default_stack: Synthesized,
) -> None:
    default_stack.assertions.resource_count_is("AWS::EC2::NatGateway", 0)
    default_stack.assertions.resource_count_is("AWS::EC2::InternetGateway", 0)
    assert default_stack.resources("AWS::EC2::FlowLog")
    subnets = default_stack.resources("AWS::EC2::Subnet").values()
    assert len(subnets) == 2
    assert all(subnet["Properties"]["MapPublicIpOnLaunch"] is False for subnet in subnets)
    services = sorted(
        json.dumps(endpoint["Properties"]["ServiceName"])
        for endpoint in default_stack.resources("AWS::EC2::VPCEndpoint").values()
    )
    for service in ("dynamodb", "rekognition", "s3", "sns"):
        assert sum(f".{service}" in name for name in services) == 1, services
    _, function = default_stack.function("detect")
    (group,) = function["Properties"]["VpcConfig"]["SecurityGroupIds"]
    group_props = default_stack.template["Resources"][group["Fn::GetAtt"][0]]["Properties"]
    assert group_props["SecurityGroupEgress"] == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": "HTTPS to AWS service endpoints",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]


def test_no_vpc_variant_has_no_network(no_vpc_stack: Synthesized) -> None:
    assert not no_vpc_stack.resources("AWS::EC2::VPC")
    assert not no_vpc_stack.resources("AWS::EC2::VPCEndpoint")
    for step in STEPS:
        _, function = no_vpc_stack.function(step)
        assert "VpcConfig" not in function["Properties"]


def test_state_machine_is_the_asl_file_with_the_three_functions(
    default_stack: Synthesized,
) -> None:
    _, machine = default_stack.pipeline_machine()
    props = machine["Properties"]
    definition_text = (REPO_ROOT / "statemachine" / "face_pipeline.asl.json").read_text()
    assert props["DefinitionString"] == definition_text
    assert props["DefinitionSubstitutions"] == {
        "DetectFunctionArn": arn_of(default_stack.function("detect")[0]),
        "PersistFunctionArn": arn_of(default_stack.function("persist")[0]),
        "NotifyFunctionArn": arn_of(default_stack.function("notify")[0]),
    }
    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    logging = props["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    assert logging["IncludeExecutionData"] is False
    (destination,) = logging["Destinations"]
    log_group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    log_group = default_stack.template["Resources"][log_group_id]["Properties"]
    assert log_group["LogGroupName"].startswith("/aws/vendedlogs/states/")
    assert log_group["RetentionInDays"] == 30


def test_express_variant_via_context(express_stack: Synthesized) -> None:
    # The per-image machine and the backfill (always STANDARD: it runs a Distributed Map).
    express_stack.assertions.resource_count_is("AWS::StepFunctions::StateMachine", 2)
    express_stack.assertions.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "EXPRESS",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": Match.object_like(
                {"Level": "ALL", "IncludeExecutionData": False}
            ),
        },
    )


def test_upload_rule_uses_the_shared_pattern_and_targets_the_workflow(
    default_stack: Synthesized,
) -> None:
    bucket_id, _ = _images_bucket(default_stack)
    machine_id, _ = default_stack.pipeline_machine()
    queue_id, queue = default_stack.only("AWS::SQS::Queue")
    _, rule = default_stack.only("AWS::Events::Rule")
    pattern_text = (REPO_ROOT / "statemachine" / "upload_rule.json").read_text()
    expected = json.loads(pattern_text.replace('"${BucketName}"', json.dumps(ref(bucket_id))))
    assert rule["Properties"]["EventPattern"] == expected
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == ref(machine_id)
    assert target["DeadLetterConfig"] == {"Arn": arn_of(queue_id)}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    (queue_policy,) = default_stack.resources("AWS::SQS::QueuePolicy").values()
    statements = queue_policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    assert any(
        s["Effect"] == "Allow" and s["Principal"] == {"Service": "events.amazonaws.com"}
        for s in statements
    )


def test_topic_is_encrypted_tls_only_and_emails_the_subscriber(
    default_stack: Synthesized,
) -> None:
    topic_id, topic = default_stack.only("AWS::SNS::Topic")
    key_id, key = default_stack.only("AWS::KMS::Key")
    assert topic["Properties"]["KmsMasterKeyId"] == arn_of(key_id)
    assert key["Properties"]["EnableKeyRotation"] is True
    key_statements = key["Properties"]["KeyPolicy"]["Statement"]
    assert any(s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} for s in key_statements)
    (topic_policy,) = default_stack.resources("AWS::SNS::TopicPolicy").values()
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in topic_policy["Properties"]["PolicyDocument"]["Statement"]
    )
    _, subscription = default_stack.only("AWS::SNS::Subscription")
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == NOTIFICATION_EMAIL
    assert subscription["Properties"]["TopicArn"] == ref(topic_id)


def test_no_email_no_subscription(express_stack: Synthesized) -> None:
    assert not express_stack.resources("AWS::SNS::Subscription")


def test_alarms_page_only_for_what_needs_a_person(every_stack: Synthesized) -> None:
    topic_id, _ = every_stack.only("AWS::SNS::Topic")
    queue_id, _ = every_stack.only("AWS::SQS::Queue")
    rule_id, _ = every_stack.only("AWS::Events::Rule")
    every_alarm = [
        a["Properties"] for a in every_stack.resources("AWS::CloudWatch::Alarm").values()
    ]
    alarms = {alarm["MetricName"]: alarm for alarm in every_alarm if "MetricName" in alarm}
    [unrecorded] = [alarm for alarm in every_alarm if "Metrics" in alarm]
    alarms["ExecutionsFailedUnrecorded"] = unrecorded
    assert set(alarms) == {
        "ExecutionsFailedUnrecorded",
        "ImagesFailed",
        "ThrottledAfterRetries",
        "ApproximateNumberOfMessagesVisible",
        "InvocationsFailedToBeSentToDlq",
    }
    # A rejected image ends its execution FAILED by design: no alarm on ExecutionsFailed,
    # and none on the ImagesRejected count.
    for name in ("ImagesFailed", "ThrottledAfterRetries"):
        assert alarms[name]["Namespace"] == "FacePipe"
        assert alarms[name]["Dimensions"] == [{"Name": "service", "Value": "facepipe-persist"}]
        assert alarms[name]["Statistic"] == "Sum"
    assert set(FAILURE_METRICS.values()) - set(alarms) == {"ImagesRejected"}
    dead = alarms["ApproximateNumberOfMessagesVisible"]
    assert dead["Namespace"] == "AWS/SQS"
    assert dead["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
    ]
    lost = alarms["InvocationsFailedToBeSentToDlq"]
    assert lost["Namespace"] == "AWS/Events"
    assert lost["Dimensions"] == [{"Name": "RuleName", "Value": ref(rule_id)}]
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [ref(topic_id)]
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"


def test_a_failed_execution_nobody_recorded_pages(every_stack: Synthesized) -> None:
    """RecordFailure counts each failure it records (ImagesRejected, ImagesFailed,
    ThrottledAfterRetries); an execution that failed with none of them (RecordFailure itself
    failed, or States.Runtime outside every Catch) pages through a metric-math alarm:
    Step Functions' ExecutionsFailed of the per-image machine minus the recorded ones, by the
    hour (CloudWatch's MathExpression with FILL for the hours a metric has no data)."""
    machine_id, _ = every_stack.pipeline_machine()
    [alarm] = [
        a["Properties"]
        for a in every_stack.resources("AWS::CloudWatch::Alarm").values()
        if "Metrics" in a["Properties"]
    ]
    queries = {query["Id"]: query for query in alarm["Metrics"]}
    [expression] = [q for q in queries.values() if "Expression" in q]
    assert expression["ReturnData"] is True
    failed = queries["failed"]["MetricStat"]
    assert failed["Metric"]["Namespace"] == "AWS/States"
    assert failed["Metric"]["MetricName"] == "ExecutionsFailed"
    assert failed["Metric"]["Dimensions"] == [{"Name": "StateMachineArn", "Value": ref(machine_id)}]
    recorded = {
        q["MetricStat"]["Metric"]["MetricName"]: q_id
        for q_id, q in queries.items()
        if q_id != "failed" and "MetricStat" in q
    }
    assert set(recorded) == set(FAILURE_METRICS.values())
    assert (
        expression["Expression"]
        == "FILL(failed, 0) - ("
        + " + ".join(f"FILL({q_id}, 0)" for q_id in sorted(recorded.values()))
        + ")"
    )
    assert {q["MetricStat"]["Period"] for q in queries.values() if "MetricStat" in q} == {3600}


def test_the_persist_function_publishes_under_the_service_the_alarms_name(
    default_stack: Synthesized,
) -> None:
    _, persist = default_stack.function("persist")
    environment = persist["Properties"]["Environment"]["Variables"]
    assert environment["POWERTOOLS_SERVICE_NAME"] == "facepipe-persist"
    assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "FacePipe"


def test_cloudwatch_alarms_of_this_account_may_publish_to_the_topic(
    default_stack: Synthesized,
) -> None:
    """enforce_ssl gives the topic a policy, which replaces SNS's default one; without an
    Allow for cloudwatch.amazonaws.com, alarm actions are refused (the failure of
    aws-solutions/automated-security-response-on-aws#43). aws:SourceAccount and aws:SourceArn
    (IAM's global condition keys against the cross-service confused deputy) limit it to
    alarms of this account and region."""
    topic_id, _ = default_stack.only("AWS::SNS::Topic")
    (topic_policy,) = default_stack.resources("AWS::SNS::TopicPolicy").values()
    statements = topic_policy["Properties"]["PolicyDocument"]["Statement"]
    (allow,) = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert allow["Effect"] == "Allow"
    assert allow["Action"] == "sns:Publish"
    assert allow["Resource"] == ref(topic_id)
    assert allow["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        "ArnLike": {
            "aws:SourceArn": {
                "Fn::Sub": (
                    "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"
                )
            }
        },
    }
    # The TLS-only deny still applies to everyone, CloudWatch included.
    assert any(s["Effect"] == "Deny" and s["Principal"] == "*" for s in statements)


def test_cloudwatch_alarms_of_this_account_may_use_the_topic_key(
    default_stack: Synthesized,
) -> None:
    """SNS's "Enable compatibility between event sources from AWS services and encrypted
    topics" (sns-key-management): CloudWatch needs kms:Decrypt and kms:GenerateDataKey on a
    customer managed key to publish to the encrypted topic. CloudWatch's requests carry
    aws:SourceAccount/aws:SourceArn, so the key grants only this account's alarms, as the
    topic policy does (EventBridge's would not carry them: no such condition is put there)."""
    _, key = default_stack.only("AWS::KMS::Key")
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    (allow,) = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert set(allow["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
    assert allow["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        "ArnLike": {
            "aws:SourceArn": {
                "Fn::Sub": (
                    "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"
                )
            }
        },
    }


def test_outputs(default_stack: Synthesized) -> None:
    outputs = default_stack.template["Outputs"]
    assert set(outputs) == {
        "BucketName",
        "UploadPrefix",
        "StateMachineArn",
        "TableName",
        "TopicArn",
        "ConsoleUrl",
        "BackfillStateMachineArn",
    }
    assert outputs["UploadPrefix"]["Value"] == "uploads/"
    machine_id, _ = default_stack.pipeline_machine()
    assert outputs["StateMachineArn"]["Value"] == ref(machine_id)
    console = json.dumps(outputs["ConsoleUrl"]["Value"])
    assert "console.aws.amazon.com/states/home" in console
    assert "#/statemachines/view/" in console
    assert json.dumps(ref(machine_id)) in console


def test_every_task_in_the_definition_invokes_a_granted_function() -> None:
    # The state machine role may only invoke the three functions, so every Task must be a
    # Lambda invoke of one of them (a new service integration needs a new grant here).
    definition = json.loads((REPO_ROOT / "statemachine" / "face_pipeline.asl.json").read_text())
    placeholders = {"${DetectFunctionArn}", "${PersistFunctionArn}", "${NotifyFunctionArn}"}
    tasks = [state for state in definition["States"].values() if state["Type"] == "Task"]
    assert tasks
    for task in tasks:
        assert task["Resource"] == "arn:aws:states:::lambda:invoke"
        assert task["Arguments"]["FunctionName"] in placeholders
    assert {task["Arguments"]["FunctionName"] for task in tasks} == placeholders
