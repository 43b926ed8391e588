"""The notify step on moto SNS (read back through an SQS subscription) and DynamoDB."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from lambda_factories import EXECUTION_ARN, REGION, object_created_event, step_payload

from lambdas.aws.dynamodb import DynamoDbRecordStore
from lambdas.aws.sns import SnsNotifier
from lambdas.domain import errors
from lambdas.domain.face_email import step_functions_console_url
from lambdas.notify import handler as notify_handler
from lambdas.notify.step import NotifyConfig, config_from_env, create_handler
from lambdas.persist.step import PersistConfig
from lambdas.persist.step import create_handler as create_persist


def detection(faces: list[float]) -> dict[str, Any]:
    return {
        "faceCount": len(faces),
        "faces": [
            {"confidence": c, "box": {"left": 0.1, "top": 0.2, "width": 0.05, "height": 0.08}}
            for c in faces
        ],
        "attributes": "DEFAULT",
        "minConfidence": 90.0,
        "detectedAt": "2026-11-25T11:00:02+00:00",
    }


@pytest.fixture
def topic(table, monkeypatch) -> dict[str, Any]:
    """An SNS topic with an SQS queue subscribed, so sent messages can be read back."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic_arn = sns.create_topic(Name="face-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="face-alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv("TOPIC_ARN", topic_arn)
    return {"arn": topic_arn, "sns": sns, "sqs": sqs, "queue_url": queue_url}


def received(topic: dict[str, Any]) -> list[dict[str, Any]]:
    response = topic["sqs"].receive_message(
        QueueUrl=topic["queue_url"], MaxNumberOfMessages=10, WaitTimeSeconds=0
    )
    return [json.loads(message["Body"]) for message in response.get("Messages", [])]


def persisted(table: Any, event: dict[str, Any], faces: list[float]) -> dict[str, Any]:
    """The notify payload for an event whose detection the persist step has recorded."""
    payload = step_payload(event, detection=detection(faces))
    create_persist(DynamoDbRecordStore(table), PersistConfig())(payload, None)
    return payload


def notify_step(table: Any, topic: dict[str, Any], sns: Any = None) -> Any:
    notifier = SnsNotifier(sns or topic["sns"], topic["arn"])
    return create_handler(DynamoDbRecordStore(table), notifier, NotifyConfig())


def test_one_readable_email_per_image(table, topic):
    payload = persisted(table, object_created_event("uploads/party.jpg"), [99.91, 97.5, 93.04])
    result = notify_step(table, topic)(payload, None)
    assert result["sent"] is True
    [message] = received(topic)
    assert message["MessageId"] == result["messageId"]
    assert message["Subject"] == "3 faces found in uploads/party.jpg"
    body = message["Message"]
    assert body.startswith("3 faces found in uploads/party.jpg\n")
    assert (
        "bucket facepipe-uploads, key uploads/party.jpg, version 3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
        in body
    )
    assert "Uploaded:   2026-11-25T11:00:00Z" in body
    assert "99.9% highest, 93.0% lowest" in body
    assert step_functions_console_url(EXECUTION_ARN) in body
    record = DynamoDbRecordStore(table).get(
        "uploads/party.jpg", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
    )
    assert record is not None and record.notified_at


def test_the_same_event_twice_sends_one_email(table, topic):
    event = object_created_event()
    first = notify_step(table, topic)(persisted(table, event, [99.0]), None)
    second = notify_step(table, topic)(persisted(table, event, [99.0]), None)
    assert (first["sent"], second["sent"]) == (True, False)
    assert len(received(topic)) == 1


def test_a_failed_send_releases_the_claim_so_the_retry_sends(table, topic):
    payload = persisted(table, object_created_event(), [99.0])
    failing_sns = boto3.client("sns")
    with Stubber(failing_sns) as stub:
        stub.add_client_error("publish", service_error_code="Throttled", http_status_code=400)
        with pytest.raises(errors.ThrottlingException):
            notify_step(table, topic, sns=failing_sns)(payload, None)
    assert received(topic) == []
    assert notify_step(table, topic)(payload, None)["sent"] is True
    assert len(received(topic)) == 1


class ReleaseFails(DynamoDbRecordStore):
    """A store whose release fails too (DynamoDB trouble right after SNS trouble)."""

    def release_notification(self, key: str, version_id: str, claimant: str | None = None):
        raise errors.ServiceUnavailableError("releasing the claim failed: no connection")


