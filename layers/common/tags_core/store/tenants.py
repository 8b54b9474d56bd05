"""Tenants and their API keys: the tenant's item with its counters, and two items per key (lookup and listing)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from tags_core.errors import Conflict, NotFound
from tags_core.store.keys import (
    ARCHIVED_COUNT,
    KEY_PREFIX,
    api_key_entry_key,
    api_key_items,
    api_key_lookup_key,
    meta_key,
    tenant_item,
    tenant_pk,
)
from tags_core.store.table import CONDITION_FAILED, Table, Transaction, TransactionFailed, public


class TenantStore(Table):
    def put_tenant(self, tenant: str, name: str, created_at: str) -> None:
        try:
            self._call("put_item", TableName=self.table, Item=tenant_item(tenant, name, created_at),
                       ConditionExpression="attribute_not_exists(PK)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != CONDITION_FAILED:
                raise
            existing = self.get_tenant(tenant) or {}
            if (existing.get("name"), existing.get("created_at")) != (name, created_at):  # else: our own retry
                raise Conflict(f"Tenant {tenant!r} already exists.", code="tenant_exists") from exc

    def get_tenant(self, tenant: str) -> dict[str, Any] | None:
        return self._get(meta_key(tenant))

    def count_groups(self, tenant: str) -> int:
        meta = self.get_tenant(tenant)
        return int(meta.get("group_count", 0)) if meta else 0

    def count_tags(self, tenant: str, archived: str = "all") -> int:
        """The tenant's tags: all of them, the archived ones ("true") or the others ("false")."""
        meta = self.get_tenant(tenant) or {}
        total, archived_count = int(meta.get("tag_count", 0)), int(meta.get(ARCHIVED_COUNT, 0))
        return {"all": total, "true": archived_count}.get(archived, total - archived_count)

    def put_api_key(self, tenant: str, key_hash: str, record: dict[str, Any]) -> None:
        """Two items in one transaction: the lookup by hash (authorizer) and the tenant's listing entry."""
        lookup, listing = api_key_items(tenant, key_hash, record)
        transaction = Transaction()
        transaction.add("tenant", {"ConditionCheck": {"Key": meta_key(tenant),
                                                      "ConditionExpression": "attribute_exists(PK)"}})
        transaction.add("lookup", {"Put": {"Item": lookup, "ConditionExpression": "attribute_not_exists(PK)"}})
        transaction.add("listing", {"Put": {"Item": listing, "ConditionExpression": "attribute_not_exists(PK)"}})
        try:
            self._transact(transaction, token=f"key-{record['key_id']}")  # a retry after a timeout: the same one
        except TransactionFailed as exc:
            if exc.failed("tenant"):
                raise NotFound(f"No tenant {tenant!r}.") from exc
            written = self.get_api_key(key_hash)
            if written is None or written.get("key_id") != record["key_id"]:
                raise  # not our own earlier attempt that committed before its response was lost

    def get_api_key(self, key_hash: str) -> dict[str, Any] | None:
        return self._get(api_key_lookup_key(key_hash))

    def list_api_keys(self, tenant: str) -> list[dict[str, Any]]:
        return [public(item) for item in self._query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :sk)",
            ExpressionAttributeValues={":pk": {"S": tenant_pk(tenant)}, ":sk": {"S": KEY_PREFIX}},
        )]

    def revoke_api_key(self, tenant: str, key_id: str, revoked_at: str) -> None:
        entry_key = api_key_entry_key(tenant, key_id)
        item = self._call("get_item", TableName=self.table, Key=entry_key, ConsistentRead=True).get("Item")
        if not item:
            raise NotFound(f"No key {key_id!r} for tenant {tenant!r}.")
        key_hash = item["key_hash"]["S"]
        update = {"UpdateExpression": "SET revoked_at = :at", "ExpressionAttributeValues": {":at": {"S": revoked_at}}}
        transaction = Transaction()
        transaction.add("listing", {"Update": {"Key": entry_key, **update}})
        transaction.add("lookup", {"Update": {"Key": api_key_lookup_key(key_hash), **update}})
        self._transact(transaction)
