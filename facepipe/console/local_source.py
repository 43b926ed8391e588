"""The console's view of the offline pipeline: its executions, bucket, records and outbox."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from facepipe.console.map_runs import child_detail, offset_page
from facepipe.console.source import (
    ChildPage,
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
    from facepipe.engine import StateMachine
    from facepipe.engine.maprun import MapRunApi, MapRunStore
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


def map_run_store(pipeline: LocalPipeline) -> MapRunStore:
    """Where the pipeline's Map Runs are: its own store when it keeps one (``map_runs``),
    else the engine's, which its state machine holds for the life of the process."""
    kept: MapRunStore | None = getattr(pipeline, "map_runs", None)
    return kept if kept is not None else pipeline.machine.map_runs


class LocalConsoleSource:
    """Reads and uploads through a running :class:`LocalPipeline`.

    ``machines``: other state machines whose executions the pipeline's store holds, so that
    their pages draw their own definitions when the store keeps none with the execution.
    """

    # An EXPRESS child's page draws the events its log group would hold (offline only).
    opens_express_children = True

    def __init__(
        self,
        pipeline: LocalPipeline,
        upload_prefix: str = DEFAULT_UPLOAD_PREFIX,
        machines: Sequence[StateMachine] = (),
    ):
        self.pipeline = pipeline
        self.upload_prefix = upload_prefix
        self._definitions = {machine.arn: json.loads(machine.definition) for machine in machines}

    def _map_runs(self) -> MapRunApi:
        from facepipe.engine.maprun import MapRunApi

        return MapRunApi(map_run_store(self.pipeline))

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
            return self._child(execution_arn)
        return ExecutionDetail(
            item=_item(stored),
            bucket=stored.bucket,
            history=self.pipeline.executions.history(execution_arn),
            error=stored.error,
            cause=stored.cause,
            definition=self._definition_of(stored),
        )

    def _definition_of(self, stored: StoredExecution) -> dict[str, Any] | None:
        """The definition the execution ran when it is not the pipeline's: the text it kept
        (a store that keeps it, for redrives), else its machine's; None for the pipeline's."""
        if stored.state_machine_arn == self.pipeline.machine.arn:
            return None
        kept: str | None = getattr(stored, "definition", None)
        if kept:
            parsed: dict[str, Any] = json.loads(kept)
            return parsed
        return self._definitions.get(stored.state_machine_arn)

    def _child(self, execution_arn: str) -> ExecutionDetail | None:
        from facepipe.engine.maprun import ApiError

        api = self._map_runs()
        try:
            described = api.describe_execution(execution_arn)
            parent_arn = api.describe_map_run(described["mapRunArn"])["executionArn"]
        except ApiError:
            return None
        express = False
        try:
            history: list[dict[str, Any]] | None = api.get_execution_history(execution_arn)[
                "events"
            ]
        except ApiError:  # EXPRESS: no history in the API, as in AWS; its logged events
            express, history = True, api.logged_history(execution_arn)["events"]
        parent = self.execution(parent_arn)  # a nested Map Run's parent is a child itself
        return child_detail(
            described,
            parent,
            lambda: self.definition,
            history,
            self.pipeline.options.bucket,
            express=express,
        )

    def map_runs(self, execution_arn: str) -> list[dict[str, Any]]:
        api = self._map_runs()
        listed = api.list_map_runs(execution_arn)["mapRuns"]
        return [api.describe_map_run(run["mapRunArn"]) for run in listed]

    def map_run(self, map_run_arn: str) -> dict[str, Any] | None:
        from facepipe.engine.maprun import ApiError

        try:
            return self._map_runs().describe_map_run(map_run_arn)
        except ApiError:
            return None

    def map_run_children(
        self,
        map_run_arn: str,
        status: str | None = None,
        limit: int = 50,
        next_token: str | None = None,
    ) -> ChildPage | None:
        from facepipe.engine.maprun import ApiError

        try:
            listed = self._map_runs().list_executions(map_run_arn=map_run_arn, status_filter=status)
        except ApiError:
            return None
        return offset_page(listed["executions"], limit, next_token)

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
