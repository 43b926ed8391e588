"""The upload rule, held to EventBridge's own rules rather than to moto's.

EventBridge ORs the conditions listed for one field, so "under uploads/" AND "ends in .jpg
in any case" can only be written with wildcards, and the 32 case spellings this rule used to
list score 64 on event-ruler's MachineComplexityEvaluator: PutRule refuses that with
InvalidEventPatternException ("Rule is too complex"), minutes into a deployment. The rule
takes every key under uploads/ with a plain prefix (complexity 0) and the state machine
refuses a key not named as a JPEG or PNG (tests/unit/lambdas/test_lambda_state_machine_run.py).
Patterns are matched by facepipe.local.events.pattern, which follows event-ruler, and moto
must agree on the ones the moto tests rely on.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from infra_synth import Synthesized
from moto.events.models import EventPattern as MotoEventPattern

from facepipe.local.events.pattern import EventPattern, EventPatternError, pattern_complexity
from infra.backfill import RESULTS_PREFIX
from infra.sources import SourceFileError, upload_rule_pattern
from infra.storage import UPLOAD_PREFIX

BUCKET = "facepipe-images-123"


def object_created(key: str, *, bucket: str = BUCKET, detail_type: str = "Object Created") -> Any:
    """An EventBridge S3 event as S3 sends it (detail-type, source, detail.bucket/object)."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-25T12:00:00Z",
        "region": "eu-west-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key,
                "size": 5,
                "etag": "b1946ac92492d2347c6235b4d2611184",
                "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
                "sequencer": "00617F08299329D189",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject",
        },
    }


def _wildcards(node: Any) -> list[Any]:
    if isinstance(node, dict):
        found = [node] if "wildcard" in node else []
        return found + [w for value in node.values() for w in _wildcards(value)]
    if isinstance(node, list):
        return [w for item in node for w in _wildcards(item)]
    return []


@pytest.fixture(scope="module")
def rule() -> EventPattern:
    return EventPattern(upload_rule_pattern(BUCKET))


def test_the_deployed_pattern_has_no_wildcard_and_complexity_zero(
    default_stack: Synthesized,
) -> None:
    _, resource = default_stack.only("AWS::Events::Rule")
    deployed = resource["Properties"]["EventPattern"]
    assert _wildcards(deployed) == []
    assert "wildcard" not in json.dumps(deployed)
    assert pattern_complexity(upload_rule_pattern(BUCKET), cap=100) == 0
    assert deployed["detail"]["object"]["key"] == [{"prefix": UPLOAD_PREFIX}]


def test_the_old_32_wildcard_rule_is_refused_and_the_new_one_accepted() -> None:
    spellings = {
        "".join(letters)
        for extension in ("jpg", "jpeg", "png")
        for letters in itertools.product(*[(c.lower(), c.upper()) for c in extension])
    }
    old = upload_rule_pattern(BUCKET)
    old["detail"]["object"]["key"] = [{"wildcard": f"uploads/*.{s}"} for s in sorted(spellings)]
    with pytest.raises(EventPatternError) as refused:
        EventPattern(old)
    assert refused.value.reason.startswith("Rule is too complex")
    assert EventPattern(upload_rule_pattern(BUCKET)).wildcard_complexity == 0


@pytest.mark.parametrize(
    "key",
    [
        "uploads/a.jpg",
        "uploads/B.JPeG",
        "uploads/x/y.PNG",
        "uploads/with space.jpg",
        "uploads/a+b.jpg",
        "uploads/notes.txt",  # taken, then refused by name in Detect (recorded FAILED)
        "uploads/",
    ],
)
def test_takes_every_key_under_uploads(rule: EventPattern, key: str) -> None:
    assert rule.matches(object_created(key))
    assert MotoEventPattern.load(json.dumps(rule.pattern)).matches_event(object_created(key))


@pytest.mark.parametrize(
    "key",
    [
        "other/a.jpg",
        "Uploads/a.jpg",
        "xuploads/a.jpg",
        "uploads",
        # Wherever the pipeline may one day write (annotated copies, thumbnails, exports)
        # is outside uploads/, so its own objects never start it again.
        "annotated/uploads/a.jpg",
        "thumbnails/a.jpg",
        "results/uploads/a.png",
    ],
)
def test_nothing_outside_uploads_starts_the_pipeline(rule: EventPattern, key: str) -> None:
    assert not rule.matches(object_created(key))


def test_rejects_other_buckets(rule: EventPattern) -> None:
    assert not rule.matches(object_created("uploads/a.jpg", bucket="someone-else"))


@pytest.mark.parametrize("detail_type", ["Object Deleted", "Object Restore Completed"])
def test_rejects_other_detail_types(rule: EventPattern, detail_type: str) -> None:
    assert not rule.matches(object_created("uploads/a.jpg", detail_type=detail_type))


def test_rejects_other_sources(rule: EventPattern) -> None:
    event = object_created("uploads/a.jpg")
    event["source"] = "custom.uploader"
    assert not rule.matches(event)


def test_nothing_the_pipeline_runs_can_write_under_uploads(default_stack: Synthesized) -> None:
    """No function can put an object anywhere; the one writer is the backfill's ResultWriter,
    and only under its results prefix, outside uploads/ (so its files start no execution:
    tests/infra/test_infra_backfill.py matches their events against this rule)."""
    writers = []
    for policy in default_stack.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            actions = actions if isinstance(actions, list) else [actions]
            assert "s3:*" not in actions
            if [a for a in actions if a.startswith("s3:Put")]:
                writers.append(json.dumps(statement["Resource"]))
    assert len(writers) == 1
    assert writers[0].endswith(f'"/{RESULTS_PREFIX}/*"]]}}')


def test_bucket_placeholder_is_required(tmp_path: Path) -> None:
    pattern_file = tmp_path / "upload_rule.json"
    pattern_file.write_text(json.dumps({"source": ["aws.s3"]}))
    with pytest.raises(SourceFileError, match=r"\$\{BucketName\}"):
        upload_rule_pattern(BUCKET, pattern_file)


def test_malformed_pattern_file_names_the_file(tmp_path: Path) -> None:
    pattern_file = tmp_path / "upload_rule.json"
    pattern_file.write_text('{"source": ["aws.s3"],')
    with pytest.raises(SourceFileError, match=r"upload_rule\.json is not valid JSON"):
        upload_rule_pattern(BUCKET, pattern_file)
