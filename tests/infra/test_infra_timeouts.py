"""Notify's AWS calls give up, with a named error its code handles, before its Lambda times out."""

from __future__ import annotations

from infra_synth import Synthesized

from lambdas.aws.clients import worst_case_seconds
from lambdas.notify.handler import NOTIFY_CALLS


def test_notify_timeout_outlasts_its_calls_worst_case(every_stack: Synthesized) -> None:
    _, notify = every_stack.function("notify")
    timeout = notify["Properties"]["Timeout"]
    # claim + publish + (mark sent | release), every attempt timing out: 27 s under 30 s.
    assert worst_case_seconds(NOTIFY_CALLS) < timeout
