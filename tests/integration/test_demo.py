"""``make demo``: the three sample photos through the offline pipeline, shown to the user."""

from __future__ import annotations

from pathlib import Path

import pytest

from facepipe.cli import demo


def test_demo_runs_the_samples_and_shows_the_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert demo.main(root=tmp_path) == 0

    shown = capsys.readouterr().out
    home = tmp_path / "demo"
    for key, faces in (("portrait.jpg", 1), ("group.jpg", 4), ("no_faces.jpg", 0)):
        row = next(line for line in shown.splitlines() if f"uploads/{key} " in line)
        assert f"│ {faces:>5} │ SUCCEEDED" in row, row
    assert "execution of uploads/group.jpg  SUCCEEDED" in shown
    assert "✔ Notify (Task)" in shown and "· NoFaces (Succeed)  not reached" in shown
    assert sorted(p.name for p in (home / "annotated").iterdir()) == [
        "group.jpg",
        "no_faces.jpg",
        "portrait.jpg",
    ]
    emails = list((home / "outbox" / "new").iterdir())
    assert len(emails) == 2
    assert all(str(path) in shown for path in emails)
