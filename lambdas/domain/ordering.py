"""Which of two events about one object key is newer: the S3 sequencer rule, written once.

S3 documents the sequencer as a hexadecimal string whose values may differ in length: to
compare two, right-pad the shorter with zeros and compare lexicographically (the S3 user
guide's "Event message structure"; older editions said left-pad, the current one right-pad).
Storing the padded form lets a database compare sequencers as plain strings (DynamoDB conditions,
SQLite ``<``), so both record stores apply exactly this rule.
"""

from __future__ import annotations

import string

from lambdas.domain.errors import StepError

SEQUENCER_WIDTH = 64
"""Padded width; S3 sequencers are about 16-20 hex digits today, this leaves ample room."""

DETECTED = "DETECTED"
FAILED = "FAILED"


class InvalidSequencerError(StepError):
    """The event's sequencer is not a hexadecimal string (the event was not written by S3)."""


def sortable_sequencer(sequencer: str) -> str:
    """The sequencer upper-cased and right-padded with zeros, so string order is event order.

    An empty sequencer (events that carry none) sorts before every real one.
    """
    if len(sequencer) > SEQUENCER_WIDTH or not all(c in string.hexdigits for c in sequencer):
        raise InvalidSequencerError(
            f"S3 sequencer {sequencer[:80]!r} is not a hexadecimal string of at most "
            f"{SEQUENCER_WIDTH} digits"
        )
    return sequencer.upper().ljust(SEQUENCER_WIDTH, "0")


def supersedes(
    new_sequencer: str, new_status: str, stored_sequencer: str, stored_status: str
) -> bool:
    """True when a record from the new event may replace the stored one.

    A higher sequencer wins. With the same sequencer (the same event delivered again) only a
    successful detection may replace a recorded failure, so a re-run can repair a FAILED
    record but a duplicate never rewrites a record, nor a late failure a success.
    """
    new, stored = sortable_sequencer(new_sequencer), sortable_sequencer(stored_sequencer)
    if new != stored:
        return new > stored
    return stored_status == FAILED and new_status == DETECTED
