"""AWS adapters behind the ports: Rekognition, DynamoDB, SNS (boto3 only)."""
