"""The AWS operations each handler calls, recorded on its boto3 clients under moto.

tests/infra/test_infra_iam.py grants exactly these (and nothing more) to each role; if a
handler starts calling something else, this test says so before a deployed role refuses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from lambda_factories import EXECUTION_ARN, object_created_event, step_payload

from lambdas.aws.dynamodb import DynamoDbRecordStore
from lambdas.aws.sns import SnsNotifier
from lambdas.domain import errors
from lambdas.notify.step import NotifyConfig
from lambdas.notify.step import create_handler as create_notify
from lambdas.persist.step import PersistConfig
from lambdas.persist.step import create_handler as create_persist

DETECTION = {
    "faceCount": 1,
    "faces": [{"confidence": 99.0, "box": {"left": 0.1, "top": 0.1, "width": 0.1, "height": 0.1}}],
    "attributes": "DEFAULT",
    "minConfidence": 90.0,
    "detectedAt": "2026-11-25T11:00:02+00:00",
}


class Calls:
    """Operation names called through the clients it watches, by service."""

    def __init__(self) -> None:
        self.made: set[str] = set()

    def watch(self, client: Any) -> None:
        service = client.meta.service_model.service_name
        client.meta.events.register(
            "before-call.*.*", lambda model, **_: self.made.add(f"{service}:{model.name}")
        )


@pytest.fixture
def calls() -> Iterator[Calls]:
    yield Calls()


def test_persist_calls_only_get_item_and_put_item(table: Any, calls: Calls) -> None:
    watched = boto3.resource("dynamodb").Table(table.name)
    calls.watch(watched.meta.client)
    persist = create_persist(DynamoDbRecordStore(watched), PersistConfig())
    older = object_created_event(sequencer="0062E99A88DC407460")
    newer = object_created_event(sequencer="0062E99A88DC407461")
    persist(step_payload(newer, detection=DETECTION), None)  # WRITTEN
    persist(step_payload(newer, detection=DETECTION), None)  # DUPLICATE
    persist(step_payload(older, detection=DETECTION), None)  # STALE
    error = {"Error": "InvalidImageFormatException", "Cause": "not an image"}
    persist(step_payload(object_created_event("uploads/bad.jpg"), error=error), None)  # FAILED
    assert calls.made == {"dynamodb:GetItem", "dynamodb:PutItem"}


def test_notify_calls_only_update_item_and_publish(table: Any, calls: Calls) -> None:
    event = object_created_event()
    create_persist(DynamoDbRecordStore(table), PersistConfig())(
        step_payload(event, detection=DETECTION), None
    )
    sns = boto3.client("sns")
    topic_arn = sns.create_topic(Name="face-alerts")["TopicArn"]
    watched = boto3.resource("dynamodb").Table(table.name)
    calls.watch(watched.meta.client)
    calls.watch(sns)
    store = DynamoDbRecordStore(watched)
    payload = step_payload(event, detection=DETECTION)

    failing = boto3.client("sns")
    calls.watch(failing)
    with Stubber(failing) as stub:  # publish fails: the claim is released
        stub.add_client_error("publish", service_error_code="Throttled", http_status_code=400)
        with pytest.raises(errors.ThrottlingException):
            create_notify(store, SnsNotifier(failing, topic_arn), NotifyConfig())(payload, None)
    notify = create_notify(store, SnsNotifier(sns, topic_arn), NotifyConfig())
    assert notify(payload, None)["sent"] is True  # claim, publish, mark sent
    duplicate = dict(payload, executionArn=EXECUTION_ARN + "-duplicate")
    assert notify(duplicate, None)["sent"] is False  # claim refused
    assert calls.made == {"dynamodb:UpdateItem", "sns:Publish"}
