"""The console's view of the offline pipeline: its executions, bucket, records and outbox."""

from __future__ import annotations

import hashlib
from datetime import datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facepipe.console.source import (
    ExecutionDetail,
    ExecutionItem,
    UploadReceipt,
    UploadRefused,
)
from facepipe.console.uploads import MAX_UPLOAD_BYTES, upload_key

if TYPE_CHECKING:
    from facepipe.local.executions import StoredExecution
    from facepipe.local.runtime import LocalPipeline

DEFAULT_UPLOAD_PREFIX = "uploads/"


def _date(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _face_count(stored: StoredExecution) -> int | None:
    output = stored.output if isinstance(stored.output, dict) else {}
    detection = output.get("detection")
    if isinstance(detection, dict) and isinstance(detection.get("faceCount"), int):
        return int(detection["faceCount"])
    return None


def _item(stored: StoredExecution) -> ExecutionItem:
    return ExecutionItem(
        execution_arn=stored.execution_arn,
        name=stored.name,
        status=stored.status,
        image_key=stored.image_key,
        version_id=stored.version_id,
        start_date=_date(stored.start_date),
        stop_date=_date(stored.stop_date),
        face_count=_face_count(stored),
    )


def outbox_email(outbox: Path, bucket: str, key: str, version_id: str) -> dict[str, str] | None:
    """The outbox message for one image version, found by its deterministic Maildir name."""
    dedup_id = f"{bucket}/{key}#{version_id or 'null'}"
    name = "facepipe-" + hashlib.sha256(dedup_id.encode("utf-8")).hexdigest()[:40]
    candidates = [outbox / "new" / name, *sorted((outbox / "cur").glob(f"{name}:*"))]
    for path in candidates:
        if path.is_file():
            message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
            body = message.get_body(preferencelist=("plain",))
            return {
                "subject": str(message["Subject"] or ""),
                "to": str(message["To"] or ""),
                "date": str(message["Date"] or ""),
                "body": body.get_content() if body is not None else "",
            }
    return None


class LocalConsoleSource:
    """Reads and uploads through a running :class:`LocalPipeline`."""

    def __init__(self, pipeline: LocalPipeline, upload_prefix: str = DEFAULT_UPLOAD_PREFIX):
        self.pipeline = pipeline
        self.upload_prefix = upload_prefix

    @property
    def title(self) -> str:
        return f"offline pipeline · {self.pipeline.home.root}"

    @property
    def definition(self) -> dict[str, Any]:
        return self.pipeline.definition

    def list_executions(self, status: str | None = None, limit: int = 100) -> list[ExecutionItem]:
        stored = self.pipeline.executions.list_executions(limit=limit, status=status)
        return [_item(found) for found in stored]

    def execution(self, execution_arn: str) -> ExecutionDetail | None:
        stored = self.pipeline.executions.get(execution_arn)
        if stored is None:
            return None
        return ExecutionDetail(
            item=_item(stored),
            bucket=stored.bucket,
            history=self.pipeline.executions.history(execution_arn),
            error=stored.error,
            cause=stored.cause,
        )

    def image(self, detail: ExecutionDetail) -> bytes | None:
        from lambdas.domain.errors import InvalidS3ObjectException

        objects = self.pipeline.objects
        item = detail.item
        try:
            info = objects.head(detail.bucket, item.image_key, item.version_id)
            if info.size > MAX_UPLOAD_BYTES:
                return None  # over what the pipeline takes: not worth holding in memory
            return objects.get_bytes(detail.bucket, item.image_key, item.version_id)
        except InvalidS3ObjectException:
            return None  # deleted since, or never stored

    def record(self, detail: ExecutionDetail) -> dict[str, Any] | None:
        found = self.pipeline.records.get(detail.item.image_key, detail.item.version_id or "null")
        return found.to_dict() if found is not None else None

    def email(self, detail: ExecutionDetail) -> dict[str, str] | None:
        item = detail.item
        return outbox_email(
            self.pipeline.home.outbox, detail.bucket, item.image_key, item.version_id or "null"
        )

    def upload(self, filename: str, data: bytes, content_type: str) -> UploadReceipt:
        from facepipe.console.uploads import image_type
        from facepipe.local.intake import SKIPPED, upload_named

        _, extensions = image_type(data, filename)
        key = upload_key(self.upload_prefix, filename, extensions)
        [row] = self.pipeline.take_in([upload_named(filename, data, key)])
        bucket = self.pipeline.options.bucket
        if row.upload is not None:
            stored = row.upload.stored
            return UploadReceipt(stored.bucket, stored.key, stored.version_id)
        if row.status == SKIPPED and row.reason is not None:
            return UploadReceipt(bucket, key, None, skipped=row.reason)
        raise UploadRefused(row.reason or "the upload was not stored")
