"""FacePipeStack: storage, table, alerts, network, functions, workflow and trigger composed."""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import CfnElement, CfnOutput, Duration, Environment, Fn, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.alerts import FIVE_MINUTES, Alerts
from infra.backfill import BackfillWorkflow
from infra.events import UploadTrigger
from infra.functions import (
    METRICS_NAMESPACE,
    PipelineFunctions,
    VpcPlacement,
    log_retention,
    service_name,
)
from infra.nag import acknowledge
from infra.network import PrivateNetwork
from infra.regions import require_rekognition
from infra.settings import StackSettings
from infra.storage import UPLOAD_PREFIX, ImageStorage
from infra.table import FaceRecordTable
from infra.workflow import FacePipelineWorkflow
from lambdas.domain.errors import FAILURE_METRICS

# Output keys other tools (facepipe.aws) read from the deployed stack.
OUTPUT_KEYS = (
    "BucketName",
    "UploadPrefix",
    "StateMachineArn",
    "TableName",
    "TopicArn",
    "ConsoleUrl",
    "BackfillStateMachineArn",
)


class FacePipeStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        env: Environment | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="facepipe: S3 upload -> Step Functions face detection",
            env=env,
        )
        require_rekognition(self)
        retention = log_retention(settings.log_retention_days)
        storage = ImageStorage(self, "Storage")
        table = FaceRecordTable(self, "Table")
        alerts = Alerts(self, "Alerts", email=settings.notification_email)
        placement = None
        if settings.vpc_enabled:
            network = PrivateNetwork(self, "Network", log_retention=retention)
            placement = VpcPlacement(network.vpc, network.function_security_group)
        functions = PipelineFunctions(self, "Functions", settings=settings, placement=placement)
        self._grant_steps(functions, storage, table, alerts)
        workflow = FacePipelineWorkflow(
            self,
            "Workflow",
            detect=functions.detect,
            persist=functions.persist,
            notify=functions.notify,
            workflow_type=settings.workflow_type,
            log_retention=retention,
        )
        # Notify links the email to the execution: its console page (Standard) or, for
        # Express, which keeps no history, the log group its events go to.
        functions.notify.add_environment("WORKFLOW_TYPE", settings.workflow_type)
        functions.notify.add_environment("WORKFLOW_LOG_GROUP", workflow.log_group.log_group_name)
        trigger = UploadTrigger(
            self,
            "Trigger",
            bucket_name=storage.bucket.bucket_name,
            state_machine=workflow.state_machine,
        )
        backfill = BackfillWorkflow(
            self,
            "Backfill",
            bucket=storage.bucket,
            upload_prefix=UPLOAD_PREFIX,
            table=table.table,
            alerts=alerts,
            detect=functions.detect,
            persist=functions.persist,
            notify=functions.notify,
            detect_faces_tps=settings.detect_faces_tps,
            log_retention=retention,
        )
        self._alarms(alerts, trigger, workflow)
        self._outputs(storage, table, alerts, workflow, backfill)

    def _alarms(
        self, alerts: Alerts, trigger: UploadTrigger, workflow: FacePipelineWorkflow
    ) -> None:
        """Alarms that need a person. A rejected image (not JPEG/PNG, too large, gone) is
        counted as ImagesRejected and recorded with its reason, but pages no one."""
        persist_metric = _step_metric("persist")
        # Every failed execution records its failure (RecordFailure counts it by kind)
        # unless recording itself failed or the execution failed outside any Catch
        # (States.Runtime, a malformed event): more failed executions than recorded
        # failures in an hour means one nobody heard of. Hourly, so that a failure counted
        # just before a period's end and its execution failing just after cannot page.
        hourly = Duration.hours(1)
        recorded = {
            f"recorded{index}": persist_metric(name).with_(period=hourly)
            for index, name in enumerate(sorted(set(FAILURE_METRICS.values())))
        }
        alerts.alarm_when_positive(
            "ExecutionsFailedUnrecorded",
            metric=cloudwatch.MathExpression(
                expression="FILL(failed, 0) - ("
                + " + ".join(f"FILL({name}, 0)" for name in recorded)
                + ")",
                using_metrics={
                    "failed": workflow.state_machine.metric_failed(period=hourly, statistic="Sum"),
                    **recorded,
                },
                period=hourly,
                label="Failed executions without a recorded failure",
            ),
            description=(
                "An execution failed and no FAILED record says why: RecordFailure itself "
                "failed (permissions, the table) or the execution failed outside every Catch "
                "(States.Runtime, an event that is not S3's). Its history in the Step "
                "Functions console says which. (A backfill's failed images are counted as "
                "recorded too, so during a backfill this alarm can stay quiet.)"
            ),
        )
        alerts.alarm_when_positive(
            "ImagesFailed",
            metric=persist_metric("ImagesFailed"),
            description=(
                "An image ended FAILED for a reason other than the image itself (a step's "
                "error after its retries: configuration, permissions, a service down, Notify's "
                "email). The record's reason and the execution say which."
            ),
        )
        alerts.alarm_when_positive(
            "ThrottledAfterRetries",
            metric=persist_metric("ThrottledAfterRetries"),
            description=(
                "An image ended FAILED because Rekognition, DynamoDB, SNS or Lambda stayed "
                "throttled through every retry: raise the quota or slow the uploads."
            ),
        )
        alerts.alarm_when_positive(
            "UploadEventsDeadLettered",
            metric=trigger.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=FIVE_MINUTES, statistic="Maximum"
            ),
            description=(
                "Upload events could not start the pipeline within 2 hours of retries (e.g. "
                "StartExecution throttled or refused); they wait in the dead-letter queue."
            ),
        )
        alerts.alarm_when_positive(
            "UploadEventsLost",
            metric=cloudwatch.Metric(
                namespace="AWS/Events",
                metric_name="InvocationsFailedToBeSentToDlq",
                dimensions_map={"RuleName": trigger.rule.rule_name},
                period=FIVE_MINUTES,
                statistic="Sum",
            ),
            description="Upload events failed and could not even reach the dead-letter queue.",
        )

    def _grant_steps(
        self,
        functions: PipelineFunctions,
        storage: ImageStorage,
        table: FaceRecordTable,
        alerts: Alerts,
    ) -> None:
        # rekognition:DetectFaces has no resource-level permissions: "*" is the only form.
        functions.detect.add_to_role_policy(
            iam.PolicyStatement(actions=["rekognition:DetectFaces"], resources=["*"])
        )
        # Rekognition reads the S3 object with the caller's permissions (by version).
        functions.detect.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[storage.upload_objects_arn],
            )
        )
        acknowledge(
            functions.detect.role or functions.detect,
            f"AwsSolutions-IAM5[Resource::<{self.get_logical_id(_cfn(storage.bucket))}.Arn>/uploads/*]",
            "Rekognition reads the uploaded object as the caller; any object under uploads/ may "
            "be an image to detect, and nothing outside that prefix is readable.",
        )
        table_arn = table.table.table_arn
        # Exactly the calls each makes (lambdas/aws/dynamodb.py): persist reads the
        # stored record and the latest view (GetItem) and writes both conditionally (PutItem);
        # notify claims, marks sent and releases with conditional UpdateItem only.
        functions.persist.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:PutItem"], resources=[table_arn]
            )
        )
        functions.notify.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[table_arn])
        )
        alerts.grant_publish(functions.notify)
        for function in (functions.persist, functions.notify):
            function.add_environment("TABLE_NAME", table.table.table_name)
        functions.notify.add_environment("TOPIC_ARN", alerts.topic.topic_arn)

    def _outputs(
        self,
        storage: ImageStorage,
        table: FaceRecordTable,
        alerts: Alerts,
        workflow: FacePipelineWorkflow,
        backfill: BackfillWorkflow,
    ) -> None:
        arn = workflow.state_machine.state_machine_arn
        values = {
            "BucketName": storage.bucket.bucket_name,
            "UploadPrefix": UPLOAD_PREFIX,
            "StateMachineArn": arn,
            "TableName": table.table.table_name,
            "TopicArn": alerts.topic.topic_arn,
            "ConsoleUrl": Fn.sub(
                "https://${AWS::Region}.console.aws.amazon.com/states/home"
                "?region=${AWS::Region}#/statemachines/view/${StateMachineArn}",
                {"StateMachineArn": arn},
            ),
            "BackfillStateMachineArn": backfill.state_machine.state_machine_arn,
        }
        for key in OUTPUT_KEYS:
            CfnOutput(self, key, value=values[key])


def _step_metric(step: str) -> Callable[[str], cloudwatch.Metric]:
    """A Powertools metric of one step: namespace FacePipe, dimension service=<its name>."""

    def metric(name: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"service": service_name(step)},
            period=FIVE_MINUTES,
            statistic="Sum",
        )

    return metric


def _cfn(construct: Construct) -> CfnElement:
    child = construct.node.default_child
    assert isinstance(child, CfnElement)
    return child
