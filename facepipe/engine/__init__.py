"""A local Amazon States Language engine, JSONPath and JSONata, cheap to import.

JSONPath needs only the standard library; the JSONata library (jlens) is imported the first
time a definition has a JSONata expression.

    machine = StateMachine(definition, substitutions)      # validates, or DefinitionError
    result = machine.run(input, resolver={"fn": handler})  # ExecutionResult
    again = machine.redrive(result.record(), resolver=...)  # RedriveExecution

See `python -m facepipe.engine --help` for the command line.
"""

from facepipe.engine.clock import Clock, FakeClock, SystemClock
from facepipe.engine.errors import DefinitionError, StatesError
from facepipe.engine.machine import ExecutionResult, StateMachine
from facepipe.engine.maprun import ApiError, InMemoryMapRunStore, MapRunStore
from facepipe.engine.redrive import ExecutionRecord
from facepipe.engine.tasks import LambdaContext

__all__ = [
    "ApiError",
    "Clock",
    "DefinitionError",
    "ExecutionRecord",
    "ExecutionResult",
    "FakeClock",
    "InMemoryMapRunStore",
    "LambdaContext",
    "MapRunStore",
    "StateMachine",
    "StatesError",
    "SystemClock",
]
