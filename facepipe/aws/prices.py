"""AWS list prices (USD, us-east-1) and what one backfilled image uses of each: the one place
the backfill's estimate and the README's cost table come from.

Prices from the services' pricing pages (checked 2026-12): Rekognition Image Group 2 APIs
(DetectFaces) $0.001 per image for the first million a month; Step Functions Standard $0.025
per 1,000 state transitions, Express $1.00 per million requests and $0.00001667 per GB-second
(64 MB chunks, 100 ms rounding); Lambda $0.20 per million requests and $0.0000133334 per
GB-second on arm64, which infra/functions.py uses; DynamoDB on-demand $0.625 per million
write request units and $0.125 per million read request units. Volume tiers lower the
Rekognition price above a million images a month; the estimate does not count them.
"""

from __future__ import annotations

from dataclasses import dataclass

REKOGNITION_PER_IMAGE = 0.001
STANDARD_PER_TRANSITION = 0.025 / 1000
EXPRESS_PER_REQUEST = 1.00 / 1_000_000
EXPRESS_PER_GB_SECOND = 0.00001667
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_PER_GB_SECOND = 0.0000133334
DYNAMODB_PER_WRITE = 0.625 / 1_000_000
DYNAMODB_PER_READ = 0.125 / 1_000_000

# What one image needs on the way it takes through statemachine/backfill.asl.json.
# The Distributed Map's start of each child, billed as one transition of the Standard
# parent (an upper bound if AWS counts fewer).
PARENT_TRANSITIONS_PER_IMAGE = 1
EXPRESS_GB = 64 / 1024  # one 64 MB chunk: the child's definition and payload are small
EXPRESS_SECONDS = 2.0  # HeadObject, GetItem, DetectFaces, two Lambda calls, UpdateItem
LAMBDA_GB = 256 / 1024  # infra/functions.py gives each function 256 MB
DETECT_SECONDS, PERSIST_SECONDS = 1.0, 0.2
DYNAMODB_WRITES = 3  # Persist's version and latest items, the backfill's tally
DYNAMODB_READS = 1  # the backfill's GetItem of the record (strongly consistent, under 4 KB)
# Standard children instead of Express (the choice infra/README.md explains): every state of
# the child is a transition, about ten for a new image.
STANDARD_CHILD_TRANSITIONS = 10


@dataclass(frozen=True)
class CostLine:
    service: str
    per_thousand: float  # USD per 1,000 new images


def cost_per_thousand_new_images() -> list[CostLine]:
    """USD per 1,000 images not recorded before (detected now), by service."""
    thousand = 1000
    express = EXPRESS_PER_REQUEST + EXPRESS_GB * EXPRESS_SECONDS * EXPRESS_PER_GB_SECOND
    lambda_ = (
        2 * LAMBDA_PER_REQUEST
        + LAMBDA_GB * (DETECT_SECONDS + PERSIST_SECONDS) * LAMBDA_PER_GB_SECOND
    )
    dynamodb = DYNAMODB_WRITES * DYNAMODB_PER_WRITE + DYNAMODB_READS * DYNAMODB_PER_READ
    return [
        CostLine("Rekognition DetectFaces", thousand * REKOGNITION_PER_IMAGE),
        CostLine(
            "Step Functions (Standard parent + Express children)",
            thousand * (PARENT_TRANSITIONS_PER_IMAGE * STANDARD_PER_TRANSITION + express),
        ),
        CostLine("Lambda (Detect, Persist)", thousand * lambda_),
        CostLine("DynamoDB (on-demand)", thousand * dynamodb),
    ]


def cost_per_thousand_recorded_images() -> float:
    """USD per 1,000 images already recorded DETECTED: no Rekognition, no Lambda."""
    express = EXPRESS_PER_REQUEST + EXPRESS_GB * 0.3 * EXPRESS_PER_GB_SECOND
    per_image = (
        PARENT_TRANSITIONS_PER_IMAGE * STANDARD_PER_TRANSITION
        + express
        + DYNAMODB_PER_READ
        + DYNAMODB_PER_WRITE
    )
    return 1000 * per_image


def standard_children_per_thousand() -> float:
    """What the Step Functions line would be with Standard children (for infra/README.md)."""
    return (
        1000
        * (PARENT_TRANSITIONS_PER_IMAGE + STANDARD_CHILD_TRANSITIONS)
        * (STANDARD_PER_TRANSITION)
    )
