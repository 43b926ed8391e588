"""S3 "Object Created" events as EventBridge delivers them, and a local bus with rules.

The event is built in the exact EventBridge shape, ``detail.object.key`` unencoded as
EventBridge's S3 events carry it (classic S3 notifications URL-encode it; see
lambdas/README.md for the evidence), and the bus filters with the same
``statemachine/upload_rule.json`` pattern the CDK stack deploys.
"""

from __future__ import annotations

import json
import secrets
import string
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facepipe.local.events.pattern import EventPattern, EventPatternError
from facepipe.local.objectstore import StoredObject
from facepipe.resources import upload_rule_path

BUCKET_NAME_PLACEHOLDER = "${BucketName}"
LOCAL_ACCOUNT = "000000000000"
LOCAL_REGION = "us-east-1"
_REQUEST_ID_ALPHABET = string.ascii_uppercase + string.digits

EventTarget = Callable[[dict[str, Any]], None]


def object_created_event(
    obj: StoredObject,
    *,
    region: str = LOCAL_REGION,
    account: str = LOCAL_ACCOUNT,
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """The EventBridge event S3 sends for a PutObject of ``obj``."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": account,
        "time": obj.last_modified,
        "region": region,
        "resources": [f"arn:aws:s3:::{obj.bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": obj.bucket},
            "object": {
                "key": obj.key,
                "size": obj.size,
                "etag": obj.etag.strip('"'),  # events carry the ETag without HeadObject's quotes
                "version-id": obj.version_id,
                "sequencer": obj.sequencer,
            },
            "request-id": "".join(secrets.choice(_REQUEST_ID_ALPHABET) for _ in range(16)),
            "requester": account,
            "source-ip-address": source_ip,
            "reason": "PutObject",
        },
    }


class UploadRuleError(ValueError):
    """The upload rule file is not a pattern EventBridge would take; the message names it."""


def load_upload_rule(bucket: str, path: Path | None = None) -> EventPattern:
    """The deployed rule's pattern, with ``${BucketName}`` replaced by ``bucket``."""
    source = path or upload_rule_path()
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UploadRuleError(f"{source} is not valid JSON: {exc}") from None
    try:
        return EventPattern(_substitute(raw, BUCKET_NAME_PLACEHOLDER, bucket))
    except EventPatternError as error:
        # What PutRule would answer for this file at `cdk deploy`, said before any run.
        raise UploadRuleError(f"{source}: {error}") from None


def _substitute(node: Any, placeholder: str, value: str) -> Any:
    if isinstance(node, str):
        return node.replace(placeholder, value)
    if isinstance(node, list):
        return [_substitute(item, placeholder, value) for item in node]
    if isinstance(node, Mapping):
        return {key: _substitute(item, placeholder, value) for key, item in node.items()}
    return node


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: EventPattern
    target: EventTarget


class LocalEventBus:
    """Delivers each event to the target of every rule whose pattern matches it."""

    def __init__(self) -> None:
        self._rules: list[Rule] = []
        self._lock = threading.Lock()

    def add_rule(self, name: str, pattern: EventPattern, target: EventTarget) -> None:
        with self._lock:
            if any(rule.name == name for rule in self._rules):
                raise ValueError(f"a rule named {name!r} is already on the bus")
            self._rules.append(Rule(name, pattern, target))

    def put_event(self, event: dict[str, Any]) -> list[str]:
        """Deliver to every matching rule's target; return the names of the rules that matched.

        A failing target does not keep the event from the others; the first error is raised
        after all were tried.
        """
        with self._lock:
            matched = [rule for rule in self._rules if rule.pattern.matches(event)]
        errors: list[Exception] = []
        for rule in matched:
            try:
                rule.target(event)
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
        return [rule.name for rule in matched]


class S3EventSource:
    """Turns each new object version into an "Object Created" event on a bus.

    Pass it as ``LocalObjectStore(on_object_created=S3EventSource(bus))``.
    """

    def __init__(
        self, bus: LocalEventBus, *, region: str = LOCAL_REGION, account: str = LOCAL_ACCOUNT
    ) -> None:
        self.bus = bus
        self.region = region
        self.account = account

    def __call__(self, obj: StoredObject) -> None:
        self.bus.put_event(object_created_event(obj, region=self.region, account=self.account))


def skip_reason(key: str) -> str:
    return f"the upload rule does not take {key!r}; it takes keys like " + ", ".join(
        accepted_key_patterns()
    )


def object_created_shape(bucket: str, key: str) -> dict[str, Any]:
    """What the upload rule looks at in an "Object Created" event of ``key``."""
    return {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": bucket}, "object": {"key": key}},
    }


def accepted_key_patterns() -> list[str]:
    """The object keys the upload rule takes, for telling people why a file was skipped."""
    rule = json.loads(upload_rule_path().read_text(encoding="utf-8"))
    matchers = rule.get("detail", {}).get("object", {}).get("key", [])
    patterns: list[str] = []
    for matcher in matchers:
        text = next(iter(matcher.values())) if isinstance(matcher, dict) else matcher
        if isinstance(text, str) and text.lower() not in patterns:
            patterns.append(text.lower())
    return patterns
