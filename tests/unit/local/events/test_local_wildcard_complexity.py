"""Wildcard complexity, scored as EventBridge's matcher (aws/event-ruler) scores it.

The scores are the expected values of event-ruler's own MachineComplexityEvaluatorTest
(src/test/software/amazon/event/ruler/MachineComplexityEvaluatorTest.java); the limit cases
are real PutRule outcomes that were published.
"""

from __future__ import annotations

import itertools

import pytest

from facepipe.local.events.pattern import (
    MAX_WILDCARD_COMPLEXITY,
    EventPattern,
    EventPatternError,
    pattern_complexity,
)
from facepipe.local.events.wildcard_complexity import complexity, parse_wildcard

QUAMINA_EXPLODER = [
    "aahed*",
    "aal*ii",
    "aargh*",
    "aarti*",
    "a*baca",
    "*abaci",
    "a*back",
    "ab*acs",
    "abaf*t",
    "*abaka",
    "ab*amp",
    "a*band",
    "*abase",
    "abash*",
    "abas*k",
    "ab*ate",
    "aba*ya",
    "abbas*",
    "abbed*",
    "ab*bes",
    "abbey*",
    "*abbot",
    "ab*cee",
    "abea*m",
    "abe*ar",
    "a*bele",
    "a*bers",
    "abet*s",
    "*abhor",
    "abi*de",
    "a*bies",
    "*abled",
]

# (score, patterns) from MachineComplexityEvaluatorTest, test by test.
EVENT_RULER_CASES = [
    (1, ["*"]),
    (3, ["*", "ab*c"]),
    (1, ["abc"]),
    (2, ["*ab"]),
    (3, ["*aa"]),
    (2, ["a*b"]),
    (2, ["aa*"]),
    (2, ["a*bc"]),
    (3, ["a*bb"]),
    (3, ["a*bcb"]),
    (4, ["a*bbb"]),
    (4, ["*ab*ad"]),
    (3, ["*ab*d"]),
    (4, ["*aba*"]),
    (5, ["a*b*bb"]),
    (4, ["a*b*cb"]),
    (3, ["a*b*cd"]),
    (4, ["a*b*b"]),
    (4, ["a*bb*"]),
    (3, ["ab*b*"]),
    (3, ["ab*c", "x*xx"]),
    (4, ["*abc", "*abcde"]),
    (4, ["a*bcd", "ab*cd"]),
    (4, ["a*bc", "a*bcde"]),
    (7, ["a*aaa", "aa*aa"]),
    (4, ["a*bc", "abc*d"]),
    (6, ["a*aaa", "aaa*a"]),
    (5, ["a*aax", "aaa*x"]),
    (4, ["a*bc", "abc*"]),
    (5, ["a*aa", "aaa*"]),
    (3, ["abc*", "abcde*"]),
    (6, ["ab*cd", "ab*wx", "ab*yz"]),
    (7, ["*ab*b*b*"]),
    (17, ["*a*a*a*a*a*a*a*a*"]),
    (2, ["ab*c", "ab*c"]),  # a duplicate pattern adds nothing
    (10, ["F*eatureFeature", "Fe*atureFeature", "Fea*tureFeature"]),
    (11, ["a*a*a*a*a*a*"]),  # testEvaluateNestedMachinesViaNextNameStates, field "def"
    (45, QUAMINA_EXPLODER),
]


@pytest.mark.parametrize(("expected", "patterns"), EVENT_RULER_CASES)
def test_scores_match_event_ruler(expected: int, patterns: list[str]) -> None:
    assert complexity(patterns) == expected


def test_the_score_is_capped_as_event_ruler_caps_it() -> None:
    assert complexity(["F*e*a*t*u*r*e*" * 200], cap=100) == 100


