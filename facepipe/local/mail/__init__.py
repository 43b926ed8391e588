"""The Notifier port offline: the email message (``message``), the Maildir outbox and its
reader (``notifier``, ``outbox``), SMTP (``smtp``) and the emails not sent yet (``undelivered``)."""
