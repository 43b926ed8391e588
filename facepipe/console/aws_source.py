"""The console's view of a deployed stack: Step Functions, the S3 bucket, DynamoDB, SNS.

SNS keeps no copy of what it sent, so "the email" is what the record and the Notify state
say: when it went out, to which topic, with which message id.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from facepipe.aws.executions import execution_history, list_executions, uploaded_object
from facepipe.aws.records import fetch_record
from facepipe.aws.stack import StackOutputs
from facepipe.console.map_runs import MAX_CHILDREN_PAGE, child_detail
from facepipe.console.source import ChildPage, ExecutionDetail, ExecutionItem, UploadReceipt
from facepipe.console.uploads import MAX_UPLOAD_BYTES, upload_key
from facepipe.summary import face_count

_STOPPED_CACHE_SIZE = 2000  # stopped executions remembered (more than a page lists)

_LIST_LIMIT = 50


def _item(described: dict[str, Any]) -> ExecutionItem:
    key, version = uploaded_object(described.get("input")) or ("(unknown image)", None)
    return ExecutionItem(
        execution_arn=described["executionArn"],
        name=described.get("name", ""),
        status=described["status"],
        image_key=key,
        version_id=version,
        start_date=described.get("startDate"),
        stop_date=described.get("stopDate"),
        face_count=face_count(described.get("output")),
    )


class AwsConsoleSource:
    """Reads a deployed stack with boto3 clients made from one session."""

    def __init__(self, session: Any, outputs: StackOutputs) -> None:
        self.outputs = outputs
        self.sfn = session.client("stepfunctions")
        self.s3 = session.client("s3")
        self.dynamodb = session.resource("dynamodb")
        self._definitions: dict[str, dict[str, Any]] = {}
        self._stopped: dict[str, dict[str, Any]] = {}  # a stopped execution no longer changes
        self._lock = threading.Lock()

    @property
    def title(self) -> str:
        return f"AWS stack {self.outputs.stack_name} ({self.outputs.region})"

    @property
    def definition(self) -> dict[str, Any]:
        return self._definition_of(self.outputs.state_machine_arn)

    def _definition_of(self, state_machine_arn: str) -> dict[str, Any]:
        with self._lock:
            known = self._definitions.get(state_machine_arn)
        if known is None:
            described = self.sfn.describe_state_machine(stateMachineArn=state_machine_arn)
            known = json.loads(described["definition"])
            with self._lock:
                self._definitions[state_machine_arn] = known
        return known

    def _machines(self) -> list[str]:
        """The stack's state machines: the pipeline's and, when deployed, the backfill's."""
        backfill = self.outputs.backfill_state_machine_arn
        return [self.outputs.state_machine_arn, *([backfill] if backfill else [])]

    def _machine_of(self, arn: str, kind: str) -> tuple[str, bool] | None:
        """The stack's state machine whose ``kind`` ARNs (execution, mapRun) ``arn`` is one
        of, and whether it is a Map Run's (``MACHINE/LABEL``); None for another's."""
        for machine in self._machines():
            own = machine.replace(":stateMachine:", f":{kind}:")
            if arn.startswith(own + ":"):
                return machine, False
            if arn.startswith(own + "/"):
                return machine, True
        return None

    def _describe(self, execution_arn: str) -> dict[str, Any]:
        with self._lock:
            cached = self._stopped.get(execution_arn)
        if cached is not None:
            return cached
        described: dict[str, Any] = self.sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            with self._lock:
                self._stopped[execution_arn] = described
                if len(self._stopped) > _STOPPED_CACHE_SIZE:  # a long session: forget the oldest
                    del self._stopped[next(iter(self._stopped))]
        return described

    def list_executions(self, status: str | None = None, limit: int = 100) -> list[ExecutionItem]:
        entries = list_executions(
            self.sfn, self.outputs.state_machine_arn, status, min(limit, _LIST_LIMIT)
        )
        return [_item(self._describe(entry["executionArn"])) for entry in entries]

    def execution(self, execution_arn: str) -> ExecutionDetail | None:
        # Only this stack's executions and their Map Runs' children (`…:execution:MACHINE/
        # LABEL:NAME`): the page's ARN parameter is user input.
        found = self._machine_of(execution_arn, "execution")
        if found is None:
            return None
        machine, child = found
        from botocore.exceptions import ClientError

        try:
            described = self._describe(execution_arn)
        except ClientError as error:
            if _code(error) in ("ExecutionDoesNotExist", "InvalidArn"):
                return None  # InvalidArn: an EXPRESS child, which DescribeExecution refuses
            raise
        if child and described.get("mapRunArn"):
            return self._child(described)
        return ExecutionDetail(
            item=_item(described),
            bucket=self.outputs.bucket_name,
            history=execution_history(self.sfn, execution_arn),
            error=described.get("error"),
            cause=described.get("cause"),
            definition=None
            if machine == self.outputs.state_machine_arn
            else self._definition_of(machine),
        )

    def _child(self, described: dict[str, Any]) -> ExecutionDetail | None:
        run = self.map_run(described["mapRunArn"])
        parent = self.execution(run["executionArn"]) if run is not None else None
        history = execution_history(self.sfn, described["executionArn"])
        return child_detail(
            described, parent, lambda: self.definition, history, self.outputs.bucket_name
        )

    def _own_map_run(self, map_run_arn: str) -> bool:
        # arn:aws:states:REGION:ACCOUNT:mapRun:MACHINE/LABEL:UUID, MACHINE this stack's.
        return self._machine_of(map_run_arn, "mapRun") is not None

    def map_runs(self, execution_arn: str) -> list[dict[str, Any]]:
        from botocore.exceptions import ClientError

        try:
            pages = self.sfn.get_paginator("list_map_runs").paginate(executionArn=execution_arn)
            listed = [run for page in pages for run in page.get("mapRuns", [])]
        except ClientError as error:
            if _code(error) in ("ExecutionDoesNotExist", "InvalidArn"):
                return []
            raise
        listed.sort(key=lambda run: run["startDate"])
        described = (self.map_run(run["mapRunArn"]) for run in listed)
        return [run for run in described if run is not None]

    def map_run(self, map_run_arn: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        if not self._own_map_run(map_run_arn):
            return None
        try:
            answer: dict[str, Any] = self.sfn.describe_map_run(mapRunArn=map_run_arn)
        except ClientError as error:
            if _code(error) in ("ResourceNotFound", "InvalidArn"):
                return None
            raise
        answer.pop("ResponseMetadata", None)
        return answer

    def map_run_children(
        self,
        map_run_arn: str,
        status: str | None = None,
        limit: int = 50,
        next_token: str | None = None,
    ) -> ChildPage | None:
        from botocore.exceptions import ClientError

        if not self._own_map_run(map_run_arn):
            return None
        arguments: dict[str, Any] = {
            "mapRunArn": map_run_arn,
            "maxResults": min(limit, MAX_CHILDREN_PAGE),
        }
        if status:
            arguments["statusFilter"] = status
        if next_token:
            arguments["nextToken"] = next_token
        try:
            answer = self.sfn.list_executions(**arguments)
        except ClientError as error:
            if _code(error) == "InvalidToken":
                raise ValueError(f"invalid nextToken {next_token!r}") from error
            if _code(error) in ("ResourceNotFound", "InvalidArn"):
                return None
            raise
        return ChildPage(list(answer.get("executions", [])), answer.get("nextToken"))

    def image(self, detail: ExecutionDetail) -> bytes | None:
        from botocore.exceptions import ClientError

        arguments = {"Bucket": detail.bucket, "Key": detail.item.image_key}
        if detail.item.version_id:
            arguments["VersionId"] = detail.item.version_id
        try:
            answer = self.s3.get_object(**arguments)
        except ClientError:
            return None  # deleted since, or not readable with these credentials
        body = answer["Body"]
        if answer.get("ContentLength", 0) > MAX_UPLOAD_BYTES:
            body.close()  # over what the pipeline takes: not worth holding in memory
            return None
        return bytes(body.read())

    def record(self, detail: ExecutionDetail) -> dict[str, Any] | None:
        found = fetch_record(
            self.dynamodb,
            self.outputs.table_name,
            detail.item.image_key,
            detail.item.version_id or "null",
        )
        return found.to_dict() if found is not None else None

    def email(self, detail: ExecutionDetail) -> dict[str, str] | None:
        record = self.record(detail)
        if not record or not record.get("notified_at"):
            return None
        return {
            "subject": f"Faces found in {detail.item.image_key} (sent through SNS)",
            "to": self.outputs.topic_arn or "the stack's SNS topic",
            "date": str(record["notified_at"]),
            "body": "SNS keeps no copy of the message; the subscribers' inboxes have it.",
        }

    def upload(self, filename: str, data: bytes, content_type: str) -> UploadReceipt:
        from facepipe.console.uploads import image_type

        _, extensions = image_type(data, filename)
        key = upload_key(self.outputs.upload_prefix, filename, extensions)
        answer = self.s3.put_object(
            Bucket=self.outputs.bucket_name, Key=key, Body=data, ContentType=content_type
        )
        return UploadReceipt(self.outputs.bucket_name, key, answer.get("VersionId"))


def _code(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
