"""Fault injection for the local services: OFF unless asked for.

``FACEPIPE_FAULTS=detector:0.05,store:0.05,smtp_down_for:10s,seed:7`` (or a ``FaultPlan``
built in code) makes the local adapters fail now and then with the same transient errors
the real services raise, so retries and the reliability bench see real behaviour.
``detector_tps:5`` caps detector calls per second as Rekognition's DetectFaces TPS quota
does: a call above the cap is refused with ProvisionedThroughputExceededException, the
error Rekognition answers when "the number of requests exceeded your throughput limit".
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lambdas.domain.errors import (
    ConfigurationError,
    ProvisionedThroughputExceededException,
    ServiceUnavailableError,
    StepError,
    ThrottlingException,
)
from lambdas.domain.model import ImageRef
from lambdas.domain.ports import Detector, FaceAttributes

FAULTS_ENV_VAR = "FACEPIPE_FAULTS"

# The errors each real service answers with when it is overloaded or unreachable.
TRANSIENT_ERRORS_BY_SERVICE: dict[str, tuple[type[StepError], ...]] = {
    "detector": (ThrottlingException, ProvisionedThroughputExceededException),  # Rekognition
    "store": (ProvisionedThroughputExceededException, ThrottlingException),  # DynamoDB
    "smtp": (ServiceUnavailableError,),  # the mail server (or SNS)
    "objects": (ServiceUnavailableError,),  # S3's 503 SlowDown
}
SERVICES = tuple(TRANSIENT_ERRORS_BY_SERVICE)
NumberT = TypeVar("NumberT", int, float)

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)?$")
_SECONDS_PER_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}


@dataclass
class FaultPlan:
    """Failure rate per service, plus an optional outage of the mail server from the start."""

    rates: Mapping[str, float] = field(default_factory=dict)
    smtp_down_for: float = 0.0
    seed: int | None = None
    clock: Callable[[], float] = time.monotonic
    detector_tps: float = 0.0  # 0: no cap

    def __post_init__(self) -> None:
        for service, rate in self.rates.items():
            if service not in TRANSIENT_ERRORS_BY_SERVICE:
                raise ConfigurationError(
                    f"unknown fault service {service!r}; known: {', '.join(SERVICES)}"
                )
            if not 0.0 <= rate <= 1.0:
                raise ConfigurationError(f"fault rate for {service} must be 0..1, got {rate}")
        if self.smtp_down_for < 0:
            raise ConfigurationError("smtp_down_for must not be negative")
        if self.detector_tps < 0:
            raise ConfigurationError("detector_tps must not be negative")
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()
        self._smtp_down_until = self.clock() + self.smtp_down_for
        self._detector_calls: deque[float] = deque()  # accepted calls in the last second

    @property
    def enabled(self) -> bool:
        return any(self.rates.values()) or self.smtp_down_for > 0 or self.detector_tps > 0

    @property
    def injects_detector_faults(self) -> bool:
        return bool(self.rates.get("detector")) or self.detector_tps > 0

    def _check_detector_rate(self) -> None:
        """Refuse a call when the last second already holds ``detector_tps`` accepted ones."""
        now = self.clock()
        with self._lock:
            while self._detector_calls and now - self._detector_calls[0] >= 1.0:
                self._detector_calls.popleft()
            if len(self._detector_calls) >= self.detector_tps:
                raise ProvisionedThroughputExceededException(
                    "Provisioned rate exceeded (injected: detector_tps "
                    f"{self.detector_tps:g} per second)"
                )
            self._detector_calls.append(now)

    def check(self, service: str) -> None:
        """Raise the service's transient error if a fault is due now; else return."""
        errors = TRANSIENT_ERRORS_BY_SERVICE[service]
        if service == "detector" and self.detector_tps:
            self._check_detector_rate()
        if service == "smtp" and self.clock() < self._smtp_down_until:
            # As a server that answers "421 try again later": a temporary refusal, retried.
            raise ServiceUnavailableError("injected fault: the SMTP server is down for now")
        rate = self.rates.get(service, 0.0)
        if not rate:
            return
        with self._lock:  # random.Random is not safe to share between threads
            hit = self._random.random() < rate
            error = self._random.choice(errors)
        if hit:
            raise error(f"injected fault: {service} failed transiently")


NO_FAULTS = FaultPlan()


def parse_duration(text: str) -> float:
    """``10s``, ``500ms``, ``2m`` or bare seconds, as seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ConfigurationError(f"{text!r} is not a duration like 10s, 500ms or 2m")
    return float(match.group(1)) * _SECONDS_PER_UNIT[match.group(2)]


def parse_faults(spec: str, clock: Callable[[], float] = time.monotonic) -> FaultPlan:
    """Parse ``service:rate,...,smtp_down_for:10s,detector_tps:N,seed:N`` (empty: no faults)."""
    rates: dict[str, float] = {}
    smtp_down_for = 0.0
    detector_tps = 0.0
    seed: int | None = None
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, value = item.partition(":")
        name, value = name.strip(), value.strip()
        if not sep or not value:
            raise ConfigurationError(f"{FAULTS_ENV_VAR}: {item!r} should look like name:value")
        if name == "smtp_down_for":
            smtp_down_for = parse_duration(value)
        elif name == "seed":
            seed = _parse_number(value, int, item)
        elif name == "detector_tps":
            detector_tps = _parse_number(value, float, item)
        else:
            rates[name] = _parse_number(value, float, item)
    return FaultPlan(
        rates=rates,
        smtp_down_for=smtp_down_for,
        seed=seed,
        clock=clock,
        detector_tps=detector_tps,
    )


def _parse_number(value: str, kind: type[NumberT], item: str) -> NumberT:
    try:
        return kind(value)
    except ValueError:
        raise ConfigurationError(f"{FAULTS_ENV_VAR}: {item!r} needs a number after ':'") from None


def faults_from_env(environ: Mapping[str, str] | None = None) -> FaultPlan:
    """The plan in ``FACEPIPE_FAULTS``, or ``NO_FAULTS`` when it is unset or empty."""
    spec = (os.environ if environ is None else environ).get(FAULTS_ENV_VAR, "")
    return parse_faults(spec) if spec.strip() else NO_FAULTS


class DetectorWithFaults:
    """A Detector that first asks the plan whether Rekognition would have throttled the call."""

    def __init__(self, detector: Detector, plan: FaultPlan) -> None:
        self._detector = detector
        self._plan = plan

    def detect_faces(self, image: ImageRef, attributes: FaceAttributes) -> list[dict[str, Any]]:
        self._plan.check("detector")
        return self._detector.detect_faces(image, attributes)


def with_detector_faults(detector: Detector, plan: FaultPlan) -> Detector:
    """``detector`` itself when the plan injects no detector faults, else wrapped."""
    return DetectorWithFaults(detector, plan) if plan.injects_detector_faults else detector
