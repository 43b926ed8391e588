"""One synthesized variant of the CDK app, and how to make one (shared by the infra tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Template

NOTIFICATION_EMAIL = "alerts@example.com"
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Synthesized:
    """One synthesized variant: its template, the stack object, and the assembly folder."""

    template: dict[str, Any]
    stack: Any
    assembly_dir: Path

    @cached_property
    def assertions(self) -> Template:
        """aws_cdk.assertions over the already-synthesized template (no second synthesis)."""
        return Template.from_json(self.template)

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == resource_type
        }

    def only(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.items()))

    def pipeline_machine(self) -> tuple[str, dict[str, Any]]:
        """The per-image state machine (statemachine/face_pipeline.asl.json); the stack's
        other one is the backfill, named ``<stack>-Backfill``."""
        found = [
            (logical_id, resource)
            for logical_id, resource in self.resources("AWS::StepFunctions::StateMachine").items()
            if not str(resource["Properties"].get("StateMachineName", "")).endswith("-Backfill")
        ]
        assert len(found) == 1, f"expected one per-image state machine, found {found}"
        return found[0]

    def function(self, step: str) -> tuple[str, dict[str, Any]]:
        """The Lambda whose handler is ``lambdas.<step>.handler.lambda_handler``."""
        handler = f"lambdas.{step}.handler.lambda_handler"
        found = [
            (logical_id, resource)
            for logical_id, resource in self.resources("AWS::Lambda::Function").items()
            if resource["Properties"]["Handler"] == handler
        ]
        assert len(found) == 1, f"expected one function with handler {handler}"
        return found[0]


def synthesize(tmp_root: Path, name: str, context: dict[str, Any]) -> Synthesized:
    from infra.app import build_app

    outdir = tmp_root / name
    app, stack = build_app(context, outdir=str(outdir))
    assembly = app.synth()
    template = assembly.get_stack_by_name(stack.stack_name).template
    return Synthesized(template=template, stack=stack, assembly_dir=outdir)


def run_cdk_app(tmp_path: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    """``python -m infra.app`` as the CDK CLI runs cdk.json's app command, with ``environ``."""
    return subprocess.run(
        [sys.executable, "-m", "infra.app"],
        cwd=REPO_ROOT,
        env={**os.environ, "CDK_OUTDIR": str(tmp_path / "out"), **environ},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
