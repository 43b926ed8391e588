"""The EventBridge rule that starts the workflow for each image uploaded under uploads/."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.nag import acknowledge
from infra.sources import UPLOAD_RULE_FILE, SourceFileError, upload_rule_pattern

# Top-level event fields an EventBridge pattern may name, as the L2 EventPattern spells them.
_PATTERN_FIELDS = {
    "version": "version",
    "id": "id",
    "detail-type": "detail_type",
    "source": "source",
    "account": "account",
    "time": "time",
    "region": "region",
    "resources": "resources",
    "detail": "detail",
}


def event_pattern(pattern: dict[str, Any]) -> events.EventPattern:
    """The L2 EventPattern for a pattern dict read from upload_rule.json."""
    unknown = sorted(set(pattern) - set(_PATTERN_FIELDS))
    if unknown:
        raise SourceFileError(
            f"{UPLOAD_RULE_FILE}: top-level field(s) {', '.join(unknown)} are not event fields"
        )
    return events.EventPattern(**{_PATTERN_FIELDS[key]: value for key, value in pattern.items()})


class UploadTrigger(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        state_machine: sfn.IStateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetters",
            # SQS-managed keys: EventBridge can write without a KMS key policy grant.
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the upload rule's target.",
        )
        self.rule = events.Rule(
            self,
            "ImageUploaded",
            description="Start the face pipeline for each .jpg/.jpeg/.png under uploads/",
            event_pattern=event_pattern(upload_rule_pattern(bucket_name)),
        )
        self.rule.add_target(
            targets.SfnStateMachine(
                state_machine,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=8,
                max_event_age=Duration.hours(2),
            )
        )