def test_a_retry_sends_when_both_the_send_and_the_release_failed(table, topic, step_logs):
    payload = persisted(table, object_created_event(), [99.0])
    failing_sns = boto3.client("sns")
    step = create_handler(
        ReleaseFails(table), SnsNotifier(failing_sns, topic["arn"]), NotifyConfig()
    )
    with Stubber(failing_sns) as stub:
        stub.add_client_error("publish", service_error_code="Throttled", http_status_code=400)
        with pytest.raises(errors.ThrottlingException):
            step(payload, None)
    assert step_logs.messages("could not release the notification claim")
    # The state machine retries the same execution: its own unsent claim is taken again.
    result = notify_step(table, topic)(payload, None)
    assert result["sent"] is True
    assert len(received(topic)) == 1


def test_a_retry_after_a_timeout_between_claim_and_send_sends(table, topic):
    """A Lambda killed by its timeout runs no except block: only the claim was written."""
    payload = persisted(table, object_created_event(), [99.0])
    image = payload["image"]
    store = DynamoDbRecordStore(table)
    assert store.claim_notification(image["key"], image["versionId"], claimant=EXECUTION_ARN)
    assert notify_step(table, topic)(payload, None)["sent"] is True
    assert len(received(topic)) == 1


def test_an_unsent_claim_of_another_execution_is_left_to_it(table, topic):
    payload = persisted(table, object_created_event(), [99.0])
    image = payload["image"]
    other = EXECUTION_ARN.replace("0f1e2d3c-test", "duplicate-event")
    assert DynamoDbRecordStore(table).claim_notification(
        image["key"], image["versionId"], claimant=other
    )
    assert notify_step(table, topic)(payload, None) == {"sent": False, "messageId": None}
    assert received(topic) == []


def test_a_sent_email_is_recorded_and_not_sent_again_by_a_retry(table, topic):
    payload = persisted(table, object_created_event(), [99.0])
    first = notify_step(table, topic)(payload, None)
    item = table.get_item(
        Key={"imageKey": "uploads/party.jpg", "versionId": payload["image"]["versionId"]}
    )["Item"]
    assert item["messageId"] == first["messageId"] and item["sentAt"]
    assert item["notifiedBy"] == EXECUTION_ARN
    # Step Functions retries the same execution (say Lambda.ServiceException after success):
    assert notify_step(table, topic)(payload, None)["sent"] is False
    assert len(received(topic)) == 1


class MarkFails(DynamoDbRecordStore):
    def mark_notification_sent(self, *args: Any, **kwargs: Any) -> bool:
        raise errors.ServiceUnavailableError("recording the sent notification failed")


def test_a_failure_to_record_the_sent_email_does_not_fail_the_step(table, topic, step_logs):
    """Failing would make the retry send a second email; the claim still stops duplicates."""
    payload = persisted(table, object_created_event(), [99.0])
    step = create_handler(MarkFails(table), SnsNotifier(topic["sns"], topic["arn"]), NotifyConfig())
    assert step(payload, None)["sent"] is True
    assert step_logs.messages("could not record the sent notification")
    duplicate = dict(payload, executionArn=EXECUTION_ARN.replace("0f1e2d3c-test", "dup"))
    assert notify_step(table, topic)(duplicate, None)["sent"] is False
    assert len(received(topic)) == 1


def test_an_older_unversioned_upload_does_not_email_about_the_newer_one(table, topic):
    """Both uploads are version "null": the older one's Notify, running after the newer one
    is recorded, must leave the claim (and the email) to the newer upload's execution."""
    older = object_created_event(version_id=None, sequencer="0062E99A88DC407460")
    newer = object_created_event(version_id=None, sequencer="0062E99A88DC407461")
    older_payload = persisted(table, older, [91.0])
    newer_payload = persisted(table, newer, [99.0, 98.0])
    newer_payload["executionArn"] = EXECUTION_ARN.replace("0f1e2d3c-test", "newer-upload")

    assert notify_step(table, topic)(older_payload, None)["sent"] is False
    assert notify_step(table, topic)(newer_payload, None)["sent"] is True
    [message] = received(topic)
    assert message["Subject"] == "2 faces found in uploads/party.jpg"


def test_unicode_keys_make_an_ascii_subject_and_a_faithful_body(table, topic):
    key = "uploads/Grüße aus Köln 東京 " + "x" * 120 + ".jpg"
    event = object_created_event(key)
    notify_step(table, topic)(persisted(table, event, [99.0]), None)
    [message] = received(topic)
    subject = message["Subject"]
    assert subject.isascii() and len(subject) < 100 and "\n" not in subject
    assert subject.startswith("1 face found in uploads/Gru?e aus Koln ?? xxx")
    assert f"1 face found in {key}\n" in message["Message"]


def test_control_characters_in_a_key_make_spaces_in_the_subject(table, topic):
    """SNS refuses a subject with line breaks or control characters ("Subject" of Publish
    in the SNS API reference); an S3 key may hold any of them."""
    key = "uploads/new\nline\r\x00bell\x07.jpg"
    notify_step(table, topic)(persisted(table, object_created_event(key), [99.0]), None)
    [message] = received(topic)
    assert message["Subject"] == "1 face found in uploads/new line bell .jpg"
    assert all(c.isprintable() for c in message["Subject"])


