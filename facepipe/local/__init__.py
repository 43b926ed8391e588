"""Local services behind the ports: a bucket folder, an event bus, SQLite records, a mail outbox.

Each lives in its own module and is imported where it is used, so importing this package
stays cheap (no SQLite file, no SMTP connection, no detector model).
"""
