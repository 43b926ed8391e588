"""facepipe's AWS infrastructure: a CDK v2 app, one construct per concern.

Nothing in facepipe or lambdas imports this package; it imports aws-cdk-lib and reads
the shared files in ``statemachine/``.
"""
