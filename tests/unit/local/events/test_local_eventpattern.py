"""EventBridge content filtering: the user guide's examples, and event-ruler's refusals.

Matching cases start from the EventBridge user guide's examples, "Content filtering in Amazon
EventBridge event patterns" (docs.aws.amazon.com/eventbridge/latest/userguide/
eb-create-pattern-operators.html), "Arrays in Amazon EventBridge event patterns" and the
"$or" examples (the time prefix, service and FileName with equals-ignore-case, the state and
x-limit anything-buts, the c-count/d-count/x-limit numerics, source-ip cidr, c-count exists,
the EventBusArn wildcard), on an event holding the fields they filter; the other cases put
the same operators to the edges event-ruler's README describes. Refusals carry the reason
event-ruler's JsonRuleCompiler gives (EventBridge returns it in InvalidEventPatternException:
"Event pattern is not valid. Reason: ...").
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from facepipe.local.events.pattern import EventPattern, EventPatternError

# An event with the fields the guide's examples filter on.
EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-10-02T18:43:48Z",
    "region": "us-west-1",
    "resources": [
        "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b",
        "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
    ],
    "detail": {
        "instance-id": "i-0123456789abc1234",
        "state": "running",
        "service": "EVENTBRIDGE-Pipes",
        "FileName": "picture.PNG",
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.123",
        "EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/myEventBus",
        "empty": None,
        "tags": ["faces", "holiday"],
        "nested": {"c1": 100},
        "items": [{"kind": "a", "size": 1}, {"kind": "b", "size": 2}],
    },
}

CASES: list[tuple[dict[str, Any], bool]] = [
    # Exact values; every listed value is an alternative; case matters.
    ({"source": ["aws.ec2"]}, True),
    ({"source": ["aws.s3", "aws.ec2"]}, True),
    ({"source": ["AWS.EC2"]}, False),
    ({"detail": {"c-count": [5]}}, True),
    ({"detail": {"c-count": [5.0]}}, True),  # numbers compare as numbers
    ({"detail": {"c-count": ["5"]}}, False),  # a string is not the number
    ({"detail": {"empty": [None]}}, True),
    ({"detail": {"state": [None]}}, False),
    # Arrays: the event matches when the pattern's and the event's arrays share a value.
    ({"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}, True),
    ({"resources": ["arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f"]}, False),
    # Prefix, and prefix with equals-ignore-case.
    ({"time": [{"prefix": "2017-10-02"}]}, True),
    ({"time": [{"prefix": "2017-10-03"}]}, False),
    ({"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}, True),
    ({"detail": {"service": [{"prefix": "EventB"}]}}, False),
    # Suffix, and suffix with equals-ignore-case.
    ({"detail": {"FileName": [{"suffix": ".png"}]}}, False),
    ({"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}, True),
    ({"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".jpg"}}]}}, False),
    # Equals-ignore-case.
    ({"detail": {"state": [{"equals-ignore-case": "RUNNING"}]}}, True),
    ({"detail": {"state": [{"equals-ignore-case": "stopped"}]}}, False),
    # Anything-but: a value, a list, numbers, prefix, suffix, equals-ignore-case, wildcard.
    ({"detail": {"state": [{"anything-but": "initializing"}]}}, True),
    ({"detail": {"x-limit": [{"anything-but": 123}]}}, True),
    ({"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}, True),
    ({"detail": {"state": [{"anything-but": ["stopped", "running"]}]}}, False),
    ({"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}, True),
    ({"detail": {"x-limit": [{"anything-but": [301.8]}]}}, False),
    ({"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}, True),
    ({"detail": {"state": [{"anything-but": {"prefix": "run"}}]}}, False),
    ({"detail": {"state": [{"anything-but": {"prefix": ["init", "run"]}}]}}, False),
    ({"detail": {"instance-id": [{"anything-but": {"suffix": "1234"}}]}}, False),
    ({"detail": {"instance-id": [{"anything-but": {"suffix": ["5678", "9999"]}}]}}, True),
    ({"detail": {"state": [{"anything-but": {"equals-ignore-case": "Running"}}]}}, False),
    ({"detail": {"state": [{"anything-but": {"equals-ignore-case": ["Stopped"]}}]}}, True),
    ({"detail": {"FileName": [{"anything-but": {"wildcard": "*.PNG"}}]}}, False),
    ({"detail": {"FileName": [{"anything-but": {"wildcard": ["*.jpg", "*.gif"]}}]}}, True),
    # A missing field matches no anything-but; a number matches every string anything-but.
    ({"detail": {"absent": [{"anything-but": "x"}]}}, False),
    ({"detail": {"c-count": [{"anything-but": {"prefix": "5"}}]}}, True),
    # Numeric ranges.
    ({"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}, True),
    ({"detail": {"c-count": [{"numeric": [">", 0, "<", 5]}]}}, False),
    ({"detail": {"d-count": [{"numeric": ["<", 10]}]}}, True),
    ({"detail": {"x-limit": [{"numeric": ["=", 3.018e2]}]}}, True),
    ({"detail": {"state": [{"numeric": [">", 0]}]}}, False),  # not a number
    # IP addresses.
    ({"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, True),
    ({"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}, False),
    # Exists: leaf values only; an object is not a leaf.
    ({"detail": {"c-count": [{"exists": True}]}}, True),
    ({"detail": {"c-count": [{"exists": False}]}}, False),
    ({"detail": {"absent": [{"exists": False}]}}, True),
    ({"detail": {"nested": [{"exists": False}]}}, True),
    ({"detail": {"nested": {"c1": [{"exists": True}]}}}, True),
    # Wildcards.
    ({"detail": {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}}, True),
    ({"detail": {"EventBusArn": [{"wildcard": "arn:aws:events:us-west-2:*:event-bus/*"}]}}, False),
    ({"detail": {"FileName": [{"wildcard": "*.png"}]}}, False),  # case-sensitive
    ({"detail": {"FileName": [{"wildcard": "pic*\\*"}]}}, False),  # "\*" is a literal *
    # Arrays in the event.
    ({"detail": {"tags": ["holiday"]}}, True),
    ({"detail": {"tags": [{"prefix": "fa"}]}}, True),
    ({"detail": {"tags": [{"anything-but": ["faces", "holiday"]}]}}, False),
    # Fields of one pattern object match within one element of an array of objects.
    ({"detail": {"items": {"kind": ["a"], "size": [1]}}}, True),
    ({"detail": {"items": {"kind": ["a"], "size": [2]}}}, False),
    # "$or", and the implicit AND of fields.
    (
        {
            "source": ["aws.ec2"],
            "$or": [
                {"detail": {"c-count": [{"numeric": [">", 10]}]}},
                {"detail": {"d-count": [3]}},
            ],
        },
        True,
    ),
    ({"$or": [{"source": ["aws.s3"]}, {"detail": {"state": ["stopped"]}}]}, False),
    (
        {"detail": {"$or": [{"state": ["stopped"]}, {"x-limit": [{"numeric": [">", 300]}]}]}},
        True,
    ),
    ({"source": ["aws.ec2"], "detail": {"state": ["stopped"]}}, False),
]


@pytest.mark.parametrize(("pattern", "expected"), CASES, ids=[json.dumps(p) for p, _ in CASES])
def test_matches_as_the_user_guide_says(pattern: dict[str, Any], expected: bool) -> None:
    assert EventPattern(pattern).matches(EVENT) is expected


# Booleans are JSON booleans, not numbers; empty containers hold no leaf value.
@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        ({"flag": [1]}, {"flag": True}, False),
        ({"flag": [{"numeric": [">", 0]}]}, {"flag": True}, False),
        ({"flag": [True]}, {"flag": True}, True),
        ({"list": [{"exists": True}]}, {"list": []}, False),
        ({"obj": [{"exists": True}]}, {"obj": {}}, False),
        ({"ip": ["10.0.0.1"]}, {"ip": "10.0.0.1"}, True),
        ({"ip": ["::1"]}, {"ip": "0:0:0:0:0:0:0:1"}, True),  # an IP pattern is an address
        ({"v": [{"wildcard": "*ü*"}]}, {"v": "Grüße"}, True),
    ],
)
def test_value_kinds(pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    assert EventPattern(pattern).matches(event) is expected


def test_a_pattern_may_be_given_as_json_text() -> None:
    assert EventPattern('{"source": ["aws.ec2"]}').matches(EVENT)


# (pattern, event-ruler's reason, where): JsonRuleCompiler's barf() messages, CIDR's and
# WildcardParser's. The "must be an object or an array" text is also recorded from PutRule
# itself (buildkite/docs#896: 'Reason: "slug" must be an object or an array').
MIXED = (
    "Inside anything but list, either all values are number or string, mixed type is not supported"
)
IGNORE_CASE_TYPES = (
    "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
)
REFUSED: list[tuple[Any, str, str]] = [
    ("[1]", "Filter is not an object", ""),
    ({"source": "aws.s3"}, '"source" must be an object or an array', "source"),
    ({"source": []}, "Empty arrays are not allowed", "source"),
    ({"detail": {}}, "Empty objects are not allowed", "detail"),
    ({"k": [["nested"]]}, "Match value must be String, number, true, false, or null", "k"),
    ({"k": [{}]}, "Match expression name not found", "k"),
    ({"k": [{"prefx": "a"}]}, "Unrecognized match type prefx", "k"),
    ({"k": [{"prefix": "a", "suffix": "b"}]}, "Only one key allowed in match expression", "k"),
    ({"k": [{"prefix": 1}]}, "prefix match pattern must be a string", "k"),
    ({"k": [{"suffix": None}]}, "suffix match pattern must be a string", "k"),
    ({"k": [{"prefix": {"wildcard": "a"}}]}, "Unsupported prefix pattern: wildcard", "k"),
    (
        {"k": [{"suffix": {"equals-ignore-case": 1}}]},
        "equals-ignore-case match pattern must be a string",
        "k",
    ),
    (
        {"k": [{"equals-ignore-case": ["a"]}]},
        "equals-ignore-case match pattern must be a string",
        "k",
    ),
    ({"k": [{"wildcard": "a**b"}]}, "Consecutive wildcard characters at pos 1", "k"),
    ({"k": [{"wildcard": 7}]}, "wildcard match pattern must be a string", "k"),
    ({"k": [{"numeric": 5}]}, "Value of numeric must be an array.", "k"),
    ({"k": [{"numeric": []}]}, "Invalid member in numeric match: ]", "k"),
    ({"k": [{"numeric": [5]}]}, "Invalid member in numeric match: 5", "k"),
    ({"k": [{"numeric": ["~", 1]}]}, "Unrecognized numeric range operator: ~", "k"),
    ({"k": [{"numeric": [">"]}]}, "Value of > must be numeric", "k"),
    ({"k": [{"numeric": ["=", "1"]}]}, "Value of equals must be numeric", "k"),
    ({"k": [{"numeric": ["<", 5, ">", 1]}]}, "Too many elements in numeric expression", "k"),
    ({"k": [{"numeric": [">", 1, 5]}]}, "Bad value in numeric range: 5", "k"),
    ({"k": [{"numeric": [">", 1, ">", 5]}]}, "Bad numeric range operator: >", "k"),
    (
        {"k": [{"numeric": [">", 1, "<", 5, "<", 6]}]},
        "Too many terms in numeric range expression",
        "k",
    ),
    ({"k": [{"numeric": [">", 5, "<", 1]}]}, "Bottom must be less than top", "k"),
    (
        {"k": [{"numeric": ["=", 12345678901234567891]}]},
        "Cannot compare number : 12345678901234567891",
        "k",
    ),
    ({"k": [{"exists": "yes"}]}, "exists match pattern must be either true or false.", "k"),
    ({"k": [{"cidr": "10.0.0.0"}]}, "Malformed CIDR, one '/' required", "k"),
    ({"k": [{"cidr": "10.0.0.0/x"}]}, "Malformed CIDR, mask bits must be an integer", "k"),
    ({"k": [{"cidr": "10.0.0.0/32"}]}, "IPv4 mask bits must be < 32", "k"),
    ({"k": [{"cidr": "ten/8"}]}, "Nonstandard IP address: ten", "k"),
    (
        {"k": [{"anything-but": None}]},
        "Value of anything-but must be an array or single string/number value.",
        "k",
    ),
    (
        {"k": [{"anything-but": [None]}]},
        "Inside anything but list, start|null|boolean is not supported.",
        "k",
    ),
    ({"k": [{"anything-but": ["a", 1]}]}, MIXED, "k"),
    ({"k": [{"anything-but": []}]}, MIXED, "k"),
    (
        {"k": [{"anything-but": {"numeric": [">", 1]}}]},
        "Unsupported anything-but pattern: numeric",
        "k",
    ),
    ({"k": [{"anything-but": {"prefix": ""}}]}, "Null prefix/suffix not allowed", "k"),
    (
        {"k": [{"anything-but": {"suffix": [1]}}]},
        "prefix/suffix match pattern must be a string",
        "k",
    ),
    ({"k": [{"anything-but": {"equals-ignore-case": [1]}}]}, IGNORE_CASE_TYPES, "k"),
    (
        {"k": [{"anything-but": {"wildcard": "a**"}}]},
        "Consecutive wildcard characters at pos 1",
        "k",
    ),
    ({"$or": {"a": ["x"]}}, "It must be an Array followed with $or.", "$or"),
    (
        {"$or": [{"a": ["x"]}, "b"]},
        "Only JSON object is allowed in array of $or relationship.",
        "$or",
    ),
    ({"$or": [{"a": ["x"]}]}, "There must have at least 2 Objects in $or relationship.", "$or"),
    (
        {"$or": [{"prefix": ["x"]}, {"b": ["y"]}]},
        "prefix is Ruler reserved fieldName which cannot be used inside $or.",
        "prefix",
    ),
]


@pytest.mark.parametrize(("pattern", "reason", "where"), REFUSED, ids=[r for _, r, _ in REFUSED])
def test_refuses_what_eventbridge_refuses_with_its_reason(
    pattern: Any, reason: str, where: str
) -> None:
    with pytest.raises(EventPatternError) as refused:
        EventPattern(pattern)
    assert refused.value.reason == reason
    assert refused.value.where == where
    assert str(refused.value).startswith(f"Event pattern is not valid. Reason: {reason}")


def test_text_that_is_not_json_is_refused() -> None:
    with pytest.raises(EventPatternError, match=r"Reason: Invalid JSON"):
        EventPattern("{not json")


def test_reserved_names_are_fields_outside_or() -> None:
    assert EventPattern({"prefix": ["x"]}).matches({"prefix": "x"})
