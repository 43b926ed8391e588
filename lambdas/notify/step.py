"""Notify step logic: email the people subscribed that faces were found, once per image version.

Payload in: ``{"image", "detection", "executionArn"}``. Out: ``{"sent", "messageId"}``;
``sent`` is false when this image version was already notified (a duplicate event).
The Lambda's AWS wiring is ``handler.py`` beside this; the local runtime imports this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdas.domain.face_email import (
    build_face_email,
    express_execution_reference,
    step_functions_console_url,
)
from lambdas.domain.ports import Notifier, RecordStore
from lambdas.runtime.config import choice_env, required_env
from lambdas.runtime.observability import (
    StepHandler,
    correlate_with_execution,
    logger,
)
from lambdas.runtime.step_input import read_execution_arn, read_image, read_object


@dataclass(frozen=True)
class NotifyConfig:
    """``execution_url`` links an execution ARN to where a person can look at it."""

    execution_url: Callable[[str], str] = field(default=step_functions_console_url)


def create_handler(store: RecordStore, notifier: Notifier, config: NotifyConfig) -> StepHandler:
    """The notify step on any RecordStore and Notifier (SNS in AWS, SMTP/Maildir offline)."""

    def notify(event: dict[str, Any], context: Any) -> dict[str, Any]:
        image, detection = read_image(event), read_object(event, "detection")
        execution_arn = read_execution_arn(event)
        correlate_with_execution(execution_arn)
        key, version = image.key, image.record_version_id
        if not store.claim_notification(
            key, version, claimant=execution_arn, sequencer=image.sequencer
        ):
            logger.info(
                "notification skipped: this image version was already notified, or a newer"
                " upload of it is recorded"
            )
            return {"sent": False, "messageId": None}
        email = build_face_email(image, detection, config.execution_url(execution_arn))
        try:
            message_id = notifier.send(email)
        except Exception:
            _give_back_claim(store, key, version, execution_arn)
            raise
        _note_sent(store, key, version, message_id, execution_arn)
        logger.info("notification sent", extra={"message_id": message_id})
        return {"sent": True, "messageId": message_id}

    return notify


def _give_back_claim(store: RecordStore, key: str, version: str, execution_arn: str) -> None:
    """Release the claim so another execution may send; if that fails too, the send error is
    still the one to report. This execution's own retry may claim again either way, because
    no email is recorded as sent."""
    try:
        store.release_notification(key, version, claimant=execution_arn)
    except Exception as error:
        logger.warning("could not release the notification claim", extra={"error": str(error)})


def _note_sent(
    store: RecordStore, key: str, version: str, message_id: str, execution_arn: str
) -> None:
    """Record the sent email on the claim, so no retry sends it again.

    The email is out: failing the step now would make the retry send a second one, so a
    failure here is logged and the step succeeds. The claim, still this execution's,
    keeps every other execution from sending.
    """
    try:
        marked = store.mark_notification_sent(key, version, message_id, claimant=execution_arn)
    except Exception as error:
        logger.warning("could not record the sent notification", extra={"error": str(error)})
        return
    if not marked:
        logger.warning("the notification claim was no longer this execution's when recorded")


def config_from_env(environ: Mapping[str, str]) -> NotifyConfig:
    """The email links a Standard execution to its console page; an Express one (which has
    none: no history is kept) to the state machine's log group, ``WORKFLOW_LOG_GROUP``."""
    workflow_type = choice_env(environ, "WORKFLOW_TYPE", "STANDARD", ("STANDARD", "EXPRESS"))
    if workflow_type == "EXPRESS":
        log_group = required_env(environ, "WORKFLOW_LOG_GROUP")
        return NotifyConfig(execution_url=express_execution_reference(log_group))
    return NotifyConfig()
