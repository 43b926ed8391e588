"""cfn-lint on every synthesized template: no error and no unexplained warning."""

from __future__ import annotations

import json

from cfnlint.api import ManualArgs, lint
from infra_synth import Synthesized

# Regions with Rekognition and every other service the stack uses.
REGIONS = ["us-east-1", "eu-west-1"]

# W3005 (DependsOn already implied by a GetAtt): CDK makes each Lambda and the state
# machine depend on their role *and* its DefaultPolicy, so the policy exists before the
# first invocation. The role half repeats the GetAtt dependency; it is harmless.
EXPLAINED = ["W3005"]


def test_template_passes_cfn_lint(every_stack: Synthesized) -> None:
    matches = lint(
        json.dumps(every_stack.template),
        config=ManualArgs(regions=REGIONS, ignore_checks=EXPLAINED),
    )
    assert [f"{m.rule.id} {m.message} at {'/'.join(map(str, m.path))}" for m in matches] == []
