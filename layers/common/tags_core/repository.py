"""All DynamoDB access of the service: one table, item types documented in docs/data-model.md.

Domain modules call these methods with plain dicts; nothing else builds DynamoDB requests. Failures the
client can act on come back as domain exceptions; store faults (throttling, 5xx) as ServiceUnavailable.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from tags_core import db
from tags_core.envelope import rfc3339_now
from tags_core.errors import Conflict, InvalidInput, NotFound, PreconditionFailed, ServiceUnavailable
from tags_core.names import name_key, name_lock_suffix, sort_key
from tags_core.settings import get_settings

logger = logging.getLogger(__name__)

# The keys of each item type. Everything of a tenant lives under its partition "T#<tenant>".
META_SK = "META"
TAG_PREFIX = "TAG#"
GROUP_PREFIX = "GROUP#"
KEY_PREFIX = "KEY#"

# Secondary indexes: name-ordered listings (all tags, per group, per type). Sparse: only tags carry them.
INDEX_BY_NAME = "GSI1"
INDEX_BY_GROUP = "GSI2"
INDEX_BY_TYPE = "GSI3"
INDEX_KEYS = {INDEX_BY_NAME: ("GSI1PK", "GSI1SK"), INDEX_BY_GROUP: ("GSI2PK", "GSI2SK"),
              INDEX_BY_TYPE: ("GSI3PK", "GSI3SK")}

RETRYABLE = {
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable", "TransactionConflictException", "TransactionInProgressException",
}
# Calls of a BatchGetItem/BatchWriteItem while DynamoDB leaves part of it unprocessed (what it does when throttled).
BATCH_ROUNDS = 6
RETRYABLE_REASONS = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}

# The fields of a tag that a tag update writes (usage is moved only by attachments, aliases only by merges).
TAG_FIELDS = ("name", "name_slug", "type", "group_id", "applies_to", "color", "description", "version", "updated_at",
              "updated_by")

# A tag can take a new attachment of a kind while it exists, applies to the kind and was not merged away.
ATTACHABLE = "attribute_exists(PK) AND #applies.#kind = :yes AND attribute_not_exists(merged_into)"

# Item attributes that are storage detail, never part of a domain object.
STORAGE_ATTRS = {"PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "GSI3PK", "GSI3SK", "item_type", "tenant",
                 "name_key", "expires_at", "updated_by", "merge_sources"}


def tenant_pk(tenant: str) -> str:
    return f"T#{tenant}"


def tag_key(tenant: str, tag_id: str) -> dict[str, Any]:
    return {"PK": {"S": tenant_pk(tenant)}, "SK": {"S": TAG_PREFIX + tag_id}}


def name_lock_key(tenant: str, kind: str, name: str) -> dict[str, Any]:
    return {"PK": {"S": tenant_pk(tenant)}, "SK": {"S": f"NAME#{kind}#{name_lock_suffix(name)}"}}


def meta_key(tenant: str) -> dict[str, Any]:
    return {"PK": {"S": tenant_pk(tenant)}, "SK": {"S": META_SK}}


def api_key_lookup_key(key_hash: str) -> dict[str, Any]:
    return {"PK": {"S": f"APIKEY#{key_hash}"}, "SK": {"S": "APIKEY"}}


def tag_index_attrs(tenant: str, tag: dict[str, Any]) -> dict[str, str]:
    """The index keys a tag carries, derived from its name, group and type."""
    order = sort_key(tag["name"], tag["id"])
    return {
        "GSI1PK": f"T#{tenant}#TAGS", "GSI1SK": order,
        "GSI2PK": f"T#{tenant}#TAGS#G#{tag.get('group_id') or '-'}", "GSI2SK": order,
        "GSI3PK": f"T#{tenant}#TAGS#TYPE#{tag['type']}", "GSI3SK": order,
    }


def tag_set_key(tenant: str, kind: str, object_id: str) -> dict[str, Any]:
    return {"PK": {"S": f"T#{tenant}#O#{kind}#{object_id}"}, "SK": {"S": "SET"}}


def reverse_pk(tenant: str, tag_id: str) -> str:
    return f"T#{tenant}#R#{tag_id}"


def reverse_key(tenant: str, tag_id: str, kind: str, object_id: str) -> dict[str, Any]:
    return {"PK": {"S": reverse_pk(tenant, tag_id)}, "SK": {"S": f"{kind}#{object_id}"}}


class TagSetChanged(Exception):
    """The object's tag set moved since it was read (or a tag it touches did): read again and retry."""


class RateLimitExceeded(Exception):
    """The write budget of this key on this object is spent for the current window."""


class AttachRefused(Exception):
    """A tag could not be attached: it no longer exists, does not apply to the kind, or was merged away."""

    def __init__(self, tag_id: str, tag: dict[str, Any] | None) -> None:
        super().__init__(tag_id)
        self.tag_id = tag_id
        self.tag = tag


def group_key(tenant: str, group_id: str) -> dict[str, Any]:
    return {"PK": {"S": tenant_pk(tenant)}, "SK": {"S": GROUP_PREFIX + group_id}}


def group_count_action(tenant: str, group_id: str, delta: int) -> dict[str, Any]:
    """Move a group's tag count; fails (and so cancels the transaction) when the group does not exist."""
    return {"Update": {"Key": group_key(tenant, group_id), "UpdateExpression": "ADD tag_count :d",
                       "ConditionExpression": "attribute_exists(PK)",
                       "ExpressionAttributeValues": {":d": {"N": str(delta)}}}}


