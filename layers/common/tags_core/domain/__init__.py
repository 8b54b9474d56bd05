"""The domain layer: the rules of tags, groups, tags on objects and merges, and who may act (identity, accounts).

Works on records from `tags_core.store` and raises `tags_core.errors`; knows nothing of HTTP paths or DynamoDB.
"""
