"""EventBridge content filtering, checked case by case and against moto's matcher."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.events.models import EventPattern as MotoEventPattern

from facepipe.local.eventpattern import EventPattern, EventPatternError

EVENT: dict[str, Any] = {
    "version": "0",
    "id": "17793124-05d4-b198-2fde-7ededc63b103",
    "detail-type": "Object Created",
    "source": "aws.s3",
    "account": "111122223333",
    "time": "2021-11-12T00:00:00Z",
    "region": "ca-central-1",
    "resources": ["arn:aws:s3:::faces-in", "arn:aws:s3:::other"],
    "detail": {
        "version": "0",
        "bucket": {"name": "faces-in"},
        "object": {
            "key": "uploads/Holiday+Photo.JPG",
            "size": 5120,
            "etag": "b1946ac92492d2347c6235b4d2611184",
            "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
            "sequencer": "00617F08299329D189",
        },
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
        "source-ip-address": "10.0.1.17",
        "reason": "PutObject",
        "empty": None,
        "tags": ["faces", "holiday"],
    },
}

# (pattern, expected) pairs on EVENT; ours and moto's must both give `expected`.
CASES: list[tuple[dict[str, Any], bool]] = [
    ({"source": ["aws.s3"]}, True),
    ({"source": ["aws.ec2"]}, False),
    ({"source": ["aws.ec2", "aws.s3"]}, True),
    ({"source": ["AWS.S3"]}, False),  # exact matching is case-sensitive
    ({"detail": {"bucket": {"name": ["faces-in"]}}}, True),
    ({"detail": {"bucket": {"name": ["faces-out"]}}}, False),
    ({"detail": {"object": {"size": [5120]}}}, True),
    ({"detail": {"object": {"size": [5120.0]}}}, True),
    ({"detail": {"object": {"size": ["5120"]}}}, False),  # a string is not the number
    ({"detail": {"empty": [None]}}, True),
    ({"detail": {"reason": [None]}}, False),
    ({"resources": ["arn:aws:s3:::other"]}, True),  # any element of an event array
    ({"resources": ["arn:aws:s3:::third"]}, False),
    ({"detail": {"object": {"key": [{"prefix": "uploads/"}]}}}, True),
    ({"detail": {"object": {"key": [{"prefix": "Uploads/"}]}}}, False),
    ({"detail": {"object": {"key": [{"prefix": {"equals-ignore-case": "UPLOADS/"}}]}}}, True),
    ({"detail": {"object": {"key": [{"suffix": ".jpg"}]}}}, False),
    ({"detail": {"object": {"key": [{"suffix": ".JPG"}]}}}, True),
    ({"detail": {"object": {"key": [{"suffix": {"equals-ignore-case": ".jpg"}}]}}}, True),
    ({"detail": {"object": {"key": [{"suffix": {"equals-ignore-case": ".png"}}]}}}, False),
    ({"detail": {"reason": [{"equals-ignore-case": "putobject"}]}}, True),
    ({"detail": {"reason": [{"equals-ignore-case": "copyobject"}]}}, False),
    ({"detail": {"object": {"key": [{"wildcard": "uploads/*.JPG"}]}}}, True),
    ({"detail": {"object": {"key": [{"wildcard": "uploads/*.jpg"}]}}}, False),
    ({"detail": {"object": {"key": [{"wildcard": "*Photo*"}]}}}, True),
    ({"detail": {"object": {"key": [{"wildcard": "uploads/\\*"}]}}}, False),  # literal '*'
    ({"detail": {"reason": [{"anything-but": "CopyObject"}]}}, True),
    ({"detail": {"reason": [{"anything-but": ["PutObject", "CopyObject"]}]}}, False),
    ({"detail": {"object": {"size": [{"anything-but": [0, 1]}]}}}, True),
    ({"detail": {"object": {"key": [{"anything-but": {"prefix": "uploads/"}}]}}}, False),
    ({"detail": {"object": {"key": [{"anything-but": {"prefix": "thumbs/"}}]}}}, True),
    ({"detail": {"object": {"key": [{"anything-but": {"suffix": ".JPG"}}]}}}, False),
    ({"detail": {"reason": [{"anything-but": {"equals-ignore-case": "putobject"}}]}}, False),
    ({"detail": {"object": {"key": [{"anything-but": {"wildcard": "*.png"}}]}}}, True),
    ({"detail": {"reason": [{"exists": True}]}}, True),
    ({"detail": {"reason": [{"exists": False}]}}, False),
    ({"detail": {"deletion-type": [{"exists": False}]}}, True),
    ({"detail": {"deletion-type": [{"exists": True}]}}, False),
    ({"detail": {"nothing": {"below": [{"exists": False}]}}}, True),
    ({"detail": {"deletion-type": ["x", {"exists": False}]}}, True),
    ({"detail": {"object": {"size": [{"numeric": [">", 0]}]}}}, True),
    ({"detail": {"object": {"size": [{"numeric": [">", 0, "<=", 5120]}]}}}, True),
    ({"detail": {"object": {"size": [{"numeric": [">", 0, "<", 5120]}]}}}, False),
    ({"detail": {"object": {"size": [{"numeric": ["=", 5120]}]}}}, True),
    ({"detail": {"object": {"key": [{"numeric": [">", 0]}]}}}, False),  # not a number
    ({"detail": {"source-ip-address": [{"cidr": "10.0.0.0/16"}]}}, True),
    ({"detail": {"source-ip-address": [{"cidr": "192.168.0.0/16"}]}}, False),
    ({"detail": {"tags": ["holiday"]}}, True),
    ({"detail": {"tags": [{"prefix": "fa"}]}}, True),
    ({"detail": {"tags": [{"anything-but": ["faces", "holiday"]}]}}, False),
    (
        {
            "source": ["aws.s3"],
            "$or": [
                {"detail": {"object": {"size": [{"numeric": [">", 10000]}]}}},
                {"detail": {"reason": ["PutObject"]}},
            ],
        },
        True,
    ),
    (
        {
            "$or": [
                {"detail": {"object": {"size": [{"numeric": [">", 10000]}]}}},
                {"detail": {"reason": ["CopyObject"]}},
            ]
        },
        False,
    ),
    (
        {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {
                "bucket": {"name": ["faces-in"]},
                "object": {"key": [{"prefix": "uploads/"}], "size": [{"numeric": [">", 0]}]},
            },
        },
        True,
    ),
    (
        {
            "source": ["aws.s3"],
            "detail": {"bucket": {"name": ["faces-in"]}, "object": {"key": [{"prefix": "x"}]}},
        },
        False,  # every field must match
    ),
]


@pytest.mark.parametrize(("pattern", "expected"), CASES, ids=[json.dumps(p) for p, _ in CASES])
def test_matches_like_eventbridge_and_agrees_with_moto(pattern: dict[str, Any], expected: bool):
    ours = EventPattern(pattern).matches(EVENT)
    motos = MotoEventPattern.load(json.dumps(pattern)).matches_event(EVENT)

    assert ours is expected
    assert motos is expected


# Where moto's matcher is looser than EventBridge, ours follows EventBridge (documented: only
# leaf values count as present, and booleans are not numbers).
STRICTER_THAN_MOTO: list[tuple[dict[str, Any], dict[str, Any], bool]] = [
    ({"flag": [1]}, {"flag": True}, False),
    ({"flag": [{"numeric": [">", 0]}]}, {"flag": True}, False),
    ({"list": [{"exists": True}]}, {"list": []}, False),
    ({"obj": [{"exists": True}]}, {"obj": {}}, False),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), STRICTER_THAN_MOTO)
def test_booleans_are_not_numbers_and_empty_containers_are_absent(
    pattern: dict[str, Any], event: dict[str, Any], expected: bool
):
    assert EventPattern(pattern).matches(event) is expected


def test_a_pattern_may_be_given_as_json_text():
    assert EventPattern('{"source": ["aws.s3"]}').matches(EVENT)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        ({"source": "aws.s3"}, r'source: must be an object or an array of values, got "aws.s3"'),
        ({"source": []}, "source: an empty array matches nothing"),
        ({"detail": {}}, "detail: an empty object matches nothing"),
        ({"detail": {"key": [{"prefx": "a"}]}}, "detail.key: unknown operator 'prefx'"),
        ({"k": [{"prefix": "a", "suffix": "b"}]}, "exactly one operator"),
        ({"k": [{"prefix": 1}]}, "k prefix: needs a string"),
        ({"k": [{"suffix": {"equals-ignore-case": 1}}]}, "equals-ignore-case"),
        ({"k": [{"numeric": [">"]}]}, r"needs \[op, number\]"),
        ({"k": [{"numeric": ["~", 1]}]}, "is not an operator"),
        ({"k": [{"exists": "yes"}]}, "needs true or false"),
        ({"k": [{"cidr": "10.0.0.0/99"}]}, "is not an IP network"),
        ({"k": [{"wildcard": "a**b"}]}, "consecutive wildcards"),
        ({"k": [{"anything-but": {"numeric": [">", 1]}}]}, "'numeric' cannot nest here"),
        ({"k": [{"anything-but": [None]}]}, "needs strings or numbers"),
        ({"$or": [{"a": ["x"]}]}, "at least two sub-patterns"),
        ({"k": [["nested"]]}, "is not a value or an operator"),
    ],
)
def test_bad_patterns_say_where_and_why(pattern: Any, message: str):
    with pytest.raises(EventPatternError, match=message):
        EventPattern(pattern)
