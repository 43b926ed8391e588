"""Talking to a deployed FacePipe stack: its outputs, uploads, executions and their histories.

Modules import boto3 only when used, so `import facepipe.aws` stays cheap.
"""
