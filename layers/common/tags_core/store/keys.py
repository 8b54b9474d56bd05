"""The key scheme of the service's one table: every key, index and item type, and the shape of every item.

This is the only module that spells a key (`T#...`), an index name or an item type; docs/data-model.md describes
the same scheme for people. Everything of a tenant lives under partitions that start with "T#<tenant>".
"""

from __future__ import annotations

from typing import Any

from tags_core.names import name_lock_suffix, sort_key
from tags_core.store.codec import to_item

# --- item types (the `item_type` attribute every item carries) --------------------------------------------------
ITEM_TYPE = "item_type"
TENANT = "tenant"
API_KEY = "api_key"  # the lookup by key hash (authorizer)
API_KEY_ENTRY = "api_key_entry"  # the tenant's listing of its keys
TAG = "tag"
TAG_NAME = "tag_name"  # a tag's name lock (unique per tenant), also an alias after a merge
GROUP = "group"
GROUP_NAME = "group_name"
TAG_SET = "tag_set"  # an object's tags
REVERSE = "reverse"  # the reverse index: one entry per (tag, object), kept from the stream
DELETION = "deletion"  # who deleted a tag or group (written with the delete, read by the stream; TTL)
HISTORY = "history"  # one entry per tag attached to or detached from an object, kept from the stream (TTL)
WRITE_BUDGET = "write_budget"  # a key's recent writes to one object (the rate limit's sliding window)
BULK_JOB = "bulk_job"  # a bulk change's status item (POST /{kind}/tags/bulk, more than 100 objects)
BULK_MARK = "bulk_mark"  # one object's outcome in a bulk job, written with its change (never applied twice)
BULK_BUDGET = "bulk_budget"  # the tenant's objects changed by bulk requests in one window

# --- sort keys and prefixes of the tenant's partition -----------------------------------------------------------
META_SK = "META"
TAG_PREFIX = "TAG#"
GROUP_PREFIX = "GROUP#"
KEY_PREFIX = "KEY#"
TAG_LOCKS = "TAG"  # name lock namespaces
GROUP_LOCKS = "GROUP"

# --- secondary indexes: name-ordered listings (all tags or groups, per group, per type); sparse ------------------
INDEX_BY_NAME = "GSI1"
INDEX_BY_GROUP = "GSI2"
INDEX_BY_TYPE = "GSI3"
INDEX_KEYS = {INDEX_BY_NAME: ("GSI1PK", "GSI1SK"), INDEX_BY_GROUP: ("GSI2PK", "GSI2SK"),
              INDEX_BY_TYPE: ("GSI3PK", "GSI3SK")}
NAME_ORDER = "GSI1SK"  # the name-order sort key of a tag or group (a `q` filter outside the name index reads it)
GROUP_PARTITION = "GSI2PK"
TYPE_PARTITION = "GSI3PK"
EXPIRES_AT = "expires_at"  # the table's TTL attribute
ARCHIVED_AT = "archived_at"  # on a tag: when it was archived (null or absent: active)
ARCHIVED_COUNT = "archived_count"  # on the tenant: how many of its tags are archived
LAST_SOURCE = "last_source"  # on a tag set: what made its last write (api, queue, bulk, merge, cleanup)
MOVED_NAMES = "moved_names"  # on a tag set: names of the tags its last write attached or detached (history)
HISTORY_PREFIX = "H#"

# Item attributes that are storage detail, never part of a domain object.
STORAGE_ATTRS = {"PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "GSI3PK", "GSI3SK", ITEM_TYPE, "tenant",
                 "name_key", EXPIRES_AT, "updated_by", "merge_sources", LAST_SOURCE, MOVED_NAMES}

Key = dict[str, Any]


def item_type(item: dict[str, Any]) -> str | None:
    value = item.get(ITEM_TYPE)
    return None if value is None else str(value)


def tenant_pk(tenant: str) -> str:
    return f"T#{tenant}"


def _key(pk: str, sk: str) -> Key:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def meta_key(tenant: str) -> Key:
    return _key(tenant_pk(tenant), META_SK)


def tag_key(tenant: str, tag_id: str) -> Key:
    return _key(tenant_pk(tenant), TAG_PREFIX + tag_id)


def group_key(tenant: str, group_id: str) -> Key:
    return _key(tenant_pk(tenant), GROUP_PREFIX + group_id)


def name_lock_key(tenant: str, namespace: str, name: str) -> Key:
    return _key(tenant_pk(tenant), f"NAME#{namespace}#{name_lock_suffix(name)}")


def api_key_lookup_key(key_hash: str) -> Key:
    return _key(f"APIKEY#{key_hash}", "APIKEY")


def api_key_entry_key(tenant: str, key_id: str) -> Key:
    return _key(tenant_pk(tenant), KEY_PREFIX + key_id)


