"""``facepipe outbox``: the emails in the local outbox, those not sent, ``--retry``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from facepipe.cli import views
from facepipe.cli.context import existing_home
from facepipe.cli.exits import EXIT_FAILED, EXIT_OK
from facepipe.local.home import DataHome
from facepipe.local.mail.outbox import message_path
from lambdas.domain.face_email import image_version_of

if TYPE_CHECKING:
    from facepipe.local.mail.undelivered import ResendResult, UndeliveredMail


def outbox(args: argparse.Namespace) -> int:
    from facepipe.local.mail.outbox import list_outbox
    from facepipe.local.mail.undelivered import UndeliveredMail

    home = existing_home(args)
    undelivered = UndeliveredMail(home.undelivered)
    retried = _retry_unsent(home, undelivered) if args.retry else []
    messages = list_outbox(home.outbox)
    unsent = undelivered.unsent()
    status = EXIT_FAILED if any(r.error for r in retried) else EXIT_OK
    if args.json:
        views.print_json(
            [
                {
                    "status": "SENT",
                    "id": m.id,
                    "date": m.date.isoformat(),
                    "to": m.to,
                    "subject": m.subject,
                    "messageId": m.message_id,
                    "path": str(message_path(home.outbox, m.id)),
                }
                for m in messages
            ]
            + [
                {
                    "status": "UNSENT",
                    "subject": u.email.subject,
                    "imageVersion": u.email.dedup_id,
                    "to": list(u.delivery.recipients) if u.delivery else None,
                    "via": u.delivery.describe() if u.delivery else None,
                    "reason": u.reason,
                    "attempts": u.attempts,
                    "firstFailedAt": u.first_failed_at,
                    "lastFailedAt": u.last_failed_at,
                }
                for u in unsent
            ]
        )
        for result in retried:
            if result.refused:
                print(f"facepipe: not sent: {result.error}", file=sys.stderr)
        return status
    console = views.stdout_console()
    for result in retried:
        if result.error is None:
            delivery = result.unsent.delivery
            verdict = f"sent to {', '.join(delivery.recipients)}" if delivery else "sent"
        else:
            verdict = f"{'not sent' if result.refused else 'still not sent'}: {result.error}"
        console.print(f"{result.unsent.email.subject}: {verdict}", soft_wrap=True, markup=False)
    console.print(views.outbox_table(messages, lambda key: message_path(home.outbox, key)))
    if unsent:
        console.print(views.unsent_table(unsent))
        console.print("`facepipe outbox --retry` sends them", soft_wrap=True, markup=False)
    console.print(f"outbox: {home.outbox}", soft_wrap=True, markup=False)
    return status


def _retry_unsent(home: DataHome, undelivered: UndeliveredMail) -> list[ResendResult]:
    """Send the kept emails the way each was meant to go; mark their records emailed."""
    from facepipe.local.mail.notifier import notifiers_for_kept_mail
    from facepipe.local.mail.undelivered import resend_undelivered
    from facepipe.local.recordstore import SqliteRecordStore

    results = resend_undelivered(undelivered, notifiers_for_kept_mail(home))
    store = SqliteRecordStore(home.records_db)
    claimant = "facepipe outbox --retry"
    try:
        for result in results:
            if result.error is None and result.message_id is not None:
                key, version = image_version_of(result.unsent.email.dedup_id)
                # Recorded as sent, as the Notify step records it: nothing sends it again.
                if store.claim_notification(key, version, claimant=claimant):
                    store.mark_notification_sent(key, version, result.message_id, claimant)
    finally:
        store.close()
    return results
