"""The Notifier port on an Amazon SNS topic (email subscribers read the message)."""

from __future__ import annotations

from typing import Any

from lambdas.aws.errors import named_aws_errors
from lambdas.domain.model import Email


class SnsNotifier:
    """Publishes each email as one SNS message with the email's subject."""

    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def send(self, email: Email) -> str:
        with named_aws_errors("publishing the face notification to SNS"):
            response = self._client.publish(
                TopicArn=self._topic_arn,
                Subject=email.subject,
                Message=email.body,
                MessageAttributes={
                    "imageVersion": {"DataType": "String", "StringValue": email.dedup_id}
                },
            )
        message_id: str = response["MessageId"]
        return message_id
