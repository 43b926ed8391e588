"""Regions and zones, checked at synthesis when the CDK CLI gives the app its environment.

The lookups are the CDK CLI's context providers; here their answers are given as context,
in the keys the CLI stores them under (cdk.context.json), so no AWS call is made.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Environment
from infra_synth import run_cdk_app

from infra.app import build_app, cli_environment
from infra.functions import powertools_layer_parameter
from infra.regions import RegionError, rekognition_regions

ACCOUNT, REGION = "123456789012", "eu-west-1"
ZONES = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
PARAMETER = powertools_layer_parameter()
LAYER = "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:37"


def _zones_key(service: str) -> str:
    return (
        f"endpoint-service-availability-zones:account={ACCOUNT}:region={REGION}:"
        f"serviceName=com.amazonaws.{REGION}.{service}"
    )


def _answers(rekognition: list[str], sns: list[str], layer: str = LAYER) -> dict[str, Any]:
    """What the CLI's lookups would have stored for this account and region."""
    return {
        f"availability-zones:account={ACCOUNT}:region={REGION}": ZONES,
        _zones_key("rekognition"): rekognition,
        _zones_key("sns"): sns,
        f"ssm:account={ACCOUNT}:parameterName={PARAMETER}:region={REGION}": layer,
    }


def _synth(tmp_path: Path, context: dict[str, Any], region: str = REGION) -> dict[str, Any]:
    app, stack = build_app(
        context, outdir=str(tmp_path / "out"), env=Environment(account=ACCOUNT, region=region)
    )
    template: dict[str, Any] = app.synth().get_stack_by_name(stack.stack_name).template
    return template


def _of_type(template: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == resource_type]


def test_the_vpc_takes_two_zones_where_both_interface_endpoints_are_offered(
    tmp_path: Path,
) -> None:
    template = _synth(tmp_path, _answers(rekognition=ZONES[1:], sns=ZONES))
    subnets = _of_type(template, "AWS::EC2::Subnet")
    assert sorted(s["Properties"]["AvailabilityZone"] for s in subnets) == ZONES[1:]
    (function, *_) = _of_type(template, "AWS::Lambda::Function")
    assert function["Properties"]["Layers"] == [LAYER]  # looked up at synthesis


def test_a_region_whose_zones_do_not_offer_both_endpoints_twice_is_refused(
    tmp_path: Path,
) -> None:
    with pytest.raises(RegionError) as refused:
        _synth(tmp_path, _answers(rekognition=["eu-west-1c"], sns=ZONES[:2]))
    assert str(refused.value) == (
        "region eu-west-1: the interface endpoints com.amazonaws.eu-west-1.rekognition, "
        "com.amazonaws.eu-west-1.sns are offered together in 0 of its zones (none), and the "
        "VPC needs 2; deploy with -c vpc=false, or to another region"
    )


def test_without_the_vpc_the_zones_do_not_matter(tmp_path: Path) -> None:
    context = {**_answers(rekognition=[], sns=[]), "vpc": "false"}
    assert not _of_type(_synth(tmp_path, context), "AWS::EC2::Subnet")


def test_a_missing_powertools_parameter_is_refused(tmp_path: Path) -> None:
    context = _answers(
        ZONES,
        ZONES,
        layer="arn:aws:lambda:us-east-1:000000000000:layer:powertools-parameter-not-found:1",
    )
    with pytest.raises(
        RegionError, match=r"Powertools layer parameter .*python3\.14/.* does not exist"
    ):
        _synth(tmp_path, context)


def test_before_the_lookups_the_stack_synthesizes_and_asks_for_them(tmp_path: Path) -> None:
    """The CLI's first pass: dummy answers, the lookups listed as missing, nothing refused."""
    _synth(tmp_path, {})
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert {entry["key"] for entry in manifest["missing"]} == set(_answers([], []))


def test_a_region_without_rekognition_is_refused(tmp_path: Path) -> None:
    assert "eu-north-1" not in rekognition_regions()
    with pytest.raises(RegionError, match=r"region eu-north-1: Amazon Rekognition \(DetectFaces\)"):
        _synth(tmp_path, {}, region="eu-north-1")


def test_the_cli_gets_the_refusal_as_one_line(tmp_path: Path) -> None:
    """What `cdk deploy` in a region without Rekognition shows: no traceback."""
    run = run_cdk_app(
        tmp_path,
        CDK_DEFAULT_ACCOUNT=ACCOUNT,
        CDK_DEFAULT_REGION="eu-north-1",
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
    )
    assert run.returncode == 1
    last_line = run.stderr.strip().splitlines()[-1]
    assert last_line.startswith("facepipe infra: region eu-north-1: Amazon Rekognition")
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"CDK_DEFAULT_ACCOUNT": ACCOUNT}, None),
        ({"CDK_DEFAULT_REGION": REGION}, (None, REGION)),
        ({"CDK_DEFAULT_ACCOUNT": ACCOUNT, "CDK_DEFAULT_REGION": REGION}, (ACCOUNT, REGION)),
    ],
)
def test_the_environment_comes_from_the_cdk_cli(
    environ: dict[str, str], expected: tuple[str | None, str] | None
) -> None:
    env = cli_environment(environ)
    assert (None if env is None else (env.account, env.region)) == expected


def test_rekognition_regions_come_from_botocore() -> None:
    regions = rekognition_regions()
    assert {"us-east-1", "eu-west-1", "ap-northeast-1"} <= set(regions)
    assert "af-south-1" not in regions
