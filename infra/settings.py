"""Deployment choices read from CDK context (``cdk.json`` defaults, ``-c key=value`` overrides)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

WORKFLOW_TYPES = ("STANDARD", "EXPRESS")
FACE_ATTRIBUTE_CHOICES = ("DEFAULT", "ALL")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")


class ContextError(ValueError):
    """A context value is missing its expected form; the message names the key and the fix."""


@dataclass(frozen=True)
class StackSettings:
    stack_name: str = "FacePipe"
    workflow_type: str = "STANDARD"
    vpc_enabled: bool = True
    notification_email: str | None = None
    face_attributes: str = "DEFAULT"
    min_confidence: float = 90.0
    log_level: str = "INFO"
    log_retention_days: int = 30
    # The account's DetectFaces quota (transactions per second) the backfill is sized for;
    # None takes the documented default of the stack's region (infra/backfill.py).
    detect_faces_tps: int | None = None

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> StackSettings:
        """Build from a context lookup such as ``app.node.try_get_context``."""
        defaults = cls()
        return cls(
            stack_name=_stack_name(get("stackName"), defaults.stack_name),
            workflow_type=_choice(get("workflowType"), "workflowType", WORKFLOW_TYPES, "STANDARD"),
            vpc_enabled=_flag(get("vpc"), "vpc", default=True),
            notification_email=_email(get("notificationEmail")),
            face_attributes=_choice(
                get("faceAttributes"), "faceAttributes", FACE_ATTRIBUTE_CHOICES, "DEFAULT"
            ),
            min_confidence=_confidence(get("minConfidence")),
            log_level=_choice(get("logLevel"), "logLevel", LOG_LEVELS, "INFO"),
            log_retention_days=_retention(get("logRetentionDays")),
            detect_faces_tps=_tps(get("detectFacesTps")),
        )

    @classmethod
    def from_mapping(cls, context: Mapping[str, Any]) -> StackSettings:
        return cls.from_context(context.get)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _stack_name(value: Any, default: str) -> str:
    if _blank(value):
        return default
    if not isinstance(value, str) or not _STACK_NAME.match(value):
        raise ContextError(
            f"stackName={value!r}: use letters, digits and hyphens, starting with a letter"
        )
    return value


def _choice(value: Any, key: str, choices: tuple[str, ...], default: str) -> str:
    if _blank(value):
        return default
    text = str(value).strip().upper()
    if text not in choices:
        raise ContextError(f"{key}={value!r}: expected one of {', '.join(choices)}")
    return text


def _flag(value: Any, key: str, *, default: bool) -> bool:
    # `-c vpc=false` arrives as the string "false"; cdk.json gives a JSON boolean.
    if _blank(value):
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise ContextError(f"{key}={value!r}: expected true or false")


def _email(value: Any) -> str | None:
    if _blank(value):
        return None
    text = str(value).strip()
    if not _EMAIL.match(text):
        raise ContextError(
            f"notificationEmail={value!r} is not an email address "
            "(e.g. -c notificationEmail=me@example.com)"
        )
    return text


def _confidence(value: Any) -> float:
    if _blank(value):
        return 90.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ContextError(f"minConfidence={value!r}: expected a number from 0 to 100") from None
    if not 0 <= number <= 100:
        raise ContextError(f"minConfidence={value!r}: expected a number from 0 to 100")
    return number


# The retention periods CloudWatch Logs accepts (RetentionInDays).
_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827)


def _retention(value: Any) -> int:
    if _blank(value):
        return 30
    try:
        days = int(value)
    except (TypeError, ValueError):
        days = -1
    if days not in _RETENTION_DAYS:
        raise ContextError(
            f"logRetentionDays={value!r}: CloudWatch Logs accepts one of "
            f"{', '.join(map(str, _RETENTION_DAYS))}"
        )
    return days


# A Distributed Map runs at most 10,000 child workflows at once (its MaxConcurrency limit).
MAX_TPS = 10_000


def _tps(value: Any) -> int | None:
    if _blank(value):
        return None
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= MAX_TPS:
        raise ContextError(
            f"detectFacesTps={value!r}: expected the account's DetectFaces quota in "
            f"transactions per second, a whole number from 1 to {MAX_TPS:,} "
            "(Service Quotas > Amazon Rekognition)"
        )
    return int(text)