def test_only_wildcards_score() -> None:
    pattern = {
        "abc": [{"prefix": "a"}, "abcdef", {"suffix": "z"}],
        "def": [{"prefix": "b"}, {"wildcard": "a*a*a*a*a*a*"}, {"suffix": "c"}],
        "ghi": [{"numeric": ["<=", 120.0]}, {"exists": True}],
    }
    assert pattern_complexity(pattern, cap=100) == 11  # as event-ruler's nested-machines test
    assert pattern_complexity({"k": [{"prefix": "uploads/"}]}) == 0


def test_anything_but_wildcards_score_like_wildcards() -> None:
    assert pattern_complexity({"k": [{"anything-but": {"wildcard": "a*b*b"}}]}) == 4


# Published PutRule outcomes, scored here: accepted ones stay under the limit, refused ones
# above it. vals-ai/Valkyrie#278: "*:stack/<name>/*" for 3 stacks deployed, for 4 it was
# refused with "Rule is too complex". A Terraform module (terraform-aws-eventbridge caller,
# a thumbnail Lambda's rules) deployed "*.bif|*.tiff|*.tif|*.svs" and two of
# "*/datasync/*.<ext>", and recorded the refusal of all four of the latter in one rule.
STACKS = ["SharedStack", "ApiStack", "WebStack", "MonitoringStack"]
ACCEPTED_BY_PUT_RULE = [
    [f"*:stack/{name}/*" for name in STACKS[:3]],
    ["*.bif", "*.tiff", "*.tif", "*.svs"],
    ["*/datasync/*.bif", "*/datasync/*.tif"],
]
REFUSED_BY_PUT_RULE = [
    [f"*:stack/{name}/*" for name in STACKS],
    ["*/datasync/*.bif", "*/datasync/*.tif", "*/datasync/*.tiff", "*/datasync/*.svs"],
]


@pytest.mark.parametrize("patterns", ACCEPTED_BY_PUT_RULE)
def test_patterns_put_rule_accepted_are_accepted(patterns: list[str]) -> None:
    assert complexity(patterns) <= MAX_WILDCARD_COMPLEXITY
    EventPattern({"detail": {"key": [{"wildcard": p} for p in patterns]}})


@pytest.mark.parametrize("patterns", REFUSED_BY_PUT_RULE)
def test_patterns_put_rule_refused_are_refused_with_its_message(patterns: list[str]) -> None:
    assert complexity(patterns) > MAX_WILDCARD_COMPLEXITY
    with pytest.raises(EventPatternError) as refused:
        EventPattern({"detail": {"key": [{"wildcard": p} for p in patterns]}})
    # The text the Terraform module above recorded from PutRule.
    assert str(refused.value) == (
        "Event pattern is not valid. Reason: Rule is too complex - try using fewer wildcard "
        "characters or fewer repeating character sequences after a wildcard character"
    )
    assert refused.value.code == "InvalidEventPatternException"


def test_the_old_32_wildcard_upload_rule_scores_64_and_is_refused() -> None:
    spellings = {
        "".join(letters)
        for extension in ("jpg", "jpeg", "png")
        for letters in itertools.product(*[(c.lower(), c.upper()) for c in extension])
    }
    old_rule = [f"uploads/*.{spelling}" for spelling in sorted(spellings)]
    assert len(old_rule) == 32
    assert complexity(old_rule) == 64
    with pytest.raises(EventPatternError, match="Rule is too complex"):
        EventPattern({"detail": {"object": {"key": [{"wildcard": p} for p in old_rule]}}})


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("a**b", "Consecutive wildcard characters at pos 1"),
        ("a\\b", "Invalid escape character at pos 1"),
        ("ab\\", "Invalid escape character at pos 2"),
    ],
)
def test_bad_wildcards_get_event_ruler_parse_errors(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("\\", "\\\\")):
        parse_wildcard(pattern)


def test_escapes_are_literal_bytes() -> None:
    assert parse_wildcard("a\\*\\\\") == (ord("a"), ord("*"), ord("\\"))
