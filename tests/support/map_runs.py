"""A DISTRIBUTED Map machine run on the local engine, over the local bucket, stored the way
the pipeline stores its executions: what the console's and `facepipe show`'s Map Run tests show.

ItemReader lists `items/` (outside the upload rule's prefix, so no face execution starts);
each STANDARD child passes its object, except `items/bad.json`, which fails (Item.Bad), within
ToleratedFailureCount 1, so the Map Run succeeds with 1 failed child out of 4.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from facepipe.engine import StateMachine
from facepipe.local.engine_bucket import EngineBucket
from facepipe.local.runtime import LocalPipeline, execution_arn

ITEM_KEYS = ("items/a.json", "items/b.json", "items/bad.json", "items/c.json")
BAD_KEY = "items/bad.json"
MAP_STATE = "EachObject"


def distributed_definition(bucket: str, pause_seconds: int = 0) -> dict[str, Any]:
    """``pause_seconds``: a Wait before each good child ends, so the run is seen RUNNING."""
    steps: dict[str, Any] = {"Process": {"Type": "Pass", "Result": "done", "End": True}}
    if pause_seconds:
        steps["Pause"] = {"Type": "Wait", "Seconds": pause_seconds, "Next": "Process"}
    return {
        "Comment": "A Map Run over the local bucket (console and show tests)",
        "StartAt": MAP_STATE,
        "States": {
            MAP_STATE: {
                "Type": "Map",
                "Label": "EachObject",
                "ItemReader": {
                    "Resource": "arn:aws:states:::s3:listObjectsV2",
                    "Parameters": {"Bucket": bucket, "Prefix": "items/"},
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "IsBad",
                    "States": {
                        "IsBad": {
                            "Type": "Choice",
                            "Choices": [
                                {"Variable": "$.Key", "StringEquals": BAD_KEY, "Next": "Refuse"}
                            ],
                            "Default": "Pause" if pause_seconds else "Process",
                        },
                        "Refuse": {"Type": "Fail", "Error": "Item.Bad", "Cause": "a bad item"},
                        **steps,
                    },
                },
                "MaxConcurrency": 2,
                "ToleratedFailureCount": 1,
                "End": True,
            }
        },
    }


def distributed_machine(pipeline: LocalPipeline, pause_seconds: int = 0) -> StateMachine:
    """The machine, keeping its Map Runs where the console reads the pipeline's."""
    from facepipe.console.local_source import map_run_store

    return StateMachine(
        distributed_definition(pipeline.options.bucket, pause_seconds),
        name="facepipe-maprun-test",
        map_run_store=map_run_store(pipeline),
    )


def put_items(pipeline: LocalPipeline) -> None:
    for key in ITEM_KEYS:
        assert not pipeline.rule_takes(key)
        pipeline.objects.put_object(
            pipeline.options.bucket,
            key,
            json.dumps({"key": key}).encode(),
            content_type="application/json",
        )


def run_distributed(pipeline: LocalPipeline, machine: StateMachine, name: str) -> str:
    """Run it once, its parent stored in the pipeline's execution store; its ARN."""
    arn = execution_arn(machine, name)
    pipeline.executions.start(
        execution_arn=arn,
        name=name,
        state_machine_arn=machine.arn,
        bucket=pipeline.options.bucket,
        image_key="items/",
        version_id="null",
        input={},
        start_date=datetime.now(UTC),
    )
    history = pipeline.executions.history_writer(arn)
    result = machine.run(
        {},
        execution_name=name,
        on_event=history,
        object_store=EngineBucket(pipeline.objects),
    )
    history.flush()
    pipeline.executions.finish(result)
    return arn