def group_not_found() -> InvalidInput:
    return InvalidInput("No such tag group.", field="group_id", code="group_not_found")


def public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in STORAGE_ATTRS}


class TransactionFailed(Exception):
    """A cancelled transaction; `reasons` are DynamoDB's CancellationReasons, one per action."""

    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        super().__init__("transaction cancelled")
        self.reasons = reasons

    def failed(self, index: int) -> bool:
        return self.reasons[index].get("Code") == "ConditionalCheckFailed"

    def old_item(self, index: int) -> dict[str, Any] | None:
        item = self.reasons[index].get("Item")
        return db.from_item(item) if item else None


class Repository:
    def __init__(self) -> None:
        self.table = get_settings().table_name

    # --- plumbing ---------------------------------------------------------------------------------------

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(db.client(), operation)(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "")
            if code == "TransactionCanceledException":
                reasons: list[dict[str, Any]] = list(exc.response.get("CancellationReasons") or [])  # type: ignore[arg-type]
                if any(r.get("Code") in RETRYABLE_REASONS for r in reasons):
                    logger.warning("transaction cancelled by contention",
                                   extra={"reasons": [r.get("Code") for r in reasons]})
                    raise ServiceUnavailable() from exc
                raise TransactionFailed(reasons) from exc
            if code in RETRYABLE:
                logger.warning("dynamodb unavailable after retries", extra={"error_code": code, "operation": operation})
                raise ServiceUnavailable() from exc
            if code != "ConditionalCheckFailedException":  # an expected outcome the caller handles
                logger.error("dynamodb error", extra={"error_code": code, "operation": operation})
            raise

    def _batch(self, operation: str, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The responses of a batch operation called until DynamoDB has processed all of `request`, with backoff
        between rounds; still unprocessed after BATCH_ROUNDS rounds, ServiceUnavailable (not a loop that spins
        against a throttled table until the function times out)."""
        unprocessed = "UnprocessedKeys" if operation == "batch_get_item" else "UnprocessedItems"
        pending = request
        for attempt in range(BATCH_ROUNDS):
            if attempt:
                time.sleep(random.uniform(0, min(0.05 * 2 ** attempt, 1.0)))  # noqa: S311 - jitter, not a secret
            response = self._call(operation, RequestItems=pending)
            yield response
            pending = response.get(unprocessed) or {}
            if not pending:
                return
        logger.warning("dynamodb left batch items unprocessed", extra={"operation": operation})
        raise ServiceUnavailable()

    def _transact(self, actions: list[dict[str, Any]], token: str | None = None) -> None:
        for action in actions:
            (body,) = action.values()
            body.setdefault("TableName", self.table)
        kwargs: dict[str, Any] = {"TransactItems": actions}
        if token:
            kwargs["ClientRequestToken"] = token
        self._call("transact_write_items", **kwargs)

    # --- tenants and API keys ----------------------------------------------------------------------------

    def put_tenant(self, tenant: str, name: str, created_at: str) -> None:
        try:
            self._call(
                "put_item", TableName=self.table,
                Item={**meta_key(tenant), **db.to_item({"item_type": "tenant", "tenant": tenant, "name": name,
                                                        "created_at": created_at, "tag_count": 0, "group_count": 0})},
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            existing = self.get_tenant(tenant) or {}
            if (existing.get("name"), existing.get("created_at")) != (name, created_at):  # else: our own retry
                raise Conflict(f"Tenant {tenant!r} already exists.", code="tenant_exists") from exc

    def get_tenant(self, tenant: str) -> dict[str, Any] | None:
        item = self._call("get_item", TableName=self.table, Key=meta_key(tenant)).get("Item")
        return db.from_item(item) if item else None

    def put_api_key(self, tenant: str, key_hash: str, record: dict[str, Any]) -> None:
        """Two items in one transaction: the lookup by hash (authorizer) and the tenant's listing entry."""
        lookup = {**api_key_lookup_key(key_hash), **db.to_item({**record, "item_type": "api_key", "tenant": tenant})}
        listing = {"PK": {"S": tenant_pk(tenant)}, "SK": {"S": KEY_PREFIX + record["key_id"]},
                   **db.to_item({**record, "item_type": "api_key_entry", "tenant": tenant, "key_hash": key_hash})}
        try:
            self._transact([
                {"ConditionCheck": {"Key": meta_key(tenant), "ConditionExpression": "attribute_exists(PK)"}},
                {"Put": {"Item": lookup, "ConditionExpression": "attribute_not_exists(PK)"}},
                {"Put": {"Item": listing, "ConditionExpression": "attribute_not_exists(PK)"}},
            ], token=f"key-{record['key_id']}")  # a retry after a timeout is the same transaction
        except TransactionFailed as exc:
            if exc.failed(0):
                raise NotFound(f"No tenant {tenant!r}.") from exc
            written = self.get_api_key(key_hash)
            if written is None or written.get("key_id") != record["key_id"]:
                raise  # not our own earlier attempt that committed before its response was lost

    def get_api_key(self, key_hash: str) -> dict[str, Any] | None:
        item = self._call("get_item", TableName=self.table, Key=api_key_lookup_key(key_hash)).get("Item")
        return db.from_item(item) if item else None

    def list_api_keys(self, tenant: str) -> list[dict[str, Any]]:
        return [public(item) for item in self._query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :sk)",
            ExpressionAttributeValues={":pk": {"S": tenant_pk(tenant)}, ":sk": {"S": KEY_PREFIX}},
        )]

    def revoke_api_key(self, tenant: str, key_id: str, revoked_at: str) -> None:
        entry_key = {"PK": {"S": tenant_pk(tenant)}, "SK": {"S": KEY_PREFIX + key_id}}
        item = self._call("get_item", TableName=self.table, Key=entry_key, ConsistentRead=True).get("Item")
        if not item:
            raise NotFound(f"No key {key_id!r} for tenant {tenant!r}.")
        key_hash = item["key_hash"]["S"]
        update = {"UpdateExpression": "SET revoked_at = :at", "ExpressionAttributeValues": {":at": {"S": revoked_at}}}
        self._transact([
            {"Update": {"Key": entry_key, **update}},
            {"Update": {"Key": api_key_lookup_key(key_hash), **update}},
        ])

    def _query_all(self, **kwargs: Any) -> Iterable[dict[str, Any]]:
        start: dict[str, Any] | None = None
        while True:
            extra = {"ExclusiveStartKey": start} if start else {}
            page = self._call("query", TableName=self.table, **kwargs, **extra)
            yield from (db.from_item(i) for i in page.get("Items", []))
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    # --- tags ----------------------------------------------------------------------------------------------

    def get_tag(self, tenant: str, tag_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
        item = self._call("get_item", TableName=self.table, Key=tag_key(tenant, tag_id),
                          ConsistentRead=consistent).get("Item")
        return db.from_item(item, without=STORAGE_ATTRS) if item else None

    def _tag_item(self, tenant: str, tag: dict[str, Any]) -> dict[str, Any]:
        return {**tag_key(tenant, tag["id"]),
                **db.to_item({**tag, **tag_index_attrs(tenant, tag), "item_type": "tag", "tenant": tenant})}

    def _name_lock(self, tenant: str, tag: dict[str, Any]) -> dict[str, Any]:
        return {**name_lock_key(tenant, "TAG", tag["name"]),
                **db.to_item({"item_type": "tag_name", "tenant": tenant, "tag_id": tag["id"], "name": tag["name"]})}

    def create_tag(self, tenant: str, tag: dict[str, Any]) -> None:
        """One TransactWriteItems: the tag, its name lock (unique per tenant), the tenant's tag count and,
        for a grouped tag, the group's tag count (which also proves the group exists)."""
        actions = [
            {"Put": {"Item": self._name_lock(tenant, tag), "ConditionExpression": "attribute_not_exists(PK)",
                     "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            {"Put": {"Item": self._tag_item(tenant, tag), "ConditionExpression": "attribute_not_exists(PK)"}},
            {"Update": {"Key": meta_key(tenant), "UpdateExpression": "ADD tag_count :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        ]
        if tag.get("group_id"):
            actions.append(group_count_action(tenant, tag["group_id"], 1))
        try:
            self._transact(actions)
        except TransactionFailed as exc:
            if exc.failed(0):
                existing = exc.old_item(0) or {}
                raise Conflict("A tag with this name already exists.", code="tag_exists", field="name",
                               existing_id=existing.get("tag_id")) from exc
            if tag.get("group_id") and exc.failed(3):
                raise group_not_found() from exc
            raise

    def find_tag_ids_by_names(self, tenant: str, names: list[str]) -> dict[str, str]:
        """Name key → tag id for the names that are taken (one BatchGetItem per 100 names)."""
        found: dict[str, str] = {}
        unique = {name_key(n): n for n in names}
        keys = [name_lock_key(tenant, "TAG", n) for n in unique.values()]
        for start in range(0, len(keys), 100):
            chunk = {self.table: {"Keys": keys[start:start + 100], "ConsistentRead": True}}
            for response in self._batch("batch_get_item", chunk):
                for item in response.get("Responses", {}).get(self.table, []):
                    lock = db.from_item(item)
                    found[name_key(lock["name"])] = lock["tag_id"]
        return found

    def update_tag(self, tenant: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Replace a tag if it is still at `old['version']`; move its name lock when the name key changes."""
        actions: list[dict[str, Any]] = [self._tag_fields_update(tenant, old, new)]
        renamed = name_key(old["name"]) != name_key(new["name"])
        if renamed:
            actions.append({"Put": {"Item": self._name_lock(tenant, new),
                                    "ConditionExpression": "attribute_not_exists(PK)",
                                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}})
            actions.append({"Delete": {"Key": name_lock_key(tenant, "TAG", old["name"]),
                                       "ConditionExpression": "tag_id = :id",
                                       "ExpressionAttributeValues": {":id": {"S": old["id"]}}}})
        elif old["name"] != new["name"]:  # case-only rename: keep the lock, refresh the displayed name
            actions.append({"Put": {"Item": self._name_lock(tenant, new), "ConditionExpression": "tag_id = :id",
                                    "ExpressionAttributeValues": {":id": {"S": old["id"]}}}})
        joined = len(actions)
        if old.get("group_id") != new.get("group_id"):
            if new.get("group_id"):
                actions.append(group_count_action(tenant, new["group_id"], 1))
            if old.get("group_id"):
                actions.append(group_count_action(tenant, old["group_id"], -1))
        try:
            self._transact(actions)
        except TransactionFailed as exc:
            if exc.failed(0):
                if self.get_tag(tenant, old["id"], consistent=True) is None:
                    raise NotFound("No such tag.") from exc
                raise PreconditionFailed("The tag was changed by another request; read it again.") from exc
            if renamed and exc.failed(1):
                existing = exc.old_item(1) or {}
                raise Conflict("A tag with this name already exists.", code="tag_exists", field="name",
                               existing_id=existing.get("tag_id")) from exc
            if new.get("group_id") and len(exc.reasons) > joined and exc.failed(joined):
                raise group_not_found() from exc
            raise

    def _tag_fields_update(self, tenant: str, old: dict[str, Any], new: dict[str, Any],
                           extra_condition: str = "", extra_values: dict[str, Any] | None = None) -> dict[str, Any]:
        """SET the tag's own fields (never its usage, which attachments move concurrently) at `old`'s version."""
        fields = {k: new[k] for k in TAG_FIELDS}
        fields.update({k: v for k, v in tag_index_attrs(tenant, new).items()})
        return {"Update": {
            "Key": tag_key(tenant, old["id"]),
            "UpdateExpression": "SET " + ", ".join(f"#{k} = :{k}" for k in fields),
            "ConditionExpression": "attribute_exists(PK) AND version = :old_version" + extra_condition,
            "ExpressionAttributeNames": {f"#{k}": k for k in fields},
            "ExpressionAttributeValues": {**{f":{k}": db.to_attr(v) for k, v in fields.items()},
                                          ":old_version": {"N": str(old["version"])}, **(extra_values or {})},
        }}

    def delete_tag(self, tenant: str, tag: dict[str, Any]) -> None:
        aliases = list(tag.get("aliases", []))
        actions = [
            {"Delete": {"Key": tag_key(tenant, tag["id"]),
                        "ConditionExpression": "version = :v AND attribute_not_exists(merge_sources)",
                        "ExpressionAttributeValues": {":v": {"N": str(tag["version"])}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            {"Delete": {"Key": name_lock_key(tenant, "TAG", tag["name"]), "ConditionExpression": "tag_id = :id",
                        "ExpressionAttributeValues": {":id": {"S": tag["id"]}}}},
            {"Update": {"Key": meta_key(tenant), "UpdateExpression": "ADD tag_count :minus",
                        "ExpressionAttributeValues": {":minus": {"N": "-1"}}}},
        ]
        if tag.get("group_id"):
            actions.append(group_count_action(tenant, tag["group_id"], -1))
        for alias in aliases[:90]:  # names merged into this tag are freed with it
            actions.append({"Delete": {"Key": name_lock_key(tenant, "TAG", alias),
                                       "ConditionExpression": "tag_id = :id",
                                       "ExpressionAttributeValues": {":id": {"S": tag["id"]}}}})
        try:
            self._transact(actions)
        except TransactionFailed as exc:
            current = exc.old_item(0) if exc.failed(0) else None
            if exc.failed(0) and current is None:
                raise NotFound("No such tag.") from exc
            if current is not None and current.get("merge_sources"):
                raise Conflict("Tags are being merged into this tag; delete it after the merge.",
                               code="merge_in_progress") from exc
            raise PreconditionFailed("The tag was changed by another request; read it again.") from exc
        if aliases[90:]:
            self.delete_aliases(tenant, tag["id"], aliases[90:])

    # --- tag groups ------------------------------------------------------------------------------------------

    def _group_item(self, tenant: str, group: dict[str, Any]) -> dict[str, Any]:
        return {**group_key(tenant, group["id"]),
                **db.to_item({**group, "GSI1PK": f"T#{tenant}#GROUPS", "GSI1SK": sort_key(group["name"], group["id"]),
                              "item_type": "group", "tenant": tenant})}

    def _group_lock(self, tenant: str, group: dict[str, Any]) -> dict[str, Any]:
        return {**name_lock_key(tenant, "GROUP", group["name"]),
                **db.to_item({"item_type": "group_name", "tenant": tenant, "group_id": group["id"],
                              "name": group["name"]})}

    def create_group(self, tenant: str, group: dict[str, Any]) -> None:
        try:
            self._transact([
                {"Put": {"Item": self._group_lock(tenant, group), "ConditionExpression": "attribute_not_exists(PK)",
                         "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
                {"Put": {"Item": self._group_item(tenant, group), "ConditionExpression": "attribute_not_exists(PK)"}},
                {"Update": {"Key": meta_key(tenant), "UpdateExpression": "ADD group_count :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            ])
        except TransactionFailed as exc:
            if exc.failed(0):
                existing = exc.old_item(0) or {}
                raise Conflict("A tag group with this name already exists.", code="group_exists", field="name",
                               existing_id=existing.get("group_id")) from exc
            raise

    def get_group(self, tenant: str, group_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
        item = self._call("get_item", TableName=self.table, Key=group_key(tenant, group_id),
                          ConsistentRead=consistent).get("Item")
        return db.from_item(item, without=STORAGE_ATTRS) if item else None

    def update_group(self, tenant: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Write the group's own fields if still at the version read (its tag count is left to the counters)."""
        fields = {k: new[k] for k in ("name", "name_slug", "description", "version", "updated_at", "updated_by")}
        fields.update(GSI1SK=sort_key(new["name"], new["id"]))
        names = {f"#{k}": k for k in fields}
        values = {f":{k}": db.to_attr(v) for k, v in fields.items()}
        values[":old"] = {"N": str(old["version"])}
        actions: list[dict[str, Any]] = [{"Update": {
            "Key": group_key(tenant, old["id"]), "UpdateExpression": "SET " + ", ".join(f"#{k} = :{k}" for k in fields),
            "ConditionExpression": "attribute_exists(PK) AND version = :old",
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}}]
        renamed = name_key(old["name"]) != name_key(new["name"])
        if renamed:
            actions.append({"Put": {"Item": self._group_lock(tenant, new),
                                    "ConditionExpression": "attribute_not_exists(PK)",
                                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}})
            actions.append({"Delete": {"Key": name_lock_key(tenant, "GROUP", old["name"]),
                                       "ConditionExpression": "group_id = :id",
                                       "ExpressionAttributeValues": {":id": {"S": old["id"]}}}})
        elif old["name"] != new["name"]:
            actions.append({"Put": {"Item": self._group_lock(tenant, new), "ConditionExpression": "group_id = :id",
                                    "ExpressionAttributeValues": {":id": {"S": old["id"]}}}})
        try:
            self._transact(actions)
        except TransactionFailed as exc:
            if exc.failed(0):
                if self.get_group(tenant, old["id"], consistent=True) is None:
                    raise NotFound("No such tag group.") from exc
                raise PreconditionFailed("The group was changed by another request; read it again.") from exc
            if renamed and exc.failed(1):
                existing = exc.old_item(1) or {}
                raise Conflict("A tag group with this name already exists.", code="group_exists", field="name",
                               existing_id=existing.get("group_id")) from exc
            raise

    def delete_group(self, tenant: str, group: dict[str, Any]) -> None:
        """Delete an empty group. A group that still holds tags answers 409 group_not_empty."""
        try:
            self._transact([
                {"Delete": {"Key": group_key(tenant, group["id"]),
                            "ConditionExpression": "attribute_exists(PK) AND (attribute_not_exists(tag_count) "
                                                   "OR tag_count = :zero)",
                            "ExpressionAttributeValues": {":zero": {"N": "0"}},
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
                {"Delete": {"Key": name_lock_key(tenant, "GROUP", group["name"]),
                            "ConditionExpression": "group_id = :id",
                            "ExpressionAttributeValues": {":id": {"S": group["id"]}}}},
                {"Update": {"Key": meta_key(tenant), "UpdateExpression": "ADD group_count :minus",
                            "ExpressionAttributeValues": {":minus": {"N": "-1"}}}},
            ])
        except TransactionFailed as exc:
            old = exc.old_item(0) if exc.failed(0) else None
            if exc.failed(0) and old is None:
                raise NotFound("No such tag group.") from exc
            if old is not None:
                raise Conflict("The group still holds tags; move them first or pass ungroup=true.",
                               code="group_not_empty", tag_count=int(old.get("tag_count", 0))) from exc
            raise

    def ungroup_tags(self, tenant: str, group_id: str, tags: list[dict[str, Any]], now: str, actor: str) -> None:
        """Make up to 98 tags of a group free-standing in one transaction, moving the group's count with them."""
        actions: list[dict[str, Any]] = []
        for tag in tags:
            new = {**tag, "group_id": None, "version": tag["version"] + 1, "updated_at": now, "updated_by": actor}
            actions.append(self._tag_fields_update(tenant, tag, new, " AND group_id = :g",
                                                   {":g": {"S": group_id}}))
        actions.append(group_count_action(tenant, group_id, -len(tags)))
        try:
            self._transact(actions)
        except TransactionFailed as exc:
            raise PreconditionFailed("Tags of the group changed meanwhile; retry.") from exc

    # --- tags on objects ----------------------------------------------------------------------------------

    def batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """BatchGetItem (consistent), 100 keys a call, unprocessed keys retried. Items in no particular order."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            chunk = {self.table: {"Keys": keys[start:start + 100], "ConsistentRead": True}}
            for response in self._batch("batch_get_item", chunk):
                found.extend(db.from_item(i) for i in response.get("Responses", {}).get(self.table, []))
        return found

    def read_for_attach(self, tenant: str, kind: str, object_id: str,
                        names: list[str]) -> tuple[dict[str, Any] | None, dict[str, str]]:
        """One BatchGetItem: the object's tag set and the name locks of `names` (name key → tag id)."""
        keys = [tag_set_key(tenant, kind, object_id)] + [name_lock_key(tenant, "TAG", n)
                                                         for n in {name_key(n): n for n in names}.values()]
        tag_set = None
        locks: dict[str, str] = {}
        for item in self.batch_get(keys):
            if item.get("item_type") == "tag_set":
                tag_set = item
            else:
                locks[name_key(item["name"])] = item["tag_id"]
        return tag_set, locks

    def get_tag_set(self, tenant: str, kind: str, object_id: str) -> dict[str, Any] | None:
        item = self._call("get_item", TableName=self.table, Key=tag_set_key(tenant, kind, object_id),
                          ConsistentRead=True).get("Item")
        return db.from_item(item) if item else None

    def get_tags(self, tenant: str, tag_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Live tags by id (deleted ones are simply absent)."""
        keys = [tag_key(tenant, i) for i in dict.fromkeys(tag_ids)]
        return {item["id"]: public(item) for item in self.batch_get(keys)}

    def write_tag_set(self, tenant: str, kind: str, object_id: str, *, old_version: int, tags: dict[str, str],
                      added: list[str], removed: list[str], created: list[dict[str, Any]], actor: str,
                      rate_limit: dict[str, Any] | None, kept: list[str] | None = None) -> int:
        """Commit a new tag set for an object, with every usage count it moves, in one transaction.

        `added` ids are existing tags whose usage for `kind` goes up; the write fails unless each still exists,
        applies to `kind` and was not merged away; so must each `kept` id (asked for again, already in the set).
        `created` tags are new (usage already counted), `removed` live tags go down. The set's version must still
        be `old_version` (0: the set did not exist). Returns the new version.
        """
        version = old_version + 1
        item = {**tag_set_key(tenant, kind, object_id),
                **db.to_item({"item_type": "tag_set", "tenant": tenant, "kind": kind, "object_id": object_id,
                              "tags": tags, "version": version, "updated_at": rfc3339_now(), "updated_by": actor})}
        condition = ("attribute_not_exists(PK)" if old_version == 0 else "version = :v")
        actions: list[dict[str, Any]] = [{"Put": {"Item": item, "ConditionExpression": condition, **(
            {"ExpressionAttributeValues": {":v": {"N": str(old_version)}}} if old_version else {})}}]
        if rate_limit:
            actions.append({"Update": rate_limit})
        first_added = len(actions)
        for tag_id in added:
            actions.append({"Update": {
                "Key": tag_key(tenant, tag_id), "UpdateExpression": "ADD #usage.#kind :one",
                "ConditionExpression": ATTACHABLE,
                "ExpressionAttributeNames": {"#usage": "usage", "#kind": kind, "#applies": "applies_to"},
                "ExpressionAttributeValues": {":one": {"N": "1"}, ":yes": {"BOOL": True}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}})
        for tag_id in kept or []:
            actions.append({"ConditionCheck": {
                "Key": tag_key(tenant, tag_id), "ConditionExpression": "attribute_exists(PK) AND "
                                                                        "attribute_not_exists(merged_into)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}})
        first_removed = len(actions)
        for tag_id in removed:
            actions.append({"Update": {
                "Key": tag_key(tenant, tag_id), "UpdateExpression": "ADD #usage.#kind :minus",
                "ConditionExpression": "attribute_exists(PK)",
                "ExpressionAttributeNames": {"#usage": "usage", "#kind": kind},
                "ExpressionAttributeValues": {":minus": {"N": "-1"}}}})
        first_created = len(actions)
        for tag in created:
            for new_item in (self._name_lock(tenant, tag), self._tag_item(tenant, tag)):
                actions.append({"Put": {"Item": new_item, "ConditionExpression": "attribute_not_exists(PK)"}})
        if created:
            actions.append({"Update": {"Key": meta_key(tenant), "UpdateExpression": "ADD tag_count :n",
                                       "ExpressionAttributeValues": {":n": {"N": str(len(created))}}}})
        try:
            self._transact(actions)
        except TransactionFailed as exc:
            if exc.failed(0):
                raise TagSetChanged() from exc
            if rate_limit and exc.failed(1):
                raise RateLimitExceeded() from exc
            for offset, tag_id in enumerate([*added, *(kept or [])]):
                if exc.failed(first_added + offset):
                    raise AttachRefused(tag_id, exc.old_item(first_added + offset)) from exc
            if any(exc.failed(first_removed + i) for i in range(len(removed))):
                raise TagSetChanged() from exc  # a removed tag was deleted meanwhile: read again
            if any(exc.failed(i) for i in range(first_created, len(exc.reasons))):
                raise TagSetChanged() from exc  # a new name was taken meanwhile: read again
            raise
        return version

    def create_tags(self, tenant: str, tags: list[dict[str, Any]]) -> None:
        """Create tags (name lock + tag + tenant count), 49 per transaction. A name taken meanwhile cancels its
        chunk with TagSetChanged: the caller reads again and finds the tag."""
        for start in range(0, len(tags), 49):
            chunk = tags[start:start + 49]
            actions: list[dict[str, Any]] = []
            for tag in chunk:
                for new_item in (self._name_lock(tenant, tag), self._tag_item(tenant, tag)):
                    actions.append({"Put": {"Item": new_item, "ConditionExpression": "attribute_not_exists(PK)"}})
            actions.append({"Update": {"Key": meta_key(tenant), "UpdateExpression": "ADD tag_count :n",
                                       "ExpressionAttributeValues": {":n": {"N": str(len(chunk))}}}})
            try:
                self._transact(actions)
            except TransactionFailed as exc:
                raise TagSetChanged() from exc

    def query_reverse(self, tenant: str, tag_id: str, kind: str | None, limit: int,
                      start_key: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
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
        return [db.from_item(i) for i in response.get("Items", [])], response.get("LastEvaluatedKey")

    def write_reverse_entries(self, tenant: str, kind: str, object_id: str, *, added: dict[str, str],
                              removed: list[str]) -> None:
        """Put and delete reverse index entries (idempotent), 25 a BatchWriteItem."""
        requests: list[dict[str, Any]] = [
            {"PutRequest": {"Item": {**reverse_key(tenant, tag_id, kind, object_id), **db.to_item({
                "item_type": "reverse", "tenant": tenant, "tag_id": tag_id, "kind": kind, "object_id": object_id,
                "attached_at": attached_at})}}}
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
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        self._call("delete_item", TableName=self.table, Key=reverse_key(tenant, tag_id, kind, object_id))

    # --- merge ------------------------------------------------------------------------------------------------

    def mark_merging(self, tenant: str, source_id: str, into_id: str) -> None:
        """Stop new attachments to `source` (they resolve to `into` from now on) and pin `into` (it cannot be
        deleted or merged away until this merge finishes). Idempotent for the same target."""
        try:
            self._transact([
                {"Update": {"Key": tag_key(tenant, source_id), "UpdateExpression": "SET merged_into = :into",
                            "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(merge_sources) "
                                                   "AND (attribute_not_exists(merged_into) OR merged_into = :into)",
                            "ExpressionAttributeValues": {":into": {"S": into_id}}}},
                {"Update": {"Key": tag_key(tenant, into_id), "UpdateExpression": "ADD merge_sources :src",
                            "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(merged_into)",
                            "ExpressionAttributeValues": {":src": {"SS": [source_id]}}}},
            ])
        except TransactionFailed as exc:
            raise Conflict("One of the tags is already part of another merge; finish that one first.",
                           code="merge_in_progress") from exc

    def repoint_aliases(self, tenant: str, from_id: str, to_id: str, names: list[str]) -> None:
        """Point name locks (a tag's name and aliases) at another tag, 50 names per transaction."""
        for start in range(0, len(names), 50):
            chunk = names[start:start + 50]
            actions: list[dict[str, Any]] = [{"Put": {"Item": {**name_lock_key(tenant, "TAG", alias), **db.to_item({
                "item_type": "tag_name", "tenant": tenant, "tag_id": to_id, "name": alias, "alias": True})},
                "ConditionExpression": "tag_id IN (:from, :to)",
                "ExpressionAttributeValues": {":from": {"S": from_id}, ":to": {"S": to_id}}}} for alias in chunk]
            actions.append({"Update": {"Key": tag_key(tenant, to_id), "ConditionExpression": "attribute_exists(PK)",
                                       "UpdateExpression": "SET aliases = list_append(if_not_exists(aliases, :e), :n)",
                                       "ExpressionAttributeValues": {":e": {"L": []}, ":n": db.to_attr(chunk)}}})
            try:
                self._transact(actions)
            except TransactionFailed as exc:
                raise TagSetChanged() from exc

    def delete_aliases(self, tenant: str, tag_id: str, names: list[str]) -> None:
        """Free name locks that still point at a (deleted) tag, 100 per transaction."""
        for start in range(0, len(names), 100):
            self._transact([{"Delete": {"Key": name_lock_key(tenant, "TAG", alias),
                                        "ConditionExpression": "attribute_not_exists(PK) OR tag_id = :id",
                                        "ExpressionAttributeValues": {":id": {"S": tag_id}}}}
                            for alias in names[start:start + 100]])

    def move_attachments(self, tenant: str, source_id: str, into_id: str, sets: list[dict[str, Any]],
                         now: str) -> dict[str, dict[str, int]]:
        """Move `source` to `into` on up to 98 objects in one transaction, usage counts included.

        Each set was read just before; the write is conditional on what was read (carries source, and
        carries or lacks into), so a concurrent change cancels it and the caller reads again.
        Returns {"removed": per-kind count taken from source, "added": per-kind count given to into}.
        """
        removed = dict.fromkeys(("conversation", "customer", "comment"), 0)
        added = dict(removed)
        actions: list[dict[str, Any]] = []
        for tag_set in sets:
            kind = tag_set["kind"]
            has_into = into_id in (tag_set.get("tags") or {})
            removed[kind] += 1
            names = {"#tags": "tags", "#src": source_id, "#into": into_id}
            values: dict[str, Any] = {":one": {"N": "1"}}
            update = "REMOVE #tags.#src SET version = version + :one"
            condition = "attribute_exists(#tags.#src) AND attribute_exists(#tags.#into)"
            if not has_into:
                added[kind] += 1
                update += ", #tags.#into = :at"
                values[":at"] = {"S": now}
                condition = "attribute_exists(#tags.#src) AND attribute_not_exists(#tags.#into)"
            actions.append({"Update": {"Key": tag_set_key(tenant, kind, tag_set["object_id"]),
                                       "UpdateExpression": update, "ConditionExpression": condition,
                                       "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}})
        for tag_id, counts, sign in ((source_id, removed, -1), (into_id, added, 1)):
            moved = {k: v for k, v in counts.items() if v}
            if moved:
                actions.append({"Update": {
                    "Key": tag_key(tenant, tag_id), "ConditionExpression": "attribute_exists(PK)",
                    "UpdateExpression": "ADD " + ", ".join(f"#usage.#{k} :{k}" for k in moved),
                    "ExpressionAttributeNames": {"#usage": "usage", **{f"#{k}": k for k in moved}},
                    "ExpressionAttributeValues": {f":{k}": {"N": str(sign * v)} for k, v in moved.items()}}})
        try:
            self._transact(actions)
        except TransactionFailed as exc:
            raise TagSetChanged() from exc
        return {"removed": removed, "added": added}

    def finish_merge(self, tenant: str, source: dict[str, Any], into: dict[str, Any]) -> None:
        """Delete the (now unused) source, unpin `into`, and point the source's name at `into` as an alias.
        The aliases the source had are moved first (repoint_aliases), so this transaction stays small."""
        if source.get("aliases"):
            self.repoint_aliases(tenant, source["id"], into["id"], list(source["aliases"]))
        actions: list[dict[str, Any]] = [
            {"Delete": {"Key": tag_key(tenant, source["id"]),
                        "ConditionExpression": "merged_into = :into AND #usage.#a = :zero AND #usage.#b = :zero "
                                               "AND #usage.#c = :zero",
                        "ExpressionAttributeNames": {"#usage": "usage", "#a": "conversation", "#b": "customer",
                                                     "#c": "comment"},
                        "ExpressionAttributeValues": {":into": {"S": into["id"]}, ":zero": {"N": "0"}}}},
            {"Update": {"Key": tag_key(tenant, into["id"]), "ConditionExpression": "attribute_exists(PK)",
                        "UpdateExpression": "SET aliases = list_append(if_not_exists(aliases, :empty), :new) "
                                            "DELETE merge_sources :src",
                        "ExpressionAttributeValues": {":empty": {"L": []}, ":new": db.to_attr([source["name"]]),
                                                      ":src": {"SS": [source["id"]]}}}},
            {"Put": {"Item": {**name_lock_key(tenant, "TAG", source["name"]), **db.to_item({
                "item_type": "tag_name", "tenant": tenant, "tag_id": into["id"], "name": source["name"],
                "alias": True})},
                "ConditionExpression": "tag_id = :src", "ExpressionAttributeValues": {":src": {"S": source["id"]}}}},
            {"Update": {"Key": meta_key(tenant), "UpdateExpression": "ADD tag_count :minus",
                        "ExpressionAttributeValues": {":minus": {"N": "-1"}}}},
        ]
        if source.get("group_id"):
            actions.append(group_count_action(tenant, source["group_id"], -1))
        try:
            self._transact(actions)
        except TransactionFailed as exc:
            raise TagSetChanged() from exc

    def count_groups(self, tenant: str) -> int:
        meta = self.get_tenant(tenant)
        return int(meta.get("group_count", 0)) if meta else 0

    def count_tags(self, tenant: str) -> int:
        meta = self.get_tenant(tenant)
        return int(meta.get("tag_count", 0)) if meta else 0

    def query_page(self, *, index: str | None, partition: str, ascending: bool, limit: int,
                   start_key: dict[str, Any] | None, prefix: str | None = None,
                   filters: list[tuple[str, str, Any]] | None = None, skip: int = 0,
                   base_prefix: str = TAG_PREFIX) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of tags or groups from the base table (creation order) or a name index.

        `skip` items are read and dropped first (page-number pagination). `filters` — (attribute path,
        "=" | "begins_with", value) — that no index covers are applied by DynamoDB while reading, in which
        case more than one Query may be needed for a page.
        """
        if index is None:
            pk_attr, sk_attr = "PK", "SK"
            sk_prefix: str | None = base_prefix
        else:
            pk_attr, sk_attr = INDEX_KEYS[index]
            sk_prefix = prefix
        condition = "#pk = :pk"
        names = {"#pk": pk_attr}
        values: dict[str, Any] = {":pk": {"S": partition}}
        if sk_prefix:
            condition += " AND begins_with(#sk, :prefix)"
            names["#sk"] = sk_attr
            values[":prefix"] = {"S": sk_prefix}
        kwargs: dict[str, Any] = {"TableName": self.table, "KeyConditionExpression": condition,
                                  "ExpressionAttributeNames": names, "ScanIndexForward": ascending}
        if index:
            kwargs["IndexName"] = index
        if filters:
            clauses = []
            for i, (attr, op, value) in enumerate(filters):
                parts = attr.split(".")
                for j, part in enumerate(parts):
                    names[f"#f{i}_{j}"] = part
                path = ".".join(f"#f{i}_{j}" for j in range(len(parts)))
                clauses.append(f"{path} = :f{i}" if op == "=" else f"begins_with({path}, :f{i})")
                values[f":f{i}"] = db.to_attr(value)
            kwargs["FilterExpression"] = " AND ".join(clauses)
        kwargs["ExpressionAttributeValues"] = values
        items: list[dict[str, Any]] = []
        to_skip = skip
        while True:
            needed = to_skip + limit + 1 - len(items)  # one extra item tells whether a next page exists
            request = dict(kwargs, Limit=needed if not filters else max(needed, 2 * limit))
            if start_key:
                request["ExclusiveStartKey"] = start_key
            response = self._call("query", **request)
            batch = response.get("Items", [])
            for raw in batch:
                if to_skip:
                    to_skip -= 1
                    continue
                items.append(raw)
                if len(items) == limit + 1:
                    break
            if len(items) == limit + 1:
                # There is a next page: continue after the last item returned.
                last = items[limit - 1]
                return [db.from_item(i, without=STORAGE_ATTRS) for i in items[:limit]], self._key_of(last, index)
            start_key = response.get("LastEvaluatedKey")
            if not start_key:
                return [db.from_item(i, without=STORAGE_ATTRS) for i in items], None

    @staticmethod
    def _key_of(item: dict[str, Any], index: str | None) -> dict[str, Any]:
        key = {"PK": item["PK"], "SK": item["SK"]}
        if index:
            for attr in INDEX_KEYS[index]:
                key[attr] = item[attr]
        return key
