"""Local tools: the embedded DynamoDB and the fixes that keep moto fit for long runs."""
