"""Many executions of one machine at once, from many threads, share no mutable state."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from facepipe.engine import FakeClock, StateMachine

DEFINITION = {
    "StartAt": "Remember",
    "States": {
        "Remember": {"Type": "Pass", "Assign": {"mine.$": "$.n"}, "Next": "Work"},
        "Work": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "square", "Payload": {"n.$": "$.n"}},
            "ResultSelector": {"square.$": "$.Payload"},
            "Next": "Check",
        },
        "Check": {
            "Type": "Pass",
            "Parameters": {"square.$": "$.square", "mine.$": "$mine"},
            "End": True,
        },
    },
}


def test_concurrent_executions_keep_their_own_data_variables_and_history():
    machine = StateMachine(DEFINITION)
    gate = threading.Barrier(8, timeout=10)

    def square(event, context):
        if event["n"] < 8:
            gate.wait()  # the first eight executions are provably in flight together
        return event["n"] ** 2

    def one(n):
        return machine.run({"n": n}, resolver={"square": square}, clock=FakeClock())

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(40)))
    assert [r.output for r in results] == [{"square": n * n, "mine": n} for n in range(40)]
    assert len({r.execution_arn for r in results}) == 40
    assert all(len(r.history) == len(results[0].history) for r in results)
    assert all(
        r.history[0]["executionStartedEventDetails"]["input"] == f'{{"n":{n}}}'
        for n, r in enumerate(results)
    )


def test_a_run_does_not_change_the_machine_or_its_input():
    machine = StateMachine(DEFINITION)
    execution_input = {"n": 3}
    machine.run(execution_input, resolver={"square": lambda e, c: 0}, clock=FakeClock())
    assert execution_input == {"n": 3}
    assert machine.flow.states["Work"]["Parameters"]["Payload"] == {"n.$": "$.n"}
