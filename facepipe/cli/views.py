"""How the ``facepipe`` commands look in a terminal: rich tables, progress, the graph."""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from facepipe.cli.results import FileResult
    from facepipe.local.executions import StoredExecution
    from facepipe.local.mail.outbox import OutboxMessage
    from facepipe.local.mail.undelivered import UnsentEmail
    from facepipe.local.outcome import ExecutionOutcome
    from lambdas.domain.model import FaceRecord

DETAIL_WIDTH = 70
_STATUS_STYLE = {"SUCCEEDED": "green", "DETECTED": "green", "FAILED": "red", "SKIPPED": "yellow"}


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def stdout_console() -> Console:
    return Console(highlight=False)


def _status(text: str) -> str:
    style = _STATUS_STYLE.get(text, "cyan")
    return f"[{style}]{text}[/{style}]"


def _short(text: str | None, width: int = DETAIL_WIDTH) -> str:
    one_line = " ".join((text or "").split())
    return one_line if len(one_line) <= width else one_line[: width - 1] + "…"


@contextmanager
def progress(total: int, *, enabled: bool) -> Iterator[Callable[[], None]]:
    """Yields ``advance()``; draws a bar on stderr only when ``enabled``."""
    if not enabled:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("images", total=total)
        yield lambda: bar.advance(task)


def run_table(results: list[FileResult]) -> Table:
    table = Table(title="facepipe run")
    table.add_column("key", overflow="fold")
    table.add_column("faces", justify="right")
    table.add_column("status")
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("detail", overflow="fold")  # folded, never cut: it is the why
    for result in results:
        outcome = result.outcome
        if outcome is None:  # the whole reason is printed under the table, by file
            why = re.split(r": |; ", result.reason or "", maxsplit=1)[0]
            table.add_row(result.key, "", _status(result.status), "", why)
            continue
        detail = _outcome_detail(outcome)
        if result.annotate_error:
            detail = f"{detail}; {result.annotate_error}" if detail else result.annotate_error
        table.add_row(
            outcome.key,
            "" if outcome.face_count is None else str(outcome.face_count),
            _status(outcome.status),
            "" if outcome.duration_ms is None else f"{outcome.duration_ms:.0f} ms",
            detail,
        )
    return table


def _outcome_detail(outcome: ExecutionOutcome) -> str:
    if outcome.succeeded:
        return ""
    return f"{outcome.error}: {readable_cause(outcome.cause)}"


def readable_cause(cause: str | None) -> str:
    """A failure's cause for people: a Lambda error's ``errorMessage``, not its JSON."""
    import json

    text = " ".join((cause or "").split())
    try:
        parsed = json.loads(cause or "")
    except ValueError:
        return text
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        return str(parsed["errorMessage"])
    return text


def print_execution_graph(
    console: Console, definition: dict[str, Any], history: list[dict[str, Any]], title: str
) -> None:
    from facepipe.graph import build_graph, summarize_history
    from facepipe.graph.terminal import print_execution

    graph = build_graph(definition)
    summary = summarize_history(history, list(definition["States"]))
    print_execution(graph, summary, title, console)


def records_table(records: list[FaceRecord], caption: str | None = None) -> Table:
    table = Table(title="face records", caption=caption)
    table.add_column("key", min_width=20, overflow="fold")
    table.add_column("status")
    table.add_column("faces", justify="right")
    table.add_column("detected (UTC)", no_wrap=True)
    table.add_column("emailed")
    table.add_column("reason")
    for record in records:
        table.add_row(
            record.key,
            _status(record.status),
            str(record.face_count),
            record.detected_at[:19].replace("T", " "),
            "yes" if record.notified_at else "",
            _short(record.reason, 40),
        )
    return table


def print_show(
    console: Console,
    record: FaceRecord | None,
    execution: StoredExecution | None,
    history: list[dict[str, Any]],
) -> None:
    if record is not None:
        console.print(_record_table(record))
    if execution is not None:
        from facepipe.resources import state_machine_path

        definition = _json_file(state_machine_path())
        print_execution_graph(console, definition, history, execution.image_key)
        console.print(events_table(history))


def _json_file(path: Path) -> dict[str, Any]:
    import json

    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _record_table(record: FaceRecord) -> Table:
    table = Table(title=f"record of {record.key}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    rows = [
        ("bucket", record.bucket),
        ("version", record.version_id),
        ("status", _status(record.status)),
        ("faces", str(record.face_count)),
        ("detected", record.detected_at),
        ("notified", record.notified_at or "no"),
        ("execution", record.execution_arn),
    ]
    rows += [
        (name, value)
        for name, value in (("error", record.error), ("reason", record.reason))
        if value
    ]
    for face_number, face in enumerate(record.faces, 1):
        box = face.get("box", {})
        rows.append(
            (
                f"face {face_number}",
                f"{face.get('confidence', 0):.1f}%  left {box.get('left', 0):.3f} top "
                f"{box.get('top', 0):.3f} width {box.get('width', 0):.3f} height "
                f"{box.get('height', 0):.3f}",
            )
        )
    for name, value in rows:
        table.add_row(name, value)
    return table


