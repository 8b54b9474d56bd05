"""Objects' tag sets (tag id → attached_at, and a version), the usage counts they move, the per-key write budget,
and the reverse index (objects carrying a tag) the stream keeps from them."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from tags_core.clock import now_iso
from tags_core.names import name_key
from tags_core.store.codec import from_item
from tags_core.store.keys import (
    EXPIRES_AT,
    TAG_LOCKS,
    TAG_SET,
    item_type,
    name_lock_key,
    rate_limit_key,
    reverse_item,
    reverse_key,
    reverse_pk,
    tag_key,
    tag_set_item,
    tag_set_key,
)
from tags_core.store.table import CONDITION_FAILED, Page, TagSetChanged, Transaction, TransactionFailed
from tags_core.store.tags import TagStore, add_new_tags

# A tag can take a new attachment of a kind while it exists, applies to the kind and was not merged away.
ATTACHABLE = "attribute_exists(PK) AND #applies.#kind = :yes AND attribute_not_exists(merged_into)"


class RateLimitExceeded(Exception):
    """The write budget of this key on this object is spent for the current window."""


class AlreadyRecorded(Exception):
    """A bulk job's object already has its outcome (a redelivered message, or its duplicate running alongside)."""


class AttachRefused(Exception):
    """A tag could not be attached: it no longer exists, does not apply to the kind, or was merged away."""

    def __init__(self, tag_id: str, tag: dict[str, Any] | None) -> None:
        super().__init__(tag_id)
        self.tag_id = tag_id
        self.tag = tag


def write_budget(tenant: str, key_id: str, kind: str, object_id: str, window: tuple[int, int],
                 limit: int) -> dict[str, Any]:
    """The Update action that spends one write of the window (it fails once the budget is spent)."""
    start, end = window
    return {
        "Key": rate_limit_key(tenant, key_id, kind, object_id, start),
        "UpdateExpression": f"ADD writes :one SET {EXPIRES_AT} = :expires",
        "ConditionExpression": "attribute_not_exists(writes) OR writes < :limit",
        "ExpressionAttributeValues": {":one": {"N": "1"}, ":limit": {"N": str(limit)},
                                      ":expires": {"N": str(end + 60)}},
    }


def _usage(tenant: str, tag_id: str, kind: str, delta: int) -> dict[str, Any]:
    if delta > 0:
        return {"Update": {
            "Key": tag_key(tenant, tag_id), "UpdateExpression": "ADD #usage.#kind :one",
            "ConditionExpression": ATTACHABLE,
            "ExpressionAttributeNames": {"#usage": "usage", "#kind": kind, "#applies": "applies_to"},
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":yes": {"BOOL": True}},
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


class TagSetStore(TagStore):
    """Tag sets, with the tags they carry (a tag set's write moves the tags' usage)."""

    def read_for_attach(self, tenant: str, kind: str, object_id: str,
                        names: list[str]) -> tuple[dict[str, Any] | None, dict[str, str]]:
        """One BatchGetItem: the object's tag set and the name locks of `names` (name key → tag id)."""
        keys = [tag_set_key(tenant, kind, object_id)] + [name_lock_key(tenant, TAG_LOCKS, n)
                                                         for n in {name_key(n): n for n in names}.values()]
        tag_set = None
        locks: dict[str, str] = {}
        for item in self.batch_get(keys):
            if item_type(item) == TAG_SET:
                tag_set = item
            else:
                locks[name_key(item["name"])] = item["tag_id"]
        return tag_set, locks

    def get_tag_set(self, tenant: str, kind: str, object_id: str) -> dict[str, Any] | None:
        return self._get(tag_set_key(tenant, kind, object_id), consistent=True)

    def write_tag_set(self, tenant: str, kind: str, object_id: str, *, old_version: int, tags: dict[str, str],
                      added: list[str], removed: list[str], created: list[dict[str, Any]], actor: str,
                      rate_limit: dict[str, Any] | None, kept: list[str] | None = None, source: str = "api",
                      receipt: dict[str, Any] | None = None) -> int:
        """Commit a new tag set for an object, with every usage count it moves, in one transaction.

        `added` ids are existing tags whose usage for `kind` goes up; the write fails unless each still exists,
        applies to `kind` and was not merged away; so must each `kept` id (asked for again, already in the set).
        `created` tags are new (usage already counted), `removed` live tags go down. The set's version must still
        be `old_version` (0: the set did not exist). `receipt`: a bulk job's conditional Put of the object's
        outcome (store.bulk_jobs), so the change and its record commit together or not at all. Returns the new
        version.
        """
        version = old_version + 1
        item = tag_set_item(tenant, kind, object_id, tags, version, now_iso(), actor, source)
        put: dict[str, Any] = {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}
        if old_version:
            put.update(ConditionExpression="version = :v", ExpressionAttributeValues={":v": {"N": str(old_version)}})
        transaction = Transaction()
        transaction.add("set", {"Put": put})
        if rate_limit:
            transaction.add("rate_limit", {"Update": rate_limit})
        for tag_id in added:
            transaction.add(f"attach:{tag_id}", _usage(tenant, tag_id, kind, 1))
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

    def write_reverse_entries(self, tenant: str, kind: str, object_id: str, *, added: dict[str, str],
                              removed: list[str]) -> None:
        """Put and delete reverse index entries (idempotent), 25 a BatchWriteItem."""
        requests: list[dict[str, Any]] = [
            {"PutRequest": {"Item": reverse_item(tenant, tag_id, kind, object_id, attached_at)}}
            for tag_id, attached_at in added.items()
        ] + [{"DeleteRequest": {"Key": reverse_key(tenant, tag_id, kind, object_id)}} for tag_id in removed]
        for start in range(0, len(requests), 25):
            list(self._batch("batch_write_item", {self.table: requests[start:start + 25]}))

    def prune_deleted_tag(self, tenant: str, kind: str, object_id: str, tag_id: str) -> None:
        """Drop a deleted tag from an object's set (it was already hidden from reads) and its reverse entry."""
        try:
            self._call("update_item", TableName=self.table, Key=tag_set_key(tenant, kind, object_id),
                       UpdateExpression="REMOVE #tags.#id SET pruned = :id ADD version :one",
                       ConditionExpression="attribute_exists(#tags.#id)",
                       ExpressionAttributeNames={"#tags": "tags", "#id": tag_id},
                       # the version moves so a writer that read the set first retries; `pruned` tells the
                       # stream this write was the clean-up, not a client's detach (the next Put drops it)
                       ExpressionAttributeValues={":one": {"N": "1"}, ":id": {"S": tag_id}})
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
        return RateLimitExceeded()
    refused = exc.failed_any("attach:")
    if refused:
        return AttachRefused(refused[0].removeprefix("attach:"), exc.old_item(refused[0]))
    if exc.failed_any("detach:") or exc.failed_any("new:"):
        return TagSetChanged()  # a removed tag was deleted, or a new name was taken, meanwhile: read again
    return None
