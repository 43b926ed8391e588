"""A VPC without internet access: isolated subnets and VPC endpoints for what the Lambdas call."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.regions import ZONES_NEEDED, endpoint_zones

# What the functions' own code calls. CloudWatch Logs and the X-Ray daemon's uploads are
# made by the Lambda service outside the function's ENI, so they need no endpoint here.
GATEWAY_ENDPOINTS = {
    "S3": ec2.GatewayVpcEndpointAwsService.S3,
    "DynamoDB": ec2.GatewayVpcEndpointAwsService.DYNAMODB,
}
INTERFACE_ENDPOINTS = {
    "Rekognition": ec2.InterfaceVpcEndpointAwsService.REKOGNITION,
    "Sns": ec2.InterfaceVpcEndpointAwsService.SNS,
}


class PrivateNetwork(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, log_retention: logs.RetentionDays
    ) -> None:
        super().__init__(scope, construct_id)
        # Interface endpoints are not offered in every zone: where the region is known, the
        # VPC takes two zones that offer both (else Fn::GetAZs 0 and 1, unchecked).
        stack = Stack.of(self)
        services = [stack.resolve(service.name) for service in INTERFACE_ENDPOINTS.values()]
        zones = endpoint_zones(self, services)
        placement: dict[str, object] = (
            {"availability_zones": zones} if zones else {"max_azs": ZONES_NEEDED}
        )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                )
            ],
            # Nothing uses the default security group; leaving it as AWS creates it.
            restrict_default_security_group=False,
            **placement,  # type: ignore[arg-type]
        )
        flow_log_group = logs.LogGroup(
            self, "FlowLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        self.function_security_group = ec2.SecurityGroup(
            self,
            "Functions",
            vpc=self.vpc,
            description="facepipe Lambdas: HTTPS out to VPC endpoints only",
            allow_all_outbound=False,
        )
        # Gateway endpoints are reached at the services' public addresses (via the route
        # table), so egress is any IPv4 on 443; without NAT or IGW nothing else is reachable.
        self.function_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS service endpoints"
        )
        self._add_endpoints()

    def _add_endpoints(self) -> None:
        subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        for name, gateway in GATEWAY_ENDPOINTS.items():
            self.vpc.add_gateway_endpoint(name, service=gateway, subnets=[subnets])
        endpoint_security_group = ec2.SecurityGroup(
            self,
            "Endpoints",
            vpc=self.vpc,
            description="facepipe interface endpoints: HTTPS from the Lambdas only",
            allow_all_outbound=False,
        )
        endpoint_security_group.add_ingress_rule(
            self.function_security_group, ec2.Port.tcp(443), "HTTPS from the facepipe Lambdas"
        )
        for name, service in INTERFACE_ENDPOINTS.items():
            self.vpc.add_interface_endpoint(
                name,
                service=service,
                subnets=subnets,
                private_dns_enabled=True,
                open=False,
                security_groups=[endpoint_security_group],
            )
