"""The notification topic (face emails and alarms) and the alarms that publish to it."""

from __future__ import annotations

from aws_cdk import Duration, Fn
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

# Every CloudWatch alarm of the stack's account and region (an Fn::Sub template).
ALARM_ARNS_OF_THIS_ACCOUNT = (
    "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"
)

# aws:SourceAccount and aws:SourceArn: only alarms of this account and region may use the
# topic and its key (IAM's guard against the cross-service confused deputy).
_ALARMS_OF_THIS_ACCOUNT = {
    "StringEquals": {"aws:SourceAccount": Fn.ref("AWS::AccountId")},
    "ArnLike": {"aws:SourceArn": Fn.sub(ALARM_ARNS_OF_THIS_ACCOUNT)},
}


class Alerts(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, email: str | None) -> None:
        super().__init__(scope, construct_id)
        # A customer managed key: CloudWatch alarms cannot publish to a topic encrypted
        # with the AWS managed alias/aws/sns key, whose policy cannot be changed.
        self.key = kms.Key(
            self,
            "TopicKey",
            description="facepipe notification topic encryption",
            enable_key_rotation=True,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy "*" means this key
                # The same confused-deputy guard as the topic policy: CloudWatch's KMS
                # requests carry the alarm as aws:SourceArn (EventBridge's would not).
                conditions=_ALARMS_OF_THIS_ACCOUNT,
            )
        )
        self.topic = sns.Topic(
            self,
            "Notifications",
            display_name="facepipe",
            master_key=self.key,
            enforce_ssl=True,
        )
        # enforce_ssl gives the topic a resource policy, and a topic policy replaces SNS's
        # default one, under which CloudWatch could publish: without this statement every
        # alarm action is refused. Only alarms of this account and region may publish.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=_ALARMS_OF_THIS_ACCOUNT,
            )
        )
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        """sns:Publish on this topic plus the two KMS actions SNS needs for the encrypted topic."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn])
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[self.key.key_arn]
            )
        )

    def alarm_when_positive(
        self, construct_id: str, *, metric: cloudwatch.IMetric, description: str
    ) -> cloudwatch.Alarm:
        """An alarm that fires on any non-zero value in a five-minute window."""
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        return alarm


FIVE_MINUTES = Duration.minutes(5)
