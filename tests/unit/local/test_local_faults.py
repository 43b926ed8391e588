"""Fault injection: off by default, parsed from FACEPIPE_FAULTS, raising AWS's error names."""

from __future__ import annotations

from collections import Counter

import pytest

from facepipe.local.faults import (
    NO_FAULTS,
    FaultPlan,
    faults_from_env,
    parse_faults,
    with_detector_faults,
)
from facepipe.local.recordstore import SqliteRecordStore
from lambdas.domain.errors import (
    ConfigurationError,
    ProvisionedThroughputExceededException,
    ServiceUnavailableError,
    ThrottlingException,
)
from lambdas.domain.model import ImageRef


def test_off_unless_asked_for():
    assert faults_from_env({}) is NO_FAULTS
    assert faults_from_env({"FACEPIPE_FAULTS": "  "}) is NO_FAULTS
    assert not NO_FAULTS.enabled
    for service in ("detector", "store", "smtp", "objects"):
        NO_FAULTS.check(service)  # never raises


def test_parses_rates_outage_and_seed():
    plan = parse_faults("detector:0.05, store:0.1,smtp_down_for:1.5m,seed:7")

    assert plan.rates == {"detector": 0.05, "store": 0.1}
    assert plan.smtp_down_for == 90.0
    assert plan.seed == 7
    assert plan.enabled


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("detecter:0.1", "unknown fault service 'detecter'"),
        ("store:lots", "needs a number"),
        ("store:1.5", "must be 0..1"),
        ("store", "should look like name:value"),
        ("smtp_down_for:soon", "is not a duration"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, message: str):
    with pytest.raises(ConfigurationError, match=message):
        parse_faults(spec)


def test_rates_are_honoured_with_the_services_own_errors():
    plan = FaultPlan(rates={"detector": 0.3}, seed=1)
    raised: Counter[str] = Counter()
    for _ in range(2000):
        try:
            plan.check("detector")
        except (ThrottlingException, ProvisionedThroughputExceededException) as exc:
            raised[type(exc).__name__] += 1

    assert 450 < sum(raised.values()) < 750
    assert set(raised) == {"ThrottlingException", "ProvisionedThroughputExceededException"}


def test_the_smtp_outage_ends_after_its_duration():
    now = [100.0]
    plan = FaultPlan(smtp_down_for=10, clock=lambda: now[0])

    with pytest.raises(ServiceUnavailableError):
        plan.check("smtp")
    now[0] = 110.0
    plan.check("smtp")


def test_the_record_store_consults_the_plan(tmp_path):
    store = SqliteRecordStore(tmp_path / "r.sqlite3", faults=FaultPlan(rates={"store": 1.0}))

    with pytest.raises((ProvisionedThroughputExceededException, ThrottlingException)):
        store.get("k", "v")


class CountingDetector:
    """Answers like Rekognition with one face; counts the calls that reached it."""

    def __init__(self) -> None:
        self.calls = 0

    def detect_faces(self, image: ImageRef, attributes: str) -> list[dict[str, object]]:
        self.calls += 1
        return [{"Confidence": 99.9}]


def test_detector_faults_stop_the_call_before_the_detector():
    image = ImageRef("b", "k.jpg", "v1", "e", 1, "01", "")
    detector = CountingDetector()

    assert with_detector_faults(detector, NO_FAULTS) is detector
    always = with_detector_faults(detector, FaultPlan(rates={"detector": 1.0}))
    with pytest.raises((ThrottlingException, ProvisionedThroughputExceededException)):
        always.detect_faces(image, "DEFAULT")
    assert detector.calls == 0
    never = with_detector_faults(detector, FaultPlan(rates={"detector": 1e-12}, seed=3))
    assert never.detect_faces(image, "DEFAULT") == [{"Confidence": 99.9}]
    assert detector.calls == 1


def test_detector_tps_caps_calls_per_second_with_rekognitions_error():
    """Rekognition's default quotas are transactions per second per operation (its "Default
    quotas" page); above one it answers ProvisionedThroughputExceededException ("The number of
    requests exceeded your throughput limit"). A refused call does not use up the second."""
    now = [50.0]
    plan = parse_faults("detector_tps:2", clock=lambda: now[0])
    image = ImageRef("b", "k.jpg", "v1", "e", 1, "01", "")
    detector = CountingDetector()
    capped = with_detector_faults(detector, plan)

    assert plan.enabled and plan.detector_tps == 2
    capped.detect_faces(image, "DEFAULT")
    now[0] += 0.4
    capped.detect_faces(image, "DEFAULT")
    with pytest.raises(ProvisionedThroughputExceededException, match="Provisioned rate exceeded"):
        capped.detect_faces(image, "DEFAULT")
    assert detector.calls == 2
    now[0] += 0.6  # the first call is a second old: one slot is free again, not two
    capped.detect_faces(image, "DEFAULT")
    with pytest.raises(ProvisionedThroughputExceededException):
        capped.detect_faces(image, "DEFAULT")
    assert detector.calls == 3


@pytest.mark.parametrize(
    ("spec", "message"),
    [("detector_tps:fast", "needs a number"), ("detector_tps:-1", "must not be negative")],
)
def test_bad_detector_tps_says_what_is_wrong(spec: str, message: str):
    with pytest.raises(ConfigurationError, match=message):
        parse_faults(spec)
