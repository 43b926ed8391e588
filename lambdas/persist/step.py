"""Persist step logic: one record per image version, idempotent and order-safe.

Payload in: ``{"image", "detection", "executionArn"}`` after Detect, or ``{"image",
"error": {"Error", "Cause"}, "executionArn"}`` from RecordFailure. Out: ``{"status",
"outcome", "faceCount", "imageKey", "versionId"}`` plus ``error``/``reason`` when FAILED;
``outcome`` is WRITTEN, DUPLICATE (the same event again) or STALE (a newer event won).
The Lambda's AWS wiring is ``handler.py`` beside this; the local runtime imports this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lambdas.domain.errors import failure_kind, failure_reason
from lambdas.domain.model import FaceRecord, ImageRef, utc_now
from lambdas.domain.ordering import DETECTED, FAILED, sortable_sequencer
from lambdas.domain.ports import RecordStore
from lambdas.runtime.observability import (
    StepHandler,
    correlate_with_execution,
    logger,
)
from lambdas.runtime.step_input import read_execution_arn, read_image, read_object


@dataclass(frozen=True)
class PersistConfig:
    clock: Callable[[], datetime] = field(default=utc_now)


def _record(image: ImageRef, execution_arn: str, **fields: Any) -> FaceRecord:
    return FaceRecord(
        bucket=image.bucket,
        key=image.key,
        version_id=image.record_version_id,
        etag=image.etag,
        size=image.size,
        sequencer=image.sequencer,
        execution_arn=execution_arn,
        event_time=image.event_time,
        **fields,
    )


def record_from_payload(event: dict[str, Any], config: PersistConfig) -> FaceRecord:
    """The DETECTED record from a detection, or the FAILED one from a caught error."""
    image, execution_arn = read_image(event), read_execution_arn(event)
    if "error" in event:
        error, reason = failure_reason(read_object(event, "error"))
        detected_at = config.clock().isoformat(timespec="seconds")
        return _record(
            image, execution_arn, status=FAILED, error=error, reason=reason, detected_at=detected_at
        )
    detection = read_object(event, "detection")
    return _record(
        image,
        execution_arn,
        status=DETECTED,
        face_count=int(detection.get("faceCount", 0)),
        faces=list(detection.get("faces", [])),
        detected_at=str(detection.get("detectedAt", "")),
    )


def _outcome(store: RecordStore, record: FaceRecord, written: bool) -> str:
    if written:
        return "WRITTEN"
    stored = store.get(record.key, record.version_id)
    if stored and sortable_sequencer(stored.sequencer) > sortable_sequencer(record.sequencer):
        return "STALE"
    return "DUPLICATE"


def create_handler(store: RecordStore, config: PersistConfig) -> StepHandler:
    """The persist step on any RecordStore (DynamoDB in AWS, SQLite offline)."""

    def persist(event: dict[str, Any], context: Any) -> dict[str, Any]:
        record = record_from_payload(event, config)
        correlate_with_execution(record.execution_arn)
        outcome = _outcome(store, record, store.put_if_newer(record))
        logger.info("record persisted", extra={"status": record.status, "outcome": outcome})
        result: dict[str, Any] = {
            "status": record.status,
            "outcome": outcome,
            "faceCount": record.face_count,
            "imageKey": record.key,
            "versionId": record.version_id,
        }
        if record.status == FAILED:
            kind = failure_kind(record.error or "")
            result.update(error=record.error, reason=record.reason, failureKind=kind)
        return result

    return persist
