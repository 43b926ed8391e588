"""The offline runtime and the local services behind the ports, one room per port.

``runtime`` wires the engine to the step logic (``lambdas/<step>/step.py``) and hands back
an ``outcome`` per image; ``intake`` is the one way images come in; ``detection/`` (the
Detector), ``mail/`` (the Notifier: Maildir outbox, SMTP, emails not sent), ``events/`` (S3
events, the local bus, EventBridge patterns), ``executions/`` (execution history, pending
events, upload journal, Map Runs), ``objectstore`` (the bucket folder), ``recordstore``
(SQLite records), ``backfill`` (backfill.asl.json and redrive offline) with
``sdk_integrations`` (the S3, DynamoDB, Step Functions and SNS calls that workflow makes).

Each lives in its own module and is imported where it is used, so importing this package
stays cheap (no SQLite file, no SMTP connection, no detector model).
"""
