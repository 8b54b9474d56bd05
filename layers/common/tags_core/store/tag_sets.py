"""Objects' tag sets (tag id → attached_at, and a version), the usage counts they move, the per-key write budget
(the times of its recent writes: a sliding window), and the reverse index (objects carrying a tag) the stream
keeps from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from tags_core.clock import now_iso
from tags_core.names import name_key
from tags_core.store.codec import from_item, to_attr
from tags_core.store.keys import (
    LAST_SOURCE,
    MOVED_NAMES,
    TAG_LOCKS,
    TAG_SET,
    WRITE_BUDGET,
    group_key,
    item_type,
    name_lock_key,
    rate_limit_key,
    reverse_item,
    reverse_key,
    reverse_pk,
    reverse_range,
    tag_key,
    tag_set_item,
    tag_set_key,
    write_budget_item,
)
from tags_core.store.table import CONDITION_FAILED, Page, TagSetChanged, Transaction, TransactionFailed, public
from tags_core.store.tags import TagStore, add_new_tags

# A tag can take a new attachment of a kind while it exists, applies to the kind, was not merged away and is not
# archived (`archived_at` absent or null).
ATTACHABLE = ("attribute_exists(PK) AND #applies.#kind = :yes AND attribute_not_exists(merged_into) "
              "AND (attribute_not_exists(archived_at) OR attribute_type(archived_at, :null_type))")
UNGROUPED = "(attribute_not_exists(group_id) OR attribute_type(group_id, :null_type))"
NULL_TYPE = {"S": "NULL"}
NO_GROUP = ""  # in `members`: the tag was read free-standing


class BudgetChanged(Exception):
    """The key's recent writes to this object changed since they were read (another write of the same key)."""


class AlreadyRecorded(Exception):
    """A bulk job's object already has its outcome (a redelivered message, or its duplicate running alongside)."""


class AttachRefused(Exception):
    """A tag could not be attached: it no longer exists, does not apply to the kind, or was merged away."""

    def __init__(self, tag_id: str, tag: dict[str, Any] | None) -> None:
        super().__init__(tag_id)
        self.tag_id = tag_id
        self.tag = tag


def write_budget(tenant: str, key_id: str, kind: str, object_id: str, writes: list[int], seq: int,
                 expires_at: int) -> dict[str, Any]:
    """The Put action that records a key's writes to an object (epoch ms, the new one included), provided they are
    still at `seq` as read (0: none recorded)."""
    item = write_budget_item(tenant, key_id, kind, object_id, writes, seq + 1, expires_at)
    if not seq:
        return {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}
    return {"Put": {"Item": item, "ConditionExpression": "seq = :seq",
                    "ExpressionAttributeValues": {":seq": {"N": str(seq)}}}}


def budget_key(tenant: str, key_id: str, kind: str, object_id: str) -> dict[str, Any]:
    return rate_limit_key(tenant, key_id, kind, object_id)


