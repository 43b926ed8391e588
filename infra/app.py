"""The CDK app: ``cdk synth`` runs ``python -m infra.app`` (see cdk.json)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra.regions import RegionError
from infra.settings import ContextError, StackSettings
from infra.sources import REPO_ROOT, SourceFileError
from infra.stack import FacePipeStack

CDK_JSON = REPO_ROOT / "cdk.json"


def default_context() -> dict[str, Any]:
    """The context defaults from cdk.json, so tests synthesize what `cdk synth` does."""
    return dict(json.loads(CDK_JSON.read_text(encoding="utf-8")).get("context", {}))


def cli_environment(environ: Mapping[str, str]) -> Environment | None:
    """The account and region the CDK CLI found in the credentials it runs with, if any.

    With them the stack checks the region at synthesis (infra/regions.py); without them it
    is environment-agnostic and those checks cannot run.
    """
    account, region = environ.get("CDK_DEFAULT_ACCOUNT"), environ.get("CDK_DEFAULT_REGION")
    if not region:
        return None
    return Environment(account=account or None, region=region)


def build_app(
    context: Mapping[str, Any] | None = None,
    *,
    outdir: str | None = None,
    env: Environment | None = None,
) -> tuple[App, FacePipeStack]:
    """The app with the stack and cdk-nag's AwsSolutions checks applied.

    ``context`` overrides cdk.json's defaults; so does ``-c key=value`` on the CLI.
    """
    app = App(context={**default_context(), **(context or {})}, outdir=outdir)
    settings = StackSettings.from_context(app.node.try_get_context)
    stack = FacePipeStack(app, settings.stack_name, settings=settings, env=env)
    add_nag_checks(app)
    return app, stack


def add_nag_checks(app: App) -> None:
    """cdk-nag's AwsSolutions pack as a validation plugin: any finding stops synthesis.

    Acknowledgements (each with its reason) are copied into the resources' Metadata, so
    the template itself is the audit trail.
    """
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    )


def main() -> None:
    try:
        app, _ = build_app(env=cli_environment(os.environ))
    except (ContextError, SourceFileError, RegionError) as error:
        # A person typed a bad -c value or broke a shared file: say which, no traceback.
        sys.exit(f"facepipe infra: {error}")
    app.synth()


if __name__ == "__main__":
    main()
