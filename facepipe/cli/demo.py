"""``make demo``: the whole offline pipeline on three sample photos, in a fresh demo home.

The demo home is ``.facepipe/demo/`` under the current folder (git ignores ``.facepipe/``);
it is emptied first, so each demo starts from nothing. Emails go to the Maildir outbox
there, never to an SMTP server, and nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from facepipe.cli import program
from facepipe.local.home import DataHome
from facepipe.samples import sample_images

DEMO_ROOT = Path(".facepipe")
# Settings that would make the demo send real email or fail on purpose.
_IGNORED_ENV_PREFIXES = ("FACEPIPE_SMTP_", "FACEPIPE_FAULTS", "FACEPIPE_HOME")


def main(root: Path = DEMO_ROOT) -> int:
    root = root.resolve()
    home, images_dir = root / "demo", root / "demo-images"
    for folder in (home, images_dir):
        shutil.rmtree(folder, ignore_errors=True)
    for name in [name for name in os.environ if name.startswith(_IGNORED_ENV_PREFIXES)]:
        del os.environ[name]
    images = sample_images(images_dir)
    annotated = home / "annotated"
    print(f"demo home: {home}\nsample images: {', '.join(str(p) for p in images)}\n")
    status = program.main(
        ["--home", str(home), "run", *map(str, images), "--annotate", str(annotated)]
    )
    _print_graph(home, "uploads/group.jpg")
    _print_where(home, annotated)
    return status


def _print_graph(home: Path, key: str) -> None:
    """The execution graph of one upload, as the Step Functions console would draw it."""
    from facepipe.cli.views import print_execution_graph, stdout_console
    from facepipe.local.executions import ExecutionStore, executions_db_path
    from facepipe.resources import state_machine_path

    executions = ExecutionStore(executions_db_path(DataHome(home)))
    try:
        found = executions.for_image(key)
        history = executions.history(found[0].execution_arn) if found else []
    finally:
        executions.close()
    if history:
        definition = json.loads(state_machine_path().read_text(encoding="utf-8"))
        print()
        print_execution_graph(stdout_console(), definition, history, f"execution of {key}")


def _print_where(home: Path, annotated: Path) -> None:
    from facepipe.local.mail.outbox import list_outbox

    print("\nannotated images:")
    for path in sorted(annotated.glob("*")):
        print(f"  {path}")
    messages = list_outbox(home / "outbox")
    print("\nemails in the outbox (Maildir):")
    for message in messages:
        print(f"  {home / 'outbox' / 'new' / message.id}  ({message.subject})")
    if not messages:
        print("  none")
    print(f"\nmore: facepipe --home {home} records | show uploads/group.jpg | outbox")


if __name__ == "__main__":
    sys.exit(main())