def _usage(tenant: str, tag_id: str, kind: str, delta: int, group: str | None = None) -> dict[str, Any]:
    """Move a tag's usage for `kind`. Up: only while the tag is attachable and, when `group` is given, still in
    the group it was read in (NO_GROUP: free-standing), so a group limit checked on that membership holds."""
    if delta > 0:
        values: dict[str, Any] = {":one": {"N": "1"}, ":yes": {"BOOL": True}, ":null_type": NULL_TYPE}
        condition = ATTACHABLE
        if group == NO_GROUP:
            condition += " AND " + UNGROUPED
        elif group is not None:
            condition += " AND group_id = :group"
            values[":group"] = {"S": group}
        return {"Update": {
            "Key": tag_key(tenant, tag_id), "UpdateExpression": "ADD #usage.#kind :one",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#usage": "usage", "#kind": kind, "#applies": "applies_to"},
            "ExpressionAttributeValues": values,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}
    return {"Update": {
        "Key": tag_key(tenant, tag_id), "UpdateExpression": "ADD #usage.#kind :minus",
        "ConditionExpression": "attribute_exists(PK)",
        "ExpressionAttributeNames": {"#usage": "usage", "#kind": kind},
        "ExpressionAttributeValues": {":minus": {"N": "-1"}}}}


def _still_attachable(tenant: str, tag_id: str) -> dict[str, Any]:
    return {"ConditionCheck": {
        "Key": tag_key(tenant, tag_id), "ConditionExpression": "attribute_exists(PK) AND "
                                                                "attribute_not_exists(merged_into)",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}


def _within_limit(tenant: str, group_id: str, count: int) -> dict[str, Any]:
    """The group still allows `count` of its tags on one object (its max_per_object is null or at least that)."""
    return {"ConditionCheck": {
        "Key": group_key(tenant, group_id),
        "ConditionExpression": "attribute_exists(PK) AND (attribute_not_exists(max_per_object) "
                               "OR attribute_type(max_per_object, :null_type) OR max_per_object >= :count)",
        "ExpressionAttributeValues": {":null_type": NULL_TYPE, ":count": {"N": str(count)}}}}


@dataclass(frozen=True)
class GroupGuard:
    """What a tag-set write checks about groups, in the same transaction: each added tag is still in the group
    it was read in (`members`: tag id → group id, NO_GROUP for a free-standing tag), and each group with tags
    added keeps its max_per_object with the object's count after the write (`counts`: group id → count)."""

    members: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Stamp:
    """Who made a tag-set write and through what (history and change events read it from the stream):
    `actor` the API key id (or `queue:<message id>`), `source` api, queue, bulk (merge and cleanup are the
    store's own writes), `names` of the tags the write attaches and detaches (tag id → name), when known."""

    actor: str
    source: str = "api"
    names: dict[str, str] = field(default_factory=dict)


class TagSetStore(TagStore):
    """Tag sets, with the tags they carry (a tag set's write moves the tags' usage)."""

    def read_for_attach(self, tenant: str, kind: str, object_id: str, names: list[str],
                        budget: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, str], dict[str, Any] | None]:
        """One BatchGetItem: the object's tag set, the name locks of `names` (name key → tag id) and the write
        budget item at key `budget`."""
        keys = [tag_set_key(tenant, kind, object_id), budget] + [name_lock_key(tenant, TAG_LOCKS, n)
                                                                 for n in {name_key(n): n for n in names}.values()]
        tag_set = spent = None
        locks: dict[str, str] = {}
        for item in self.batch_get(keys):
            if item_type(item) == TAG_SET:
                tag_set = item
            elif item_type(item) == WRITE_BUDGET:
                spent = item
            else:
                locks[name_key(item["name"])] = item["tag_id"]
        return tag_set, locks, spent

    def read_tags_and_budget(self, tenant: str, tag_ids: list[str],
                             budget: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
        """One BatchGetItem: live tags by id, and the write budget item at key `budget`."""
        keys = [tag_key(tenant, i) for i in dict.fromkeys(tag_ids)] + [budget]
        tags: dict[str, dict[str, Any]] = {}
        spent = None
        for item in self.batch_get(keys):
            if item_type(item) == WRITE_BUDGET:
                spent = item
            else:
                tags[item["id"]] = public(item)
        return tags, spent

    def get_tag_set(self, tenant: str, kind: str, object_id: str) -> dict[str, Any] | None:
        return self._get(tag_set_key(tenant, kind, object_id), consistent=True)

    def write_tag_set(self, tenant: str, kind: str, object_id: str, *, old_version: int, tags: dict[str, str],
                      added: list[str], removed: list[str], created: list[dict[str, Any]], stamp: Stamp,
                      rate_limit: dict[str, Any] | None, kept: list[str] | None = None,
                      guard: GroupGuard | None = None, receipt: dict[str, Any] | None = None) -> int:
        """Commit a new tag set for an object, with every usage count it moves, in one transaction.

        `added` ids are existing tags whose usage for `kind` goes up; the write fails unless each still exists,
        applies to `kind` and was not merged away; so must each `kept` id (asked for again, already in the set).
        `created` tags are new (usage already counted), `removed` live tags go down. The set's version must still
        be `old_version` (0: the set did not exist), so what the caller counted per group from its read still
        holds; `guard` checks the groups' side (membership, max_per_object). `receipt`: a bulk job's conditional Put
        of the object's outcome (store.bulk_jobs), so the change and its record commit together or not at all.
        Returns the new version.
        """
        version = old_version + 1
        guard = guard or GroupGuard()
        item = tag_set_item(tenant, kind, object_id, tags, version, now_iso(), stamp.actor, stamp.source,
                            stamp.names)
        put: dict[str, Any] = {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}
        if old_version:
            put.update(ConditionExpression="version = :v", ExpressionAttributeValues={":v": {"N": str(old_version)}})
        transaction = Transaction()
        transaction.add("set", {"Put": put})
        if rate_limit:
            transaction.add("rate_limit", rate_limit)
        for tag_id in added:
            transaction.add(f"attach:{tag_id}", _usage(tenant, tag_id, kind, 1, guard.members.get(tag_id)))
        for group_id, count in guard.counts.items():
            transaction.add(f"group:{group_id}", _within_limit(tenant, group_id, count))
        for tag_id in kept or []:
            transaction.add(f"attach:{tag_id}", _still_attachable(tenant, tag_id))
        for tag_id in removed:
            transaction.add(f"detach:{tag_id}", _usage(tenant, tag_id, kind, -1))
        add_new_tags(transaction, tenant, created)
        if receipt:
            transaction.add("receipt", {"Put": receipt})
        try:
            self._transact(transaction)
        except TransactionFailed as exc:
            decoded = _decoded(exc)
            if decoded is None:
                raise
            raise decoded from exc
        return version

    def query_reverse(self, tenant: str, tag_id: str, kind: str | None, limit: int,
                      start_key: dict[str, Any] | None) -> Page:
        """Objects carrying a tag (the reverse index kept from the stream), by kind then object id."""
        kwargs: dict[str, Any] = {
            "TableName": self.table, "Limit": limit,
            "KeyConditionExpression": "PK = :pk" + (" AND begins_with(SK, :kind)" if kind else ""),
            "ExpressionAttributeValues": {":pk": {"S": reverse_pk(tenant, tag_id)},
                                          **({":kind": {"S": f"{kind}#"}} if kind else {})},
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        response = self._call("query", **kwargs)
        return [from_item(i) for i in response.get("Items", [])], response.get("LastEvaluatedKey")

    def reverse_after(self, tenant: str, tag_id: str, kind: str, after: str | None,
                      limit: int) -> tuple[list[str], bool]:
        """Up to `limit` ids of the objects of a kind carrying a tag, in id order, after `after` (from the reverse
        index); and whether the index may hold more (DynamoDB says so whenever it stopped at `limit`)."""
        low, high = reverse_range(kind, after)
        response = self._call(
            "query", TableName=self.table, Limit=limit, ProjectionExpression="object_id",
            KeyConditionExpression="PK = :pk AND SK BETWEEN :low AND :high",
            ExpressionAttributeValues={":pk": {"S": reverse_pk(tenant, tag_id)}, ":low": {"S": low},
                                       ":high": {"S": high}})
        return [i["object_id"]["S"] for i in response.get("Items", [])], "LastEvaluatedKey" in response

    def get_tag_sets(self, tenant: str, kind: str, object_ids: list[str]) -> dict[str, dict[str, str]]:
        """The tag sets (tag id → attached_at) of objects of a kind, by object id; objects without a set are
        absent. One consistent BatchGetItem per 100 objects."""
        found = self.batch_get([tag_set_key(tenant, kind, o) for o in dict.fromkeys(object_ids)])
        return {item["object_id"]: dict(item.get("tags") or {}) for item in found}

    def write_reverse_entries(self, tenant: str, kind: str, object_id: str, *, added: dict[str, str],
                              removed: list[str]) -> None:
        """Put and delete reverse index entries (idempotent), 25 a BatchWriteItem."""
        requests: list[dict[str, Any]] = [
            {"PutRequest": {"Item": reverse_item(tenant, tag_id, kind, object_id, attached_at)}}
            for tag_id, attached_at in added.items()
        ] + [{"DeleteRequest": {"Key": reverse_key(tenant, tag_id, kind, object_id)}} for tag_id in removed]
        for start in range(0, len(requests), 25):
            list(self._batch("batch_write_item", {self.table: requests[start:start + 25]}))

    def prune_deleted_tag(self, tenant: str, kind: str, object_id: str, tag: dict[str, Any],
                          actor: str | None = None) -> None:
        """Drop a deleted tag from an object's set (it was already hidden from reads) and its reverse entry; the
        write records the clean-up (source "cleanup", the deleter when known, the tag's name) for the history."""
        tag_id = tag["id"]
        try:
            self._call("update_item", TableName=self.table, Key=tag_set_key(tenant, kind, object_id),
                       UpdateExpression="REMOVE #tags.#id SET pruned = :id, #source = :cleanup, #names = :names, "
                                        "updated_at = :now, updated_by = :actor ADD version :one",
                       ConditionExpression="attribute_exists(#tags.#id)",
                       ExpressionAttributeNames={"#tags": "tags", "#id": tag_id, "#source": LAST_SOURCE,
                                                 "#names": MOVED_NAMES},
                       # the version moves so a writer that read the set first retries; `pruned` tells the
                       # stream this write was the clean-up, not a client's detach (the next Put drops it)
                       ExpressionAttributeValues={":one": {"N": "1"}, ":id": {"S": tag_id},
                                                  ":cleanup": {"S": "cleanup"}, ":now": {"S": now_iso()},
                                                  ":names": to_attr({tag_id: tag.get("name")}),
                                                  ":actor": to_attr(actor)})
        except ClientError as exc:
            if exc.response["Error"]["Code"] != CONDITION_FAILED:
                raise
        self._call("delete_item", TableName=self.table, Key=reverse_key(tenant, tag_id, kind, object_id))


def _decoded(exc: TransactionFailed) -> Exception | None:
    """What a cancelled tag-set write means, decoded by the names of its failed actions."""
    if exc.failed("receipt"):
        return AlreadyRecorded()
    if exc.failed("set"):
        return TagSetChanged()
    if exc.failed("rate_limit"):
        return BudgetChanged()
    refused = exc.failed_any("attach:")
    if refused:
        return AttachRefused(refused[0].removeprefix("attach:"), exc.old_item(refused[0]))
    if exc.failed_any("detach:") or exc.failed_any("new:") or exc.failed_any("group:"):
        return TagSetChanged()  # a removed tag deleted, a new name taken or a group limit lowered meanwhile
    return None
