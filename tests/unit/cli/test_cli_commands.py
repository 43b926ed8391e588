"""The ``facepipe`` sub-commands through ``facepipe.cli.main``: real pipeline, real detector."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cli_harness import Cli
from PIL import Image

from facepipe.samples import GROUP, NO_FACES, PORTRAIT


def test_run_one_image_prints_the_table_and_the_execution_graph(
    facepipe: Cli, samples: dict[str, Path]
) -> None:
    status, out, err = facepipe("run", str(samples[PORTRAIT]))

    assert status == 0, err
    assert "uploads/portrait.jpg" in out and "SUCCEEDED" in out
    assert "✔ Detect (Task)" in out and "✔ Notify (Task)" in out  # the terminal graph
    assert "· NoFaces (Succeed)  not reached" in out
    assert f"outbox: {facepipe.home / 'outbox'}" in out


def test_run_a_folder_annotates_faces_and_reports_files_refused_by_name(
    facepipe: Cli, samples: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in (GROUP, NO_FACES):
        shutil.copy(samples[name], folder / name)
    (folder / "animation.gif").write_bytes(b"GIF89a" + bytes(64))
    (folder / ".partial.jpg").write_bytes(b"hidden files are not picked up")
    annotated = tmp_path / "annotated"

    status, results = facepipe.json("run", str(folder), "--annotate", str(annotated))

    assert status == 1  # the GIF's execution failed
    by_key = {result["key"]: result for result in results}
    assert set(by_key) == {
        "uploads/.partial.jpg",
        "uploads/animation.gif",
        "uploads/group.jpg",
        "uploads/no_faces.jpg",
    }
    hidden = by_key["uploads/.partial.jpg"]
    assert hidden["status"] == "SKIPPED" and "hidden" in hidden["reason"]
    assert (by_key["uploads/group.jpg"]["status"], by_key["uploads/group.jpg"]["faceCount"]) == (
        "SUCCEEDED",
        4,
    )
    assert by_key["uploads/no_faces.jpg"]["faceCount"] == 0
    refused = by_key["uploads/animation.gif"]
    assert (refused["status"], refused["error"]) == ("FAILED", "InvalidImageFormatException")
    assert "'uploads/animation.gif' is not named as a JPEG or PNG image" in refused["cause"]
    drawn = Image.open(by_key["uploads/group.jpg"]["annotated"])
    assert drawn.size == Image.open(samples[GROUP]).size
    assert drawn.tobytes() != Image.open(samples[GROUP]).convert("RGB").tobytes()


def test_run_refuses_a_prefix_the_upload_rule_never_takes(facepipe: Cli, tmp_path: Path) -> None:
    photo = tmp_path / "wave.jpg"
    photo.write_bytes(b"outside the upload prefix, never read")

    status, out, err = facepipe("run", str(photo), "--prefix", "elsewhere")

    assert status == 2 and out == ""
    assert "--prefix 'elsewhere': the upload rule takes no image under it" in err
    assert "it takes keys like uploads/" in err


def test_run_exits_non_zero_when_an_image_failed(
    facepipe: Cli, samples: dict[str, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(samples[PORTRAIT].read_bytes()[:1500])

    status, results = facepipe.json("run", str(broken), str(samples[PORTRAIT]))

    assert status == 1
    assert [(r["key"], r["status"]) for r in results] == [
        ("uploads/broken.jpg", "FAILED"),
        ("uploads/portrait.jpg", "SUCCEEDED"),
    ]
    assert results[0]["error"] == "InvalidImageFormatException"


def test_run_with_a_prefix_the_rule_does_not_take_is_refused_up_front(
    facepipe: Cli, samples: dict[str, Path]
) -> None:
    status, out, err = facepipe("run", str(samples[PORTRAIT]), "--prefix", "inbox")

    assert (status, out) == (2, "")
    assert "--prefix 'inbox': the upload rule takes no image under it" in err
    assert not facepipe.home.exists()  # refused before anything was made


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "no/such/photo.jpg"], "no such file or folder: no/such/photo.jpg"),
        (["detect", "missing.jpg"], "no such file: missing.jpg"),
        (["watch", "no/such/folder"], "no such folder: no/such/folder"),
        (["show", "uploads/never.jpg"], "no data home at"),
        (["detect", "{portrait}", "--detector", "dlib"], "unknown detector 'dlib'"),
        (["run", "{portrait}", "--detector", "dlib"], "unknown detector 'dlib'"),
        (["run", "{portrait}", "--bucket", "Bad_Bucket"], "bucket name 'Bad_Bucket' is not valid"),
    ],
)
def test_bad_arguments_get_one_line_errors(
    facepipe: Cli, samples: dict[str, Path], args: list[str], message: str
) -> None:
    args = [arg.replace("{portrait}", str(samples[PORTRAIT])) for arg in args]

    status, out, err = facepipe(*args)

    assert status == 2
    assert out == ""
    assert err.startswith("facepipe: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_argument_types_are_checked_by_the_parser(
    facepipe: Cli, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        facepipe("run", "x.jpg", "--workers", "0")

    assert exit_info.value.code == 2
    assert "--workers: must be at least 1, got 0" in capsys.readouterr().err


def test_records_show_and_outbox_after_a_run(facepipe: Cli, samples: dict[str, Path]) -> None:
    facepipe("run", str(samples[GROUP]), str(samples[NO_FACES]))

    _, records = facepipe.json("records")
    _, with_faces = facepipe.json("records", "--faces-only")
    status, shown = facepipe.json("show", "uploads/group.jpg")
    _, outbox = facepipe.json("outbox")

    assert {(r["key"], r["status"], r["face_count"]) for r in records} == {
        ("uploads/group.jpg", "DETECTED", 4),
        ("uploads/no_faces.jpg", "DETECTED", 0),
    }
    assert [r["key"] for r in with_faces] == ["uploads/group.jpg"]
    assert status == 0
    assert shown["record"]["face_count"] == 4 and len(shown["record"]["faces"]) == 4
    assert shown["execution"]["status"] == "SUCCEEDED"
    assert shown["execution"]["executionArn"] == shown["record"]["execution_arn"]
    assert [e["type"] for e in shown["history"]][-1] == "ExecutionSucceeded"
    [message] = outbox
    assert message["subject"] == "4 faces found in uploads/group.jpg"
    assert message["to"] == "alice@example.com"
    assert Path(message["path"]).read_bytes().startswith(b"Subject: 4 faces found")


def test_show_prints_the_record_graph_and_event_table(
    facepipe: Cli, samples: dict[str, Path]
) -> None:
    facepipe("run", str(samples[PORTRAIT]))

    status, out, _ = facepipe("show", "uploads/portrait.jpg")

    assert status == 0
    assert "record of uploads/portrait.jpg" in out and "DETECTED" in out
    assert "✔ Persist (Task)" in out
    assert "execution history" in out and "ExecutionSucceeded" in out


def test_listings_of_a_home_that_does_not_exist_say_so(facepipe: Cli) -> None:
    for command in ("records", "outbox"):
        status, out, err = facepipe(command, "--json")
        assert (status, out) == (2, "")
        assert f"no data home at {facepipe.home}: nothing has run there" in err
    assert not facepipe.home.exists()  # looking does not create the data home


def test_show_of_a_key_never_run_says_how_to_find_keys(
    facepipe: Cli, samples: dict[str, Path]
) -> None:
    facepipe("run", str(samples[NO_FACES]))

    status, _, err = facepipe("show", "uploads/never.jpg")

    assert status == 2
    assert "nothing recorded for key 'uploads/never.jpg'; `facepipe records` lists keys" in err


def test_home_comes_from_the_environment_without_home_flag(
    samples: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from facepipe import cli

    assert cli.main(["run", str(samples[NO_FACES]), "--json"]) == 0
    assert (tmp_path / "env-home" / "records.sqlite3").is_file()
    capsys.readouterr()


def test_detect_answers_like_detect_faces(
    facepipe: Cli, samples: dict[str, Path], tmp_path: Path
) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")

    status, answers = facepipe.json("detect", str(samples[GROUP]), str(text))

    assert status == 1  # one image could not be read
    group, notes = answers
    assert group["file"] == str(samples[GROUP]) and len(group["FaceDetails"]) == 4
    face = group["FaceDetails"][0]
    assert set(face["BoundingBox"]) == {"Width", "Height", "Left", "Top"}
    assert {mark["Type"] for mark in face["Landmarks"]} >= {"eyeLeft", "eyeRight", "nose"}
    assert 0 <= face["Confidence"] <= 100
    assert notes == {
        "file": str(text),
        "error": {
            "Code": "InvalidImageFormatException",
            "Message": "the image is text, not an image; only JPEG and PNG images are supported",
        },
    }


def test_detect_table_without_json(
    facepipe: Cli, samples: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # the paths, whole on one line each
    status, out, _ = facepipe("detect", str(samples[NO_FACES]), str(samples[PORTRAIT]))

    assert status == 0
    assert "no_faces.jpg" in out and "portrait.jpg" in out


def test_records_and_outbox_tables_for_people(facepipe: Cli, samples: dict[str, Path]) -> None:
    facepipe("run", str(samples[PORTRAIT]))

    records_status, records_out, _ = facepipe("records")
    outbox_status, outbox_out, _ = facepipe("outbox")

    assert (records_status, outbox_status) == (0, 0)
    assert "face records" in records_out and "uploads/portrait.jpg" in records_out
    assert "DETECTED" in records_out and "yes" in records_out  # emailed
    assert "1 face found in" in outbox_out and "alice@example.com" in outbox_out
    assert f"outbox: {facepipe.home / 'outbox'}" in outbox_out


def test_min_confidence_and_attributes_come_from_the_lambdas_variables_or_the_flags(
    facepipe: Cli, samples: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIN_CONFIDENCE", "80")
    monkeypatch.setenv("FACE_ATTRIBUTES", "ALL")
    facepipe("run", str(samples[PORTRAIT]))
    facepipe("run", str(samples[GROUP]), "--min-confidence", "99.99", "--attributes", "DEFAULT")

    _, shown = facepipe.json("show", f"uploads/{PORTRAIT}")
    detection = shown["execution"]["output"]["detection"]
    assert (detection["minConfidence"], detection["attributes"]) == (80.0, "ALL")
    _, shown = facepipe.json("show", f"uploads/{GROUP}")
    detection = shown["execution"]["output"]["detection"]
    assert (detection["minConfidence"], detection["attributes"]) == (99.99, "DEFAULT")
    assert all(face["confidence"] >= 99.99 for face in detection["faces"])


def test_a_bad_min_confidence_is_refused(
    facepipe: Cli, samples: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIN_CONFIDENCE", "lots")

    status, out, err = facepipe("run", str(samples[PORTRAIT]))

    assert (status, out) == (2, "")
    assert "MIN_CONFIDENCE" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        facepipe("run", str(samples[PORTRAIT]), "--min-confidence", "120")
    status, _, err = facepipe("run", str(samples[PORTRAIT]), "--min-confidence", "80")
    assert status == 0, err  # the flag stands in for the variable