def events_table(history: list[dict[str, Any]]) -> Table:
    table = Table(title="execution history")
    for column in ("id", "time", "type", "state", "detail"):
        table.add_column(column, justify="right" if column == "id" else "left")
    for event in history:
        details: dict[str, Any] = next(
            (v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)),
            {},
        )
        detail = str(details.get("error", ""))
        if detail and details.get("cause"):
            detail = _short(f"{detail}: {details['cause']}", 60)
        state = str(details.get("name", ""))
        table.add_row(
            str(event.get("id", "")),
            str(event.get("timestamp", ""))[11:23],
            str(event.get("type", "")),
            state,
            detail,
        )
    return table


def outbox_table(messages: list[OutboxMessage], path_of: Callable[[str], Path]) -> Table:
    table = Table(title="outbox")
    for column in ("date", "to", "subject", "file"):
        table.add_column(column)
    for message in messages:
        table.add_row(
            message.date.isoformat(timespec="seconds"),
            message.to,
            message.subject,
            str(path_of(message.id)),
        )
    return table


def unsent_table(unsent: list[UnsentEmail]) -> Table:
    table = Table(title="not sent yet (kept until sent)")
    for column in ("first failed", "attempts", "subject", "last reason"):
        table.add_column(column, justify="right" if column == "attempts" else "left")
    for item in unsent:
        table.add_row(
            item.first_failed_at.replace("T", " "),
            str(item.attempts),
            item.email.subject,
            _short(item.reason, 50),
        )
    return table


def detect_table(answers: list[dict[str, Any]]) -> Table:
    table = Table(title="face detection")
    for column in ("file", "faces", "confidence", "error"):
        table.add_column(column, overflow="fold")
    for answer in answers:
        if "error" in answer:
            error = answer["error"]
            table.add_row(answer["file"], "", "", f"{error['Code']}: {error['Message']}")
            continue
        faces = answer["FaceDetails"]
        scores = ", ".join(f"{face['Confidence']:.1f}%" for face in faces)
        table.add_row(answer["file"], str(len(faces)), scores, "")
    return table


class WatchTally:
    """What ``facepipe watch`` did, told as it happens; safe to call from worker threads."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._lock = threading.Lock()
        self.uploaded = self.succeeded = self.failed_count = self.skipped_count = 0
        self.not_uploaded = self.handed_over = 0

    @property
    def failed(self) -> int:
        """Executions that failed and files that could not be uploaded."""
        with self._lock:
            return self.failed_count + self.not_uploaded

    @property
    def in_progress(self) -> int:
        with self._lock:
            return self.uploaded - self.succeeded - self.failed_count - self.handed_over

    def say(self, text: str) -> None:
        with self._lock:
            self.console.print(text, soft_wrap=True, markup=False)

    def started(self) -> None:
        with self._lock:
            self.uploaded += 1

    def not_taken(self, label: str, reason: str, *, failed: bool) -> None:
        """A file skipped on purpose, or (``failed``) one that could not be uploaded."""
        with self._lock:
            if failed:
                self.not_uploaded += 1
            else:
                self.skipped_count += 1
            verb = "not uploaded" if failed else "skipped"
            self.console.print(f"{verb} {label}: {reason}", soft_wrap=True, markup=False)

    def left_to_resume(self, key: str) -> None:
        with self._lock:
            self.handed_over += 1
            self.console.print(f"{key}: left to `facepipe resume`", soft_wrap=True, markup=False)

    def finished(self, outcome: ExecutionOutcome) -> None:
        with self._lock:
            if outcome.succeeded:
                self.succeeded += 1
                text = f"{outcome.key}: {outcome.face_count} face(s)"
            elif outcome.status == "ABORTED":  # stopped in a retry wait: resume runs it
                self.handed_over += 1
                text = f"{outcome.key}: left to `facepipe resume`"
            else:
                self.failed_count += 1
                text = f"{outcome.key}: {outcome.status} {_outcome_detail(outcome)}"
            self.console.print(text, soft_wrap=True, markup=False)

    def summary(self) -> str:
        with self._lock:
            text = (
                f"watched: {self.uploaded} image(s) run ({self.succeeded} succeeded, "
                f"{self.failed_count} failed), {self.skipped_count} skipped"
            )
            if self.handed_over:
                text += f", {self.handed_over} left to `facepipe resume`"
            return text + (f", {self.not_uploaded} not uploaded" if self.not_uploaded else "")
