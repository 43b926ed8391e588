"""The console's view of the offline pipeline: its executions, bucket, records and outbox."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from facepipe.console.source import (
    ExecutionDetail,
    ExecutionItem,
    UploadReceipt,
    UploadRefused,
)
from facepipe.console.uploads import MAX_UPLOAD_BYTES, upload_key
from facepipe.local.mail.outbox import read_email
from facepipe.summary import face_count
from lambdas.domain.face_email import email_dedup_id

if TYPE_CHECKING:
    from facepipe.local.executions import StoredExecution
    from facepipe.local.runtime import LocalPipeline

DEFAULT_UPLOAD_PREFIX = "uploads/"


def _date(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _item(stored: StoredExecution) -> ExecutionItem:
    return ExecutionItem(
        execution_arn=stored.execution_arn,
        name=stored.name,
        status=stored.status,
        image_key=stored.image_key,
        version_id=stored.version_id,
        start_date=_date(stored.start_date),
        stop_date=_date(stored.stop_date),
        face_count=face_count(stored.output),
    )


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
        dedup_id = email_dedup_id(detail.bucket, item.image_key, item.version_id)
        return read_email(self.pipeline.home.outbox, dedup_id)

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