def test_console_link_points_at_the_execution_region():
    url = step_functions_console_url("arn:aws:states:ap-southeast-2:1:execution:M:run-1")
    assert url == (
        "https://ap-southeast-2.console.aws.amazon.com/states/home?region=ap-southeast-2"
        "#/v2/executions/details/arn:aws:states:ap-southeast-2:1:execution:M:run-1"
    )


EXPRESS_ARN = f"arn:aws:states:{REGION}:123456789012:express:FacePipeline:run-1:0f1e2d3c"
EXECUTION_LOGS = "/aws/vendedlogs/states/FacePipe-FacePipeline"


def test_an_express_execution_is_linked_to_its_log_group_not_a_console_page(
    table, topic, monkeypatch, lambda_context
):
    """Step Functions keeps no history, so no execution page, for Express workflows."""
    monkeypatch.setenv("WORKFLOW_TYPE", "EXPRESS")
    monkeypatch.setenv("WORKFLOW_LOG_GROUP", EXECUTION_LOGS)
    payload = persisted(table, object_created_event(), [99.0])
    payload["executionArn"] = EXPRESS_ARN
    assert notify_handler.lambda_handler(payload, lambda_context)["sent"] is True
    [message] = received(topic)
    body = message["Message"]
    assert f"Execution:  {EXPRESS_ARN}\n" in body
    assert f"the CloudWatch Logs group {EXECUTION_LOGS}; search it for the ARN above:" in body
    assert (
        f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}"
        "#logsV2:log-groups/log-group/$252Faws$252Fvendedlogs$252Fstates$252FFacePipe-FacePipeline"
    ) in body
    assert "/states/home" not in body


def test_a_standard_workflow_links_to_the_execution_page(monkeypatch):
    config = config_from_env({"WORKFLOW_TYPE": "STANDARD"})
    assert config.execution_url(EXECUTION_ARN) == step_functions_console_url(EXECUTION_ARN)
    assert config_from_env({}).execution_url is step_functions_console_url


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"WORKFLOW_TYPE": "EXPRESS"}, "WORKFLOW_LOG_GROUP"),
        ({"WORKFLOW_TYPE": "FAST"}, "WORKFLOW_TYPE"),
    ],
)
def test_a_bad_workflow_setting_is_named(environ, named):
    with pytest.raises(errors.ConfigurationError, match=named):
        config_from_env(environ)


def test_offline_runtime_can_link_elsewhere(table, topic):
    notifier = SnsNotifier(topic["sns"], topic["arn"])
    config = NotifyConfig(execution_url=lambda arn: f"http://127.0.0.1:8000/executions/{arn}")
    step = create_handler(DynamoDbRecordStore(table), notifier, config)
    step(persisted(table, object_created_event(), [99.0]), None)
    [message] = received(topic)
    assert f"http://127.0.0.1:8000/executions/{EXECUTION_ARN}" in message["Message"]


def test_aws_clients_give_up_well_inside_the_function_timeout(table):
    """boto3's defaults (60 s read timeout) would outlive notify's Lambda timeout."""
    table_resource, sns = notify_handler.aws_clients("FaceRecords")
    for client in (table_resource.meta.client, sns):
        config = client.meta.config
        assert (config.connect_timeout, config.read_timeout) == (1.0, 3.0)
        assert config.retries == {"total_max_attempts": 2, "mode": "standard"}


@pytest.mark.parametrize("missing", ["TABLE_NAME", "TOPIC_ARN"])
def test_lambda_handler_names_a_missing_variable(monkeypatch, lambda_context, missing):
    monkeypatch.setenv("TABLE_NAME", "FaceRecords")
    monkeypatch.setenv("TOPIC_ARN", f"arn:aws:sns:{REGION}:123456789012:face-alerts")
    monkeypatch.delenv(missing)
    payload = step_payload(object_created_event(), detection=detection([99.0]))
    with pytest.raises(errors.ConfigurationError, match=missing):
        notify_handler.lambda_handler(payload, lambda_context)


def test_lambda_handler_sends_through_the_topic_in_the_environment(
    table, topic, lambda_context, step_logs
):
    payload = persisted(table, object_created_event(), [99.0, 95.0])
    assert notify_handler.lambda_handler(payload, lambda_context)["sent"] is True
    assert notify_handler.lambda_handler(payload, lambda_context)["sent"] is False
    assert len(received(topic)) == 1
    [log] = step_logs.messages("notification sent")
    assert log["execution_arn"] == EXECUTION_ARN
    assert "@" not in json.dumps(step_logs.records())  # no email addresses
