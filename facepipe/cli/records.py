"""``facepipe records`` and ``facepipe show``: what the local pipeline recorded."""

from __future__ import annotations

import argparse
import sys

from facepipe.cli import views
from facepipe.cli.context import existing_home
from facepipe.cli.exits import EXIT_OK, UsageError
from facepipe.local.home import DataHome


def records(args: argparse.Namespace) -> int:
    from facepipe.local.recordstore import SqliteRecordStore

    home = existing_home(args)
    found, total = [], 0
    if home.records_db.exists():
        store = SqliteRecordStore(home.records_db)
        try:
            total = store.count_records(faces_only=args.faces_only)
            limit = max(total, 1) if args.all else args.limit
            found = store.list_records(limit=limit, faces_only=args.faces_only)
        finally:
            store.close()
    shown = f"{len(found)} of {total} record(s)" + (" with faces" if args.faces_only else "")
    more = "; --limit N or --all shows more" if len(found) < total else ""
    if args.json:
        views.print_json([record.to_dict() for record in found])
        if more:  # stdout stays the JSON list; the count goes where a person sees it
            print(f"facepipe: {shown}, newest first{more}", file=sys.stderr)
    else:
        views.stdout_console().print(views.records_table(found, f"{shown}, newest first{more}"))
    return EXIT_OK


def show(args: argparse.Namespace) -> int:
    from facepipe.local.executions import ExecutionStore, executions_db_path
    from facepipe.local.recordstore import SqliteRecordStore

    home = existing_home(args)
    if args.key.startswith("arn:aws:states:"):
        return _show_arn(args, home)
    record, execution, history = None, None, []
    if home.records_db.exists():
        store = SqliteRecordStore(home.records_db)
        record = store.get(args.key, args.version) if args.version else store.get_latest(args.key)
        store.close()
    if executions_db_path(home).exists():
        executions = ExecutionStore(executions_db_path(home))
        version = args.version or (record.version_id if record else None)
        found = executions.for_image(args.key, version)
        if found:
            execution, history = found[0], executions.history(found[0].execution_arn)
        elif record is not None and executions.map_runs.child(record.execution_arn):
            executions.close()  # recorded by a backfill's child execution: show that one
            args.key = record.execution_arn
            return _show_arn(args, home)
        executions.close()
    if record is None and execution is None:
        raise UsageError(f"nothing recorded for key {args.key!r}; `facepipe records` lists keys")
    if args.json:
        views.print_json(
            {
                "record": record.to_dict() if record else None,
                "execution": execution.to_dict() if execution else None,
                "history": history,
            }
        )
        return EXIT_OK
    views.print_show(views.stdout_console(), record, execution, history)
    return EXIT_OK


def _show_arn(args: argparse.Namespace, home: DataHome) -> int:
    """``facepipe show ARN``: an execution, a backfill with its Map Run, or a Map Run child."""
    from facepipe.cli.map_run_views import execution_by_arn, print_execution
    from facepipe.local.executions import ExecutionStore, executions_db_path

    if not executions_db_path(home).exists():
        raise UsageError(f"no execution {args.key} in this data home (nothing has run)")
    executions = ExecutionStore(executions_db_path(home))
    try:
        shown = execution_by_arn(executions, args.key)
    finally:
        executions.close()
    print_execution(views.stdout_console(), shown, as_json=args.json)
    return EXIT_OK
