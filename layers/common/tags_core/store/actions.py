"""Transaction actions more than one repository writes: counters, a tag's own fields, the rename of a name lock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tags_core.clock import rfc3339
from tags_core.errors import DomainError, NotFound, PreconditionFailed
from tags_core.names import name_key
from tags_core.store.codec import to_attr
from tags_core.store.keys import (
    ARCHIVED_COUNT,
    deletion_item,
    group_key,
    meta_key,
    name_lock_key,
    tag_index_attrs,
    tag_key,
)
from tags_core.store.table import Transaction, TransactionFailed

# The fields of a tag that a tag update writes (usage is moved only by attachments, aliases only by merges).
TAG_FIELDS = ("name", "name_slug", "type", "group_id", "applies_to", "color", "description", "archived_at", "version",
              "updated_at", "updated_by")


def count(tenant: str, counter: str, delta: int, placeholder: str) -> dict[str, Any]:
    """Move one of the tenant's counters (tag_count, group_count)."""
    return {"Update": {"Key": meta_key(tenant), "UpdateExpression": f"ADD {counter} {placeholder}",
                       "ExpressionAttributeValues": {placeholder: {"N": str(delta)}}}}


DELETION_KEPT_SECONDS = 7 * 86_400  # longer than the stream keeps a record (24 h), so every retry finds it


def record_deletion(tenant: str, kind: str, record_id: str, actor: str) -> dict[str, Any]:
    """Put, in the delete's own transaction, who deleted a tag or group: the stream's REMOVE record carries only
    the item as it was, so the stream processor reads this to give the deletion its actor."""
    now = datetime.now(UTC)
    return {"Put": {"Item": deletion_item(tenant, kind, record_id, actor, rfc3339(now),
                                          int(now.timestamp()) + DELETION_KEPT_SECONDS)}}


def tag_count_down(tenant: str, *, archived: bool) -> dict[str, Any]:
    """A tag leaves the tenant (deleted, or merged away): its count goes down, and the archived count with it."""
    if not archived:
        return count(tenant, "tag_count", -1, ":minus")
    return {"Update": {"Key": meta_key(tenant), "UpdateExpression": f"ADD tag_count :minus, {ARCHIVED_COUNT} :minus",
                       "ExpressionAttributeValues": {":minus": {"N": "-1"}}}}


def group_count(tenant: str, group_id: str, delta: int) -> dict[str, Any]:
    """Move a group's tag count; fails (and so cancels the transaction) when the group does not exist."""
    return {"Update": {"Key": group_key(tenant, group_id), "UpdateExpression": "ADD tag_count :d",
                       "ConditionExpression": "attribute_exists(PK)",
                       "ExpressionAttributeValues": {":d": {"N": str(delta)}}}}


def tag_fields(tenant: str, old: dict[str, Any], new: dict[str, Any], extra_condition: str = "",
               extra_values: dict[str, Any] | None = None) -> dict[str, Any]:
    """SET the tag's own fields (never its usage, which attachments move concurrently) at `old`'s version."""
    fields = {k: new.get(k) for k in TAG_FIELDS}  # a tag stored before a field existed has it as null
    fields.update(dict(tag_index_attrs(tenant, new).items()))
    return {"Update": {
        "Key": tag_key(tenant, old["id"]),
        "UpdateExpression": "SET " + ", ".join(f"#{k} = :{k}" for k in fields),
        "ConditionExpression": "attribute_exists(PK) AND version = :old_version" + extra_condition,
        "ExpressionAttributeNames": {f"#{k}": k for k in fields},
        "ExpressionAttributeValues": {**{f":{k}": to_attr(v) for k, v in fields.items()},
                                      ":old_version": {"N": str(old["version"])}, **(extra_values or {})},
    }}


def add_named(transaction: Transaction, tenant: str, label: str, record: dict[str, Any], lock: dict[str, Any],
              counter: str) -> None:
    """A new tag or group (action `label`): its name lock (action "lock", cancelled with the holder's item when the
    name is taken), the record itself, and the tenant's count."""
    transaction.add("lock", {"Put": {"Item": lock, "ConditionExpression": "attribute_not_exists(PK)",
                                     "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}})
    transaction.add(label, {"Put": {"Item": record, "ConditionExpression": "attribute_not_exists(PK)"}})
    transaction.add("tenant", count(tenant, counter, 1, ":one"))


def rename_lock(transaction: Transaction, tenant: str, namespace: str, owner: str, old: dict[str, Any],
                new: dict[str, Any], lock_item: Callable[[dict[str, Any]], dict[str, Any]]) -> bool:
    """Move a name lock with a rename (actions "lock" and "old_lock"); True when the name key changed.

    A case-only rename keeps the lock and refreshes the displayed name in it. `owner` is the lock's attribute
    holding the id of the tag or group it belongs to.
    """
    if name_key(old["name"]) != name_key(new["name"]):
        transaction.add("lock", {"Put": {"Item": lock_item(new), "ConditionExpression": "attribute_not_exists(PK)",
                                         "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}})
        transaction.add("old_lock", {"Delete": {"Key": name_lock_key(tenant, namespace, old["name"]),
                                                "ConditionExpression": f"{owner} = :id",
                                                "ExpressionAttributeValues": {":id": {"S": old["id"]}}}})
        return True
    if old["name"] != new["name"]:
        transaction.add("lock", {"Put": {"Item": lock_item(new), "ConditionExpression": f"{owner} = :id",
                                         "ExpressionAttributeValues": {":id": {"S": old["id"]}}}})
    return False


def raise_if_refused(exc: TransactionFailed, label: str, noun: str, exists: Callable[[], bool], *, renamed: bool,
                     taken: Callable[[TransactionFailed], DomainError]) -> None:
    """Why a versioned update of a tag or group (action `label`, with `rename_lock`'s actions) was cancelled: 404
    when the record is gone, 412 when another request changed it first, 409 when the new name is taken. Returns
    when none of these actions failed."""
    if exc.failed(label):
        if not exists():
            raise NotFound(f"No such {noun}.") from exc
        raise PreconditionFailed(f"The {label} was changed by another request; read it again.") from exc
    if renamed and exc.failed("lock"):
        raise taken(exc) from exc
