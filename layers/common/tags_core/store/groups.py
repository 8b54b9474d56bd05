"""Tag groups: the group item, its name lock, the tenant's group count; ungrouping moves tags and counts together."""

from __future__ import annotations

from typing import Any

from tags_core.errors import Conflict, NotFound, PreconditionFailed
from tags_core.names import sort_key
from tags_core.store import actions
from tags_core.store.codec import to_attr
from tags_core.store.keys import (
    GROUP,
    GROUP_LOCKS,
    GROUP_PREFIX,
    INDEX_BY_NAME,
    NAME_ORDER,
    STORAGE_ATTRS,
    all_groups,
    group_item,
    group_key,
    group_name_item,
    name_lock_key,
    tenant_pk,
)
from tags_core.store.table import Page, Table, Transaction, TransactionFailed, public

GROUP_FIELDS = ("name", "name_slug", "description", "max_per_object", "version", "updated_at", "updated_by")


def _taken(exc: TransactionFailed, name: str) -> Conflict:
    existing = exc.old_item(name) or {}
    return Conflict("A tag group with this name already exists.", code="group_exists", field="name",
                    existing_id=existing.get("group_id"))


class GroupStore(Table):
    def create_group(self, tenant: str, group: dict[str, Any]) -> None:
        transaction = Transaction()
        actions.add_named(transaction, tenant, "group", group_item(tenant, group), group_name_item(tenant, group),
                          "group_count")
        try:
            self._transact(transaction)
        except TransactionFailed as exc:
            if exc.failed("lock"):
                raise _taken(exc, "lock") from exc
            raise

    def get_group(self, tenant: str, group_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
        return self._get(group_key(tenant, group_id), consistent=consistent, without=STORAGE_ATTRS)

    def get_groups(self, tenant: str, group_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Groups by id, read consistently (deleted ones are absent)."""
        return {item["id"]: public(item) for item in self.batch_get([group_key(tenant, g)
                                                                     for g in dict.fromkeys(group_ids)])}

    def update_group(self, tenant: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Write the group's own fields if still at the version read (its tag count is left to the counters)."""
        fields = {k: new.get(k) for k in GROUP_FIELDS}
        fields[NAME_ORDER] = sort_key(new["name"], new["id"])
        values = {f":{k}": to_attr(v) for k, v in fields.items()}
        values[":old"] = {"N": str(old["version"])}
        transaction = Transaction()
        transaction.add("group", {"Update": {
            "Key": group_key(tenant, old["id"]), "UpdateExpression": "SET " + ", ".join(f"#{k} = :{k}" for k in fields),
            "ConditionExpression": "attribute_exists(PK) AND version = :old",
            "ExpressionAttributeNames": {f"#{k}": k for k in fields}, "ExpressionAttributeValues": values}})
        renamed = actions.rename_lock(transaction, tenant, GROUP_LOCKS, "group_id", old, new,
                                      lambda group: group_name_item(tenant, group))
        try:
            self._transact(transaction)
        except TransactionFailed as exc:
            actions.raise_if_refused(
                exc, "group", "tag group", lambda: self.get_group(tenant, old["id"], consistent=True) is not None,
                renamed=renamed, taken=lambda failed: _taken(failed, "lock"))
            raise

    def delete_group(self, tenant: str, group: dict[str, Any], actor: str | None = None) -> None:
        """Delete an empty group at the version read. A group that still holds tags answers 409 group_not_empty;
        one changed since it was read (renamed: its name lock moved) 412."""
        transaction = Transaction()
        transaction.add("group", {"Delete": {
            "Key": group_key(tenant, group["id"]),
            "ConditionExpression": "attribute_exists(PK) AND version = :version "
                                   "AND (attribute_not_exists(tag_count) OR tag_count = :zero)",
            "ExpressionAttributeValues": {":zero": {"N": "0"}, ":version": {"N": str(group["version"])}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}})
        transaction.add("lock", {"Delete": {"Key": name_lock_key(tenant, GROUP_LOCKS, group["name"]),
                                            "ConditionExpression": "group_id = :id",
                                            "ExpressionAttributeValues": {":id": {"S": group["id"]}}}})
        transaction.add("tenant", actions.count(tenant, "group_count", -1, ":minus"))
        if actor:
            transaction.add("deletion", actions.record_deletion(tenant, GROUP, group["id"], actor))
        try:
            self._transact(transaction)
        except TransactionFailed as exc:
            old = exc.old_item("group") if exc.failed("group") else None
            if exc.failed("group") and old is None:
                raise NotFound("No such tag group.") from exc
            if old is not None and int(old.get("tag_count", 0)) > 0:
                raise Conflict("The group still holds tags; move them first or pass ungroup=true.",
                               code="group_not_empty", tag_count=int(old.get("tag_count", 0))) from exc
            if old is not None or exc.failed("lock"):
                raise PreconditionFailed("The group was changed by another request; read it again.") from exc
            raise

    def ungroup_tags(self, tenant: str, group_id: str, tags: list[dict[str, Any]], now: str, actor: str) -> None:
        """Make up to 98 tags of a group free-standing in one transaction, moving the group's count with them."""
        transaction = Transaction()
        for tag in tags:
            new = {**tag, "group_id": None, "version": tag["version"] + 1, "updated_at": now, "updated_by": actor}
            transaction.add(f"tag:{tag['id']}", actions.tag_fields(tenant, tag, new, " AND group_id = :g",
                                                                    {":g": {"S": group_id}}))
        transaction.add("group", actions.group_count(tenant, group_id, -len(tags)))
        try:
            self._transact(transaction)
        except TransactionFailed as exc:
            raise PreconditionFailed("Tags of the group changed meanwhile; retry.") from exc

    def list_groups(self, tenant: str, *, by_name: bool, ascending: bool, limit: int, start: dict[str, Any] | None,
                    skip: int, prefix: str | None) -> Page:
        """One page of groups: by name from the name index, else in creation order from the base table."""
        if by_name:
            return self.query_page(index=INDEX_BY_NAME, partition=all_groups(tenant), sk_prefix=prefix,
                                   ascending=ascending, limit=limit, start_key=start, skip=skip)
        return self.query_page(index=None, partition=tenant_pk(tenant), sk_prefix=GROUP_PREFIX, ascending=ascending,
                               limit=limit, start_key=start, filters=[(NAME_ORDER, "begins_with", prefix)]
                               if prefix else None, skip=skip)