def tag_set_key(tenant: str, kind: str, object_id: str) -> Key:
    return _key(f"T#{tenant}#O#{kind}#{object_id}", "SET")


def reverse_pk(tenant: str, tag_id: str) -> str:
    return f"T#{tenant}#R#{tag_id}"


def reverse_key(tenant: str, tag_id: str, kind: str, object_id: str) -> Key:
    return _key(reverse_pk(tenant, tag_id), f"{kind}#{object_id}")


def deletion_key(tenant: str, kind: str, record_id: str) -> Key:
    """The record of who deleted (or merged away) a tag or group: `kind` is the item type, TAG or GROUP."""
    return _key(tenant_pk(tenant), f"DELETED#{kind}#{record_id}")


def history_pk(tenant: str, kind: str, object_id: str) -> str:
    return f"T#{tenant}#H#{kind}#{object_id}"


def history_key(tenant: str, kind: str, object_id: str, version: int, n: int) -> Key:
    """The n-th entry of the tag set's write at `version`: entries sort by write, then by their order in it."""
    return _key(history_pk(tenant, kind, object_id), f"{HISTORY_PREFIX}{version:012d}#{n:03d}")


def reverse_range(kind: str, after: str | None) -> tuple[str, str]:
    """The sort-key bounds (BETWEEN, inclusive) of a tag's reverse entries of one kind whose object id comes after
    `after` (all of them if None). Object ids are 1-128 of `A-Z a-z 0-9 . _ : -`: the smallest id above `after` is
    `after` + "-" (the smallest of those characters), and every id sorts below "~"."""
    return (f"{kind}#{after}-" if after else f"{kind}#"), f"{kind}#~"


def rate_limit_key(tenant: str, key_id: str, kind: str, object_id: str) -> Key:
    return _key(f"T#{tenant}#RL#{key_id}#{kind}#{object_id}", "BUDGET")


def bulk_job_pk(tenant: str, job_id: str) -> str:
    return f"T#{tenant}#JOB#{job_id}"


def bulk_job_key(tenant: str, job_id: str) -> Key:
    return _key(bulk_job_pk(tenant, job_id), "JOB")


BULK_MARK_PREFIX = "O#"


def bulk_mark_key(tenant: str, job_id: str, object_id: str) -> Key:
    return _key(bulk_job_pk(tenant, job_id), BULK_MARK_PREFIX + object_id)


def bulk_budget_key(tenant: str, window_start: int) -> Key:
    return _key(f"T#{tenant}#BULK", f"W#{window_start}")


def idempotency_pk(tenant: str) -> str:
    return f"T#{tenant}#IDEMPOTENCY"


# --- index partitions ----------------------------------------------------------------------------------------------

def all_tags(tenant: str) -> str:
    return f"T#{tenant}#TAGS"


def tags_in_group(tenant: str, group_id: str | None) -> str:
    """The group index partition of a group's tags; None: the free-standing tags."""
    return f"T#{tenant}#TAGS#G#{group_id or '-'}"


def tags_of_type(tenant: str, tag_type: str) -> str:
    return f"T#{tenant}#TAGS#TYPE#{tag_type}"


def all_groups(tenant: str) -> str:
    return f"T#{tenant}#GROUPS"


def tag_index_attrs(tenant: str, tag: dict[str, Any]) -> dict[str, str]:
    """The index keys a tag carries, derived from its name, group and type."""
    order = sort_key(tag["name"], tag["id"])
    return {
        "GSI1PK": all_tags(tenant), "GSI1SK": order,
        "GSI2PK": tags_in_group(tenant, tag.get("group_id")), "GSI2SK": order,
        "GSI3PK": tags_of_type(tenant, tag["type"]), "GSI3SK": order,
    }


def group_index_attrs(tenant: str, group: dict[str, Any]) -> dict[str, str]:
    return {"GSI1PK": all_groups(tenant), "GSI1SK": sort_key(group["name"], group["id"])}


def position(item: dict[str, Any], index: str | None) -> Key:
    """The key of a raw item in the base table or an index: where a page that ends with it continues."""
    key = {"PK": item["PK"], "SK": item["SK"]}
    if index:
        for attr in INDEX_KEYS[index]:
            key[attr] = item[attr]
    return key


# --- items -------------------------------------------------------------------------------------------------------

def tenant_item(tenant: str, name: str, created_at: str) -> dict[str, Any]:
    return {**meta_key(tenant), **to_item({ITEM_TYPE: TENANT, "tenant": tenant, "name": name,
                                            "created_at": created_at, "tag_count": 0, "group_count": 0})}


