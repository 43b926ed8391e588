"""Issue 10's findings, each through the real ``facepipe`` process: nothing runs or is
emailed twice, nothing is overwritten, every file gets a row, and a user's mistake ends in
one line, never a traceback.

Detection is not the point here: YuNet at 80 % (the fastest detector) unless a test says.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from cli_harness import (
    FAST_DETECTOR,
    clean_env,
    executions_of,
    facepipe_process,
    notify_sends,
    outbox_files,
    started,
)
from PIL import Image

from facepipe.local.mail.message import DEDUP_HEADER, dedup_id_from_header
from facepipe.samples import GROUP, NO_FACES, PORTRAIT


def run_json(home: Path, *args: str, env: dict[str, str]) -> tuple[int, list[dict[str, Any]], str]:
    done = facepipe_process(home, "run", *args, *FAST_DETECTOR, "--json", env=env)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


def by_file(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {Path(result["file"]).name: result for result in results}


@pytest.fixture(scope="module")
def sixty(tmp_path_factory: pytest.TempPathFactory, samples: dict[str, Path]) -> Path:
    """60 different small JPEGs, crops of the sample photos (faces in about two in three)."""
    folder = tmp_path_factory.mktemp("sixty")
    photos = [Image.open(samples[name]).convert("RGB") for name in (PORTRAIT, GROUP, NO_FACES)]
    for index in range(60):
        photo = photos[index % 3]
        inset = 2 + index  # a different crop each: different bytes
        crop = photo.crop((inset, inset, photo.width - inset, photo.height - inset))
        crop.thumbnail((320, 320))
        crop.save(folder / f"img{index:02d}.jpg", "JPEG", quality=85)
    return folder


# --- 1. nothing runs or is emailed twice ----------------------------------------------------
def test_a_glob_and_its_folder_run_each_file_once(samples: dict[str, Path], tmp_path: Path):
    photos, home = tmp_path / "photos", tmp_path / "home"
    photos.mkdir()
    for name in (PORTRAIT, GROUP, NO_FACES):
        shutil.copy(samples[name], photos / name)

    status, results, _ = run_json(
        home, str(photos / PORTRAIT), str(photos / PORTRAIT), str(photos), env=clean_env(tmp_path)
    )

    assert status == 0
    assert [r["status"] for r in results].count("SUCCEEDED") == 3
    twice = [r for r in results if r["status"] == "SKIPPED"]
    assert len(twice) == 2 and all("named twice" in r["reason"] for r in twice)
    assert len(executions_of(home)) == 3
    assert len(outbox_files(home)) == 2  # portrait and group; the coffee cup has no face


def test_runners_started_together_on_one_home_run_each_image_once(sixty: Path, tmp_path: Path):
    """The issue's reproduction: two `facepipe run` on one folder and home at once (and a
    third a moment later), 60 images: one execution and at most one email per image."""
    home, env = tmp_path / "home", clean_env(tmp_path)
    command = ("run", str(sixty), *FAST_DETECTOR, "--json")
    runners = [started(home, *command, env=env), started(home, *command, env=env)]
    time.sleep(0.5)
    runners.append(started(home, *command, env=env))
    outputs = [runner.communicate(timeout=300) for runner in runners]

    for runner, (_, err) in zip(runners, outputs, strict=True):
        assert runner.returncode == 0 and "Traceback" not in err, err
    rows = [row for out, _ in outputs for row in json.loads(out)]
    ran = [row for row in rows if row["status"] == "SUCCEEDED"]
    assert sorted(row["key"] for row in ran) == sorted(f"uploads/{p.name}" for p in sixty.iterdir())
    assert {row["reason"].split(" (")[0].split(":")[0] for row in rows if row not in ran} <= {
        "being uploaded by another runner",
        "already run",
        "already running",
        "already queued",
    }
    executions = executions_of(home)
    assert len(executions) == 60 and {e.status for e in executions} == {"SUCCEEDED"}
    sends = notify_sends(home)
    with_faces = sum(row["faceCount"] > 0 for row in ran)
    assert with_faces > 20 and len(sends) == with_faces and set(sends.values()) == {1}
    assert len(outbox_files(home)) == with_faces


# --- 2. --annotate never writes over a file -------------------------------------------------
def test_annotate_refuses_a_folder_that_holds_an_input(samples: dict[str, Path], tmp_path: Path):
    folder = tmp_path / "ow"
    folder.mkdir()
    photo = shutil.copy(samples[GROUP], folder / GROUP)
    before = Path(photo).read_bytes()

    done = facepipe_process(
        tmp_path / "home", "run", str(photo), "--annotate", str(folder), env=clean_env(tmp_path)
    )

    assert (done.returncode, done.stdout) == (2, "")
    assert f"--annotate {folder} holds an input, {photo}" in done.stderr
    assert Path(photo).read_bytes() == before
    assert not (tmp_path / "home").exists()  # refused before anything ran


def test_annotated_copies_of_same_named_files_keep_apart_and_replace_nothing(
    samples: dict[str, Path], tmp_path: Path
):
    for folder, name in (("A", GROUP), ("B", PORTRAIT)):
        (tmp_path / folder).mkdir()
        shutil.copy(samples[name], tmp_path / folder / "same.jpg")
    out = tmp_path / "out"
    (out / "A").mkdir(parents=True)
    (out / "A" / "same.jpg").write_bytes(b"the user's own file")

    status, results, _ = run_json(
        tmp_path / "home",
        str(tmp_path / "A" / "same.jpg"),
        str(tmp_path / "B" / "same.jpg"),
        "--annotate",
        str(out),
        env=clean_env(tmp_path),
    )

    assert status == 0
    assert [r["annotated"] for r in results] == [
        str(out / "A" / "same (2).jpg"),
        str(out / "B" / "same.jpg"),
    ]
    assert (out / "A" / "same.jpg").read_bytes() == b"the user's own file"
    assert Image.open(out / "A" / "same (2).jpg").size == Image.open(samples[GROUP]).size


# --- 4. names do not collide, nothing vanishes without a row --------------------------------
def test_same_named_files_get_their_own_keys_and_a_repeat_runs_nothing(
    samples: dict[str, Path], tmp_path: Path
):
    for folder in ("A", "B"):
        (tmp_path / folder).mkdir()
    shutil.copy(samples[GROUP], tmp_path / "A" / "same.jpg")
    shutil.copy(samples[PORTRAIT], tmp_path / "B" / "same.jpg")
    files = [str(tmp_path / "A" / "same.jpg"), str(tmp_path / "B" / "same.jpg")]
    home, env = tmp_path / "home", clean_env(tmp_path)

    first = run_json(home, *files, env=env)
    again = run_json(home, *files, env=env)

    assert [(r["key"], r["status"]) for r in first[1]] == [
        ("uploads/A/same.jpg", "SUCCEEDED"),
        ("uploads/B/same.jpg", "SUCCEEDED"),
    ]
    assert again[0] == 0 and {r["status"] for r in again[1]} == {"SKIPPED"}
    assert all(r["reason"].startswith("already run") for r in again[1])
    assert len(executions_of(home)) == 2 and len(outbox_files(home)) == 2


def test_every_file_under_a_folder_gets_a_row(samples: dict[str, Path], tmp_path: Path):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "dir.jpg").mkdir()  # a folder named like an image: walked
    shutil.copy(samples[NO_FACES], tree / "top.jpg")
    shutil.copy(samples[PORTRAIT], tree / "sub" / "x.jpg")
    shutil.copy(samples[NO_FACES], tree / "dir.jpg" / "inner.jpg")
    (tree / "dangling.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (tree / "zero.jpg").symlink_to("/dev/zero")
    os.mkfifo(tree / "fifo.jpg")
    (tree / ".partial.jpg").write_bytes(b"a download in progress")

    status, results, _ = run_json(tmp_path / "home", str(tree), env=clean_env(tmp_path))

    rows = {r["key"]: (r["status"], r.get("reason")) for r in results}
    assert status == 1  # the link to nothing could not be uploaded
    assert rows["uploads/top.jpg"][0] == "SUCCEEDED"
    assert rows["uploads/sub/x.jpg"][0] == "SUCCEEDED"
    assert rows["uploads/dir.jpg/inner.jpg"][0] == "SUCCEEDED"
    assert rows["uploads/dangling.jpg"] == (
        "NOT_UPLOADED",
        "a link to nothing (its target is gone)",
    )
    assert rows["uploads/zero.jpg"] == ("SKIPPED", "not a regular file (a character device)")
    assert rows["uploads/fifo.jpg"] == ("SKIPPED", "not a regular file (a FIFO)")
    assert rows["uploads/.partial.jpg"][0] == "SKIPPED"
    assert len(results) == 7


# --- 5. any file name, end to end -----------------------------------------------------------
def test_a_newline_in_a_file_name_runs_and_emails(samples: dict[str, Path], tmp_path: Path):
    odd = tmp_path / "new\nline.jpg"
    shutil.copy(samples[PORTRAIT], odd)
    home, env = tmp_path / "home", clean_env(tmp_path)

    status, [result], _ = run_json(home, str(odd), env=env)
    table = facepipe_process(home, "show", "uploads/new_line.jpg", env=env)
    retry = facepipe_process(home, "outbox", "--retry", env=env)

    assert (status, result["key"], result["status"]) == (0, "uploads/new_line.jpg", "SUCCEEDED")
    [email] = outbox_files(home)
    message = BytesParser(policy=policy.default).parsebytes(email.read_bytes())
    assert message["Subject"] == "1 face found in uploads/new_line.jpg"
    assert dedup_id_from_header(str(message[DEDUP_HEADER]).strip()).startswith(
        "facepipe-uploads/uploads/new_line.jpg#"
    )
    assert table.returncode == 0 and "errorMessage" not in table.stdout
    assert retry.returncode == 0


# --- 6. one bad file does not stop the batch ------------------------------------------------
def test_an_unreadable_file_gets_its_row_and_the_rest_run(samples: dict[str, Path], tmp_path: Path):
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(samples[PORTRAIT], photos / "a.jpg")
    shutil.copy(samples[NO_FACES], photos / "c.jpg")
    # A regular file that cannot be read, even by root: reading it fails with EIO.
    (photos / "b.jpg").symlink_to("/proc/self/mem")

    done = facepipe_process(
        tmp_path / "home", "run", str(photos), *FAST_DETECTOR, env=clean_env(tmp_path)
    )

    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert (
        "not uploaded" in done.stdout and "b.jpg: cannot be read: Input/output error" in done.stdout
    )
    assert done.stdout.count("SUCCEEDED") == 2  # the table, for the files that ran


def test_a_file_deleted_mid_run_gets_its_row_and_the_others_finish(
    samples: dict[str, Path], tmp_path: Path
):
    photos, home = tmp_path / "photos", tmp_path / "home"
    photos.mkdir()
    for index in range(16):
        shutil.copy(samples[NO_FACES], photos / f"img{index:02d}.jpg")
    last = photos / "img15.jpg"
    # One worker, and at most two executions queued: the last file is read well after the
    # first execution ends.
    runner = started(
        home,
        "run",
        str(photos),
        "--workers",
        "1",
        *FAST_DETECTOR,
        "--json",
        env=clean_env(tmp_path),
    )
    deadline = time.monotonic() + 120
    while not any(e.status == "SUCCEEDED" for e in _executions_if_any(home)):
        assert time.monotonic() < deadline and runner.poll() is None, "nothing ran"
        time.sleep(0.05)
    last.unlink()
    out, err = runner.communicate(timeout=180)

    assert runner.returncode == 1 and "Traceback" not in err, err
    rows = by_file(json.loads(out))
    assert rows["img15.jpg"]["status"] == "NOT_UPLOADED"
    assert "disappeared" in rows["img15.jpg"]["reason"]
    assert [rows[f"img{i:02d}.jpg"]["status"] for i in range(15)] == ["SUCCEEDED"] * 15


def _executions_if_any(home: Path) -> list[Any]:
    return executions_of(home) if (home / "executions.sqlite3").exists() else []


# --- 8. records says when it shows only some ------------------------------------------------
@pytest.fixture(scope="module")
def three_records(tmp_path_factory: pytest.TempPathFactory, samples: dict[str, Path]) -> Path:
    folder = tmp_path_factory.mktemp("three")
    home = folder / "home"
    done = facepipe_process(
        home, "run", *(str(samples[n]) for n in (PORTRAIT, GROUP, NO_FACES)), *FAST_DETECTOR,
        env=clean_env(folder),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return home


def test_records_says_how_many_of_how_many_and_all_shows_every_one(
    three_records: Path, tmp_path: Path
):
    env = {**clean_env(tmp_path), "COLUMNS": "200"}
    limited = facepipe_process(three_records, "records", "--limit", "2", env=env)
    limited_json = facepipe_process(three_records, "records", "--limit", "2", "--json", env=env)
    every = facepipe_process(three_records, "records", "--all", "--json", env=env)
    helped = facepipe_process(three_records, "records", "--help", env=env)

    assert "2 of 3 record(s), newest first; --limit N or --all shows more" in limited.stdout
    assert len(json.loads(limited_json.stdout)) == 2
    assert "facepipe: 2 of 3 record(s)" in limited_json.stderr
    assert len(json.loads(every.stdout)) == 3 and every.stderr == ""
    assert "newest first (50)" in helped.stdout and "--all" in helped.stdout


# --- 10. the smaller ones -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["records"], "no data home at /no/such/home: nothing has run there"),
        (["run", "{portrait}", "--prefix", "other/"], "--prefix 'other/': the upload rule"),
        (["run", "{portrait}", "--annotate", "/proc/x"], "--annotate /proc/x: cannot make"),
        (["run", "{portrait}", "--workers", "0"], "--workers: must be at least 1, got 0"),
        (["run", "{portrait}", "--wrokers", "2"], "unrecognized arguments: --wrokers"),
        (["console", "--port", "99999"], "--port: must be 0-65535"),
        (["aws", "executions", "--limit", "0"], "--limit: must be at least 1, got 0"),
        (["aws", "upload", "x.jpg", "--timeout", "nan"], "--timeout: must be a number more"),
        (["run", "no/such.jpg", "{portrait}"], "no such file or folder: no/such.jpg"),
    ],
)
def test_mistakes_end_in_one_line_before_anything_runs(
    samples: dict[str, Path], tmp_path: Path, args: list[str], message: str
):
    home = Path("/no/such/home") if args == ["records"] else tmp_path / "home"
    args = [arg.replace("{portrait}", str(samples[PORTRAIT])) for arg in args]

    done = facepipe_process(home, *args, env=clean_env(tmp_path))

    assert done.returncode == 2 and done.stdout == ""
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not home.exists()


def test_a_console_port_in_use_is_said_before_any_banner(tmp_path: Path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = facepipe_process(
            tmp_path / "home", "console", "--port", str(port), env=clean_env(tmp_path), timeout=60
        )

    assert (done.returncode, done.stdout) == (2, "")
    assert f"facepipe: error: port {port} on 127.0.0.1 is in use" in done.stderr
    assert "ERROR" not in done.stderr and "Traceback" not in done.stderr


def test_force_runs_a_file_again_and_version_and_annotate_say_what_they_did(
    samples: dict[str, Path], tmp_path: Path
):
    home, env, out = tmp_path / "home", clean_env(tmp_path), tmp_path / "out"
    photo = str(samples[NO_FACES])
    facepipe_process(home, "run", photo, *FAST_DETECTOR, env=env)

    again = facepipe_process(home, "run", photo, "--annotate", str(out), *FAST_DETECTOR, env=env)
    forced = facepipe_process(home, "run", photo, "--force", *FAST_DETECTOR, "--json", env=env)
    version = facepipe_process(home, "--version", env=env)

    assert "annotated: none written to" in again.stdout and "(no image ran" in again.stdout
    assert json.loads(forced.stdout)[0]["status"] == "SUCCEEDED"
    assert len({e.version_id for e in executions_of(home)}) == 2  # a new version, run again
    assert version.returncode == 0 and version.stdout.startswith("facepipe 0.")


def test_detect_names_each_answer_by_the_path_given(samples: dict[str, Path], tmp_path: Path):
    for folder in ("A", "B"):
        (tmp_path / folder).mkdir()
        shutil.copy(samples[PORTRAIT], tmp_path / folder / "same.jpg")
    files = [str(tmp_path / "A" / "same.jpg"), str(tmp_path / "B" / "same.jpg")]

    done = facepipe_process(
        tmp_path / "home",
        "detect",
        *files,
        "--detector",
        "yunet",
        "--json",
        env=clean_env(tmp_path),
    )

    assert [answer["file"] for answer in json.loads(done.stdout)] == files


def test_an_smtp_run_names_the_server_not_the_outbox(samples: dict[str, Path], tmp_path: Path):
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        url = f"smtp://127.0.0.1:{closed.getsockname()[1]}"
        done = facepipe_process(
            tmp_path / "home", "run", str(samples[NO_FACES]), *FAST_DETECTOR,
            env=clean_env(tmp_path, FACEPIPE_SMTP_URL=url),
        )  # fmt: skip

    assert done.returncode == 0
    assert f"SMTP server 127.0.0.1:{url.rsplit(':', 1)[1]}" in done.stdout
    assert "outbox:" not in done.stdout


def test_failure_details_are_whole_at_80_columns_and_logs_name_the_service(
    samples: dict[str, Path], tmp_path: Path
):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(samples[PORTRAIT].read_bytes()[:1500])
    env = {**clean_env(tmp_path), "COLUMNS": "80"}

    done = facepipe_process(tmp_path / "home", "-v", "run", str(broken), *FAST_DETECTOR, env=env)
    shown = facepipe_process(tmp_path / "home", "show", "uploads/broken.jpg", "--json", env=env)

    assert done.returncode == 1
    reason = json.loads(shown.stdout)["record"]["reason"]
    assert len(reason) > 60  # longer than the detail column at 80 columns

    def letters(text: str) -> str:
        return "".join(c for c in text if c.isalnum())

    assert letters(f"InvalidImageFormatException: {reason}") in letters(done.stdout)
    assert "service_undefined" not in done.stderr and '"service":"facepipe-local"' in done.stderr


def test_a_large_allowed_image_prints_no_pillow_warning(tmp_path: Path):
    """Pillow warns past MAX_IMAGE_PIXELS (89 Mpx); a 10,000 px image is allowed. The limit is
    lowered in the process so a small image crosses it."""
    image = tmp_path / "wide.png"
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 180, 160)).save(buffer, "PNG")  # 120,000 px
    image.write_bytes(buffer.getvalue())
    code = (
        "import sys, PIL.Image; PIL.Image.MAX_IMAGE_PIXELS = 100_000\n"
        "from facepipe.cli import main\n"
        f"sys.exit(main(['--home', {str(tmp_path / 'home')!r}, 'detect', {str(image)!r},"
        " '--detector', 'yunet']))"
    )

    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=clean_env(tmp_path),
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert "DecompressionBombWarning" not in done.stderr


def test_global_options_after_the_command(tmp_path: Path, samples: dict[str, Path]) -> None:
    """``facepipe run x --home h`` is what people type; it works as ``facepipe --home h run x``
    (before, argparse refused it: "unrecognized arguments: --home h"), and a --home given
    after the command wins over one given before."""
    from cli_harness import FACEPIPE

    env = clean_env(tmp_path)
    home, other = tmp_path / "after", tmp_path / "before"
    done = subprocess.run(
        [str(FACEPIPE), "--home", str(other), "run", str(samples[NO_FACES]), "--home", str(home),
         *FAST_DETECTOR, "--json"],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert home.is_dir() and not other.exists()
    listed = subprocess.run(
        [str(FACEPIPE), "records", "--json", "--home", str(home)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert [record["key"] for record in json.loads(listed.stdout)] == [f"uploads/{NO_FACES}"]


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("FACEPIPE_FAULTS", "bogus:1", "unknown fault service 'bogus'"),
        ("FACEPIPE_SMTP_URL", "ftp://mail.example", "FACEPIPE_SMTP_URL must look like"),
        ("FACEPIPE_EMAIL_TO", "not an address", "is not a list of email addresses"),
    ],
)
def test_a_bad_setting_stops_before_a_new_home_is_made(
    tmp_path: Path, samples: dict[str, Path], setting: str, value: str, message: str
) -> None:
    """A typo in a setting is one line, exit 2, and leaves no empty data home behind (which
    a later command would take for a home where nothing ran)."""
    home = tmp_path / "new-home"
    env = {**clean_env(tmp_path), setting: value}
    done = facepipe_process(home, "run", str(samples[PORTRAIT]), *FAST_DETECTOR, env=env)

    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not home.exists()
