"""The console in a real headless Chromium: upload, follow, graph, state details, faces, email."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from console_harness import FOREIGN_HOST, TEST_UPLOAD_LIMIT, RunningConsole

pytestmark = pytest.mark.browser

PATH_WITH_FACES = ["Detect", "Persist", "HasFaces"]
EXECUTION_TIMEOUT_MS = 120_000  # the first detection loads the model


def _row(page: Any, key: str) -> Any:
    return page.locator("#executions tbody tr", has=page.get_by_text(key, exact=True))


def _wait_for_row(page: Any, key: str, status: str) -> None:
    page.wait_for_function(
        "([key, status]) => [...document.querySelectorAll('#executions tbody tr')].some(r =>"
        " r.cells[1].textContent === key && r.cells[0].textContent === status)",
        arg=[key, status],
        timeout=EXECUTION_TIMEOUT_MS,
    )


def _upload_and_wait(page: Any, console: RunningConsole, files: list[Any], keys: list[str]) -> None:
    page.goto(console.url + "/")
    page.set_input_files("#file-input", files)
    for key in keys:
        _wait_for_row(page, key, "SUCCEEDED")


def _open_execution(page: Any, key: str) -> None:
    _row(page, key).first.get_by_role("link").click()
    page.wait_for_selector("body[data-loaded='SUCCEEDED']", timeout=30_000)
    page.wait_for_selector("#graph svg .state")


def _state_status(page: Any, name: str) -> str:
    classes = page.locator(f'#graph .state[data-state="{name}"]').first.get_attribute("class")
    return next(c.removeprefix("status-") for c in classes.split() if c.startswith("status-"))


def test_upload_follow_and_read_an_execution_with_a_face(
    page: Any, console: RunningConsole, artifacts: Path
) -> None:
    portrait, empty = console.samples["portrait"], console.samples["no_faces"]
    _upload_and_wait(
        page, console, [portrait, empty], ["uploads/portrait.jpg", "uploads/no_faces.jpg"]
    )
    assert page.locator("#upload-messages li.ok").count() == 2
    assert _row(page, "uploads/portrait.jpg").locator(".faces").inner_text() == "1"
    assert _row(page, "uploads/no_faces.jpg").locator(".faces").inner_text() == "0"
    page.select_option("#status-filter", "FAILED")
    # Only failed executions (other tests may have made some), so neither of these.
    page.wait_for_function(
        "() => [...document.querySelectorAll('#executions tbody tr')]"
        ".every(row => row.cells[0].textContent === 'FAILED')"
    )
    assert _row(page, "uploads/portrait.jpg").count() == 0
    page.select_option("#status-filter", "SUCCEEDED")
    _row(page, "uploads/portrait.jpg").first.wait_for()
    page.select_option("#status-filter", "")

    _open_execution(page, "uploads/portrait.jpg")
    for name in [*PATH_WITH_FACES, "Notify"]:
        assert _state_status(page, name) == "succeeded", name
    for name in ("NoFaces", "Superseded", "RecordFailure", "Failed"):
        assert _state_status(page, name) == "not_reached", name
    taken = page.locator('#graph .edge.taken[data-source="HasFaces"]')
    assert taken.get_attribute("data-target") == "Notify"

    page.locator('#graph .state[data-state="Detect"]').click()
    assert page.locator("#state-name").inner_text() == "Detect"
    assert '"faceCount": 1' in page.locator("#state-output").inner_text()
    assert page.locator("#state-status").inner_text().startswith("succeeded")

    page.wait_for_function("() => document.getElementById('image').complete")
    assert page.locator("#image-view .face-box").count() == 1
    assert page.locator("#image-view .face-box span").inner_text().endswith("%")
    assert "uploads/portrait.jpg" in page.locator("#email-subject").inner_text()
    assert page.locator("#email-none").is_hidden()
    assert '"status": "DETECTED"' in page.locator("#record").inner_text()
    types = page.locator("#history tbody tr td:nth-child(2)").all_inner_texts()
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"

    page.locator("#graph-section").screenshot(path=str(artifacts / "console-graph.png"))
    page.locator("#image-section").screenshot(path=str(artifacts / "console-faces.png"))


def test_an_image_with_no_faces_takes_the_default_branch_and_sends_no_email(
    page: Any, console: RunningConsole
) -> None:
    # Its own upload, under its own name: the test runs alone or in any order.
    data = console.samples["no_faces"].read_bytes()
    empty = {"name": "empty-room.jpg", "mimeType": "image/jpeg", "buffer": data}
    _upload_and_wait(page, console, [empty], ["uploads/empty-room.jpg"])
    _open_execution(page, "uploads/empty-room.jpg")
    for name in [*PATH_WITH_FACES, "NoFaces"]:
        assert _state_status(page, name) == "succeeded", name
    assert _state_status(page, "Notify") == "not_reached"
    edge = page.locator('#graph .edge.taken[data-source="HasFaces"]')
    assert edge.get_attribute("data-target") == "NoFaces"
    assert page.locator("#image-view .face-box").count() == 0
    assert page.locator("#email-none").is_visible()


def test_refused_uploads_say_why_and_store_nothing(page: Any, console: RunningConsole) -> None:
    page.goto(console.url + "/")
    before = console.stored_keys()
    oversized = b"\xff\xd8\xff\xe0" + bytes(TEST_UPLOAD_LIMIT)
    page.set_input_files(
        "#file-input",
        [
            {"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"just some text"},
            {"name": "huge.jpg", "mimeType": "image/jpeg", "buffer": oversized},
        ],
    )
    page.wait_for_function(
        "() => document.querySelectorAll('#upload-messages li.error').length === 2"
    )
    messages = " ".join(page.locator("#upload-messages li.error").all_inner_texts())
    assert "notes.jpg: refused (415)" in messages and "not a JPEG or PNG" in messages
    assert "huge.jpg: refused (413)" in messages and "the limit is 1.0 MiB" in messages
    assert console.stored_keys() == before


def test_a_key_with_html_in_it_shows_as_text(page: Any, console: RunningConsole) -> None:
    name = '<img src=x onerror="window.pwned=1">.jpg'
    data = console.samples["no_faces"].read_bytes()
    _upload_and_wait(
        page,
        console,
        [{"name": name, "mimeType": "image/jpeg", "buffer": data}],
        [f"uploads/{name}"],
    )
    assert page.locator("#executions img").count() == 0
    _open_execution(page, f"uploads/{name}")
    assert page.locator("#exec-key").inner_text() == f"uploads/{name}"
    assert page.locator("#summary img, #history img").count() == 0
    assert page.evaluate("() => window.pwned") is None  # the markup never ran


def test_a_damaged_image_shows_the_catch_route_and_the_reason(
    page: Any, console: RunningConsole
) -> None:
    damaged = b"\x89PNG\r\n\x1a\n" + b"not really a png" * 8  # passes the magic-byte check
    page.goto(console.url + "/")
    page.set_input_files(
        "#file-input", [{"name": "damaged.png", "mimeType": "image/png", "buffer": damaged}]
    )
    _wait_for_row(page, "uploads/damaged.png", "FAILED")
    _row(page, "uploads/damaged.png").first.get_by_role("link").click()
    page.wait_for_selector("body[data-loaded='FAILED']")
    assert _state_status(page, "Detect") == "caught"
    assert _state_status(page, "RecordFailure") == "succeeded"
    assert _state_status(page, "Failed") == "failed"
    assert _state_status(page, "Persist") == "not_reached"
    catch = page.locator('#graph .edge-catch.taken[data-source="Detect"]')
    assert catch.get_attribute("data-target") == "RecordFailure"
    assert page.locator("#exec-error").inner_text().startswith("InvalidImageFormatException: ")
    page.locator('#graph .state[data-state="Detect"]').click()
    assert page.locator("#state-error").inner_text() == "InvalidImageFormatException"
    assert '"status": "FAILED"' in page.locator("#record").inner_text()
    page.wait_for_selector("#image-missing", state="visible")  # the damaged file, not a blank


def test_dropping_an_image_on_the_page_uploads_it(page: Any, console: RunningConsole) -> None:
    page.goto(console.url + "/")
    data = list(console.samples["no_faces"].read_bytes())
    dropped = page.evaluate_handle(
        "bytes => { const files = new DataTransfer();"
        " files.items.add(new File([new Uint8Array(bytes)], 'dropped.jpg', {type: 'image/jpeg'}));"
        " return files; }",
        data,
    )
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": dropped})
    _wait_for_row(page, "uploads/dropped.jpg", "SUCCEEDED")
    assert (
        "dropped.jpg: uploaded as uploads/dropped.jpg"
        in page.locator("#upload-messages").inner_text()
    )


def test_another_site_can_neither_read_the_console_nor_upload_to_it(
    page: Any, console: RunningConsole
) -> None:
    before = console.stored_keys()
    port = urlsplit(console.url).port
    # DNS rebinding: a page on evil.example, which resolves to 127.0.0.1, asks for the list.
    answer = page.goto(f"http://{FOREIGN_HOST}:{port}/api/executions")
    assert answer.status == 400 and "executions" not in page.content()
    # That page (any page) posts an image to the console: a simple request, no preflight,
    # then one with the console's own X-Filename header, which needs a preflight.
    outcome = page.evaluate(
        """async ([url, bytes]) => {
          const body = new Uint8Array(bytes);
          const headers = { "Content-Type": "text/plain" };
          // Its answer is opaque, or a network error as the 403 is same-origin only (CORP).
          await fetch(url, { method: "POST", mode: "no-cors", headers, body }).catch(() => {});
          try {
            await fetch(url, { method: "POST", headers: { "X-Filename": "x.jpg" }, body });
            return "answered";
          } catch (error) { return "blocked"; }
        }""",
        [console.url + "/api/uploads", list(console.samples["no_faces"].read_bytes())],
    )
    assert outcome == "blocked"
    assert console.stored_keys() == before
    # The console's own page still uploads.
    data = console.samples["no_faces"].read_bytes()
    own = {"name": "own-page.jpg", "mimeType": "image/jpeg", "buffer": data}
    _upload_and_wait(page, console, [own], ["uploads/own-page.jpg"])
    assert (
        "own-page.jpg: uploaded as uploads/own-page.jpg"
        in page.locator("#upload-messages").inner_text()
    )
