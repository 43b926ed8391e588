"""Importing the console and aws modules loads no web server, AWS SDK, model or OpenCV."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("starlette", "uvicorn", "boto3", "botocore", "cv2", "playwright")


def test_registering_the_commands_imports_nothing_heavy() -> None:
    code = (
        "import sys, argparse\n"
        "import facepipe.console, facepipe.aws\n"
        "from facepipe.cli.console import add_console_commands\n"
        "add_console_commands(argparse.ArgumentParser().add_subparsers())\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
