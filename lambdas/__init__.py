"""The three Lambda functions of facepipe and the code they share.

Imports here are limited to the standard library, boto3 and AWS Lambda Powertools:
the same modules run in Lambda and, wired to local services, offline.
"""
