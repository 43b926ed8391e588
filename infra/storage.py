"""The upload bucket, its access-log bucket, and S3 -> EventBridge notifications."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.nag import acknowledge

UPLOAD_PREFIX = "uploads/"


class ImageStorage(Construct):
    """Versioned, private, TLS-only bucket; every object event goes to EventBridge."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            # Server access logs can only be delivered to SSE-S3 buckets.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This is the access-log bucket itself; logging it would log forever.",
        )
        self.bucket = s3.Bucket(
            self,
            "Images",
            # SSE-S3: Rekognition reads the object on the caller's behalf, and a KMS key
            # would add kms:Decrypt to the detect role and a KMS endpoint to the VPC.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="images/",
        )
        # Native CloudFormation switch: `event_bridge_enabled=True` would deploy a
        # custom-resource Lambda (broad IAM, its own runtime) to do the same thing.
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
        )

    @property
    def upload_objects_arn(self) -> str:
        """ARN pattern of the objects the pipeline reads: everything under ``uploads/``."""
        return self.bucket.arn_for_objects(f"{UPLOAD_PREFIX}*")
