"""``python moto_facepipe.py ARGS``: ``facepipe ARGS`` as a process of its own, against a
FacePipe stack moto holds in it, whose bucket is not versioned and whose uploads start no
execution (no EventBridge plays them)."""

from __future__ import annotations

import sys
from pathlib import Path

import boto3
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[2] / "support"))

from moto_stack import REGION, deploy

from facepipe import cli

if __name__ == "__main__":
    with mock_aws():
        deploy(boto3.Session(region_name=REGION), versioned=False, starts_executions=False)
        sys.exit(cli.main(sys.argv[1:]))