def api_key_items(tenant: str, key_hash: str, record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The lookup by hash (authorizer) and the tenant's listing entry of one API key."""
    lookup = {**api_key_lookup_key(key_hash), **to_item({**record, ITEM_TYPE: API_KEY, "tenant": tenant})}
    listing = {**api_key_entry_key(tenant, record["key_id"]),
               **to_item({**record, ITEM_TYPE: API_KEY_ENTRY, "tenant": tenant, "key_hash": key_hash})}
    return lookup, listing


def tag_item(tenant: str, tag: dict[str, Any]) -> dict[str, Any]:
    return {**tag_key(tenant, tag["id"]),
            **to_item({**tag, **tag_index_attrs(tenant, tag), ITEM_TYPE: TAG, "tenant": tenant})}


def tag_name_item(tenant: str, tag_id: str, name: str, *, alias: bool = False) -> dict[str, Any]:
    fields: dict[str, Any] = {ITEM_TYPE: TAG_NAME, "tenant": tenant, "tag_id": tag_id, "name": name}
    if alias:
        fields["alias"] = True
    return {**name_lock_key(tenant, TAG_LOCKS, name), **to_item(fields)}


def group_item(tenant: str, group: dict[str, Any]) -> dict[str, Any]:
    return {**group_key(tenant, group["id"]),
            **to_item({**group, **group_index_attrs(tenant, group), ITEM_TYPE: GROUP, "tenant": tenant})}


def group_name_item(tenant: str, group: dict[str, Any]) -> dict[str, Any]:
    return {**name_lock_key(tenant, GROUP_LOCKS, group["name"]),
            **to_item({ITEM_TYPE: GROUP_NAME, "tenant": tenant, "group_id": group["id"], "name": group["name"]})}


def tag_set_item(tenant: str, kind: str, object_id: str, tags: dict[str, str], version: int, updated_at: str,
                 actor: str, source: str, names: dict[str, str]) -> dict[str, Any]:
    """An object's tag set; `updated_by` (the actor) and `last_source` say who made this write, and through what,
    `moved_names` the names of the tags it attached and detached (the history keeps them even if a tag is gone
    by the time the stream reads the write)."""
    return {**tag_set_key(tenant, kind, object_id),
            **to_item({ITEM_TYPE: TAG_SET, "tenant": tenant, "kind": kind, "object_id": object_id, "tags": tags,
                       "version": version, "updated_at": updated_at, "updated_by": actor, LAST_SOURCE: source,
                       MOVED_NAMES: names})}


def write_budget_item(tenant: str, key_id: str, kind: str, object_id: str, writes: list[int], seq: int,
                      expires_at: int) -> dict[str, Any]:
    """The times (epoch milliseconds) of a key's writes to an object still inside the rate limit's window."""
    return {**rate_limit_key(tenant, key_id, kind, object_id),
            **to_item({ITEM_TYPE: WRITE_BUDGET, "writes": writes, "seq": seq, EXPIRES_AT: expires_at})}


def reverse_item(tenant: str, tag_id: str, kind: str, object_id: str, attached_at: str) -> dict[str, Any]:
    return {**reverse_key(tenant, tag_id, kind, object_id),
            **to_item({ITEM_TYPE: REVERSE, "tenant": tenant, "tag_id": tag_id, "kind": kind, "object_id": object_id,
                       "attached_at": attached_at})}


def history_item(tenant: str, kind: str, object_id: str, version: int, n: int, entry: dict[str, Any],
                 expires_at: int) -> dict[str, Any]:
    """One history entry (`entry`: at, action, tag_id, name, actor, source), deleted by TTL at `expires_at`."""
    return {**history_key(tenant, kind, object_id, version, n),
            **to_item({**entry, ITEM_TYPE: HISTORY, "tenant": tenant, "kind": kind, "object_id": object_id,
                       EXPIRES_AT: expires_at})}


def deletion_item(tenant: str, kind: str, record_id: str, actor: str, at: str, expires_at: int) -> dict[str, Any]:
    return {**deletion_key(tenant, kind, record_id),
            **to_item({ITEM_TYPE: DELETION, "tenant": tenant, "deleted_by": actor, "deleted_at": at,
                       EXPIRES_AT: expires_at})}


def bulk_job_item(tenant: str, job: dict[str, Any], expires_at: int) -> dict[str, Any]:
    """A bulk job's status item: the request it runs and its progress counters (moved by `count` updates)."""
    return {**bulk_job_key(tenant, job["id"]),
            **to_item({**job, ITEM_TYPE: BULK_JOB, "tenant": tenant, EXPIRES_AT: expires_at})}


def bulk_mark_item(tenant: str, job_id: str, object_id: str, outcome: dict[str, Any],
                   expires_at: int) -> dict[str, Any]:
    """One object's outcome in a job ({"status", "errors"?}); its existence means the object is done."""
    return {**bulk_mark_key(tenant, job_id, object_id),
            **to_item({**outcome, ITEM_TYPE: BULK_MARK, "tenant": tenant, "object_id": object_id,
                       EXPIRES_AT: expires_at})}
