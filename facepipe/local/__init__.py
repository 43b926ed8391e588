"""The offline runtime and the local services behind the ports, one room per port.

``runtime`` wires the engine to the step logic (``lambdas/<step>/step.py``) and hands back
an ``outcome`` per image; ``intake`` is the one way images come in; ``detection/`` (the
Detector), ``mail/`` (the Notifier: Maildir outbox, SMTP, emails not sent), ``events/`` (S3
events, the local bus, EventBridge patterns), ``executions/`` (execution history, pending
events, upload journal), ``objectstore`` (the bucket folder) and ``recordstore`` (SQLite
records).

Each lives in its own module and is imported where it is used, so importing this package
stays cheap (no SQLite file, no SMTP connection, no detector model).
"""
