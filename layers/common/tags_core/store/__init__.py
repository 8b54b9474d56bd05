"""The storage layer: the one table's client, key scheme (`keys`) and one repository module per aggregate.

Nothing here knows HTTP or the domain's rules; nothing outside builds a DynamoDB request or spells a key.
"""
