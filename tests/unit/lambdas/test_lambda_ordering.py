"""The S3 sequencer rule, and the DynamoDB conditions that must agree with it."""

from __future__ import annotations

import itertools

import pytest
from lambda_factories import object_created_event

from lambdas.aws.dynamodb import DynamoDbRecordStore
from lambdas.domain.model import FaceRecord, ImageRef
from lambdas.domain.ordering import (
    InvalidSequencerError,
    sortable_sequencer,
    supersedes,
)


def test_sequencers_of_different_lengths_compare_after_right_padding():
    # S3 (current user guide): right-pad the shorter with zeros, then compare lexicographically.
    assert sortable_sequencer("0100") < sortable_sequencer("FF")
    assert sortable_sequencer("62E99A88DC4074") < sortable_sequencer("62E99A88DC407461")
    assert sortable_sequencer("0062E99A88DC407460") < sortable_sequencer("62E99A88DC407461")
    assert sortable_sequencer("617f08299329d189") == sortable_sequencer("617F08299329D189")
    assert sortable_sequencer("") == sortable_sequencer("0")  # no sequencer sorts first


@pytest.mark.parametrize("bad", ["xyz", "12 34", "F" * 65])
def test_a_sequencer_s3_would_not_write_is_refused_with_its_value(bad):
    with pytest.raises(InvalidSequencerError, match="hexadecimal"):
        sortable_sequencer(bad)


def test_supersedes_rule():
    assert supersedes("0B", "DETECTED", "0A", "DETECTED")
    assert not supersedes("0A", "DETECTED", "0B", "FAILED")
    assert not supersedes("0A", "DETECTED", "0A", "DETECTED")  # duplicate
    assert supersedes("0A", "DETECTED", "0A", "FAILED")  # repair
    assert not supersedes("0A", "FAILED", "0A", "DETECTED")  # late failure
    assert not supersedes("0A", "FAILED", "0A", "FAILED")


def record(key: str, sequencer: str, status: str) -> FaceRecord:
    return FaceRecord(
        bucket="b", key=key, version_id="null", etag="", size=0, sequencer=sequencer, status=status
    )


CASES = list(
    itertools.product(itertools.product(["F", "0100", "10"], ["DETECTED", "FAILED"]), repeat=2)
)


def test_dynamodb_conditions_agree_with_the_rule(table):
    store = DynamoDbRecordStore(table)
    for number, (stored, new) in enumerate(CASES):
        key = f"uploads/case-{number}.jpg"
        assert store.put_if_newer(record(key, *stored))
        expected = supersedes(new[0], new[1], stored[0], stored[1])
        assert store.put_if_newer(record(key, *new)) is expected, (stored, new)
        kept = store.get(key, "null")
        assert kept is not None
        assert (kept.sequencer, kept.status) == (new if expected else stored), (stored, new)


def test_image_ref_state_round_trip_keeps_the_event_encoding():
    event_key = object_created_event("uploads/a b+c/Ü 100%.jpg")["detail"]["object"]["key"]
    image = ImageRef.from_state({"bucket": "b", "key": event_key})
    assert image.key == "uploads/a b+c/Ü 100%.jpg"
    assert image.to_state()["key"] == event_key
