"""Tags: the tag item with its index keys, its name lock, the tenant's and its group's tag counts."""

from __future__ import annotations

from typing import Any

from tags_core.errors import Conflict, NotFound, PreconditionFailed
from tags_core.names import name_key
from tags_core.store import actions
from tags_core.store.keys import (
    ARCHIVED_AT,
    ARCHIVED_COUNT,
    GROUP_PARTITION,
    INDEX_BY_GROUP,
    INDEX_BY_NAME,
    INDEX_BY_TYPE,
    NAME_ORDER,
    STORAGE_ATTRS,
    TAG,
    TAG_LOCKS,
    TAG_PREFIX,
    TYPE_PARTITION,
    all_tags,
    deletion_key,
    name_lock_key,
    tag_item,
    tag_key,
    tag_name_item,
    tags_in_group,
    tags_of_type,
    tenant_pk,
)
from tags_core.store.table import Filter, Page, Table, TagSetChanged, Transaction, TransactionFailed, public

ALIASES_WITH_DELETE = 90  # aliases freed in the delete's own transaction; the rest after it


class GroupMissing(Exception):
    """The group a tag was to join does not exist (its tag count could not move)."""


def _name_lock(tenant: str, tag: dict[str, Any]) -> dict[str, Any]:
    return tag_name_item(tenant, tag["id"], tag["name"])


def _taken(exc: TransactionFailed, name: str) -> Conflict:
    existing = exc.old_item(name) or {}
    return Conflict("A tag with this name already exists.", code="tag_exists", field="name",
                    existing_id=existing.get("tag_id"))


class TagStore(Table):
    def get_tag(self, tenant: str, tag_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
        return self._get(tag_key(tenant, tag_id), consistent=consistent, without=STORAGE_ATTRS)

    def deleted_by(self, tenant: str, kind: str, record_id: str) -> str | None:
        """Who deleted (or merged away) a tag or group (`kind`: its item type), if the delete recorded it and the
        record has not expired."""
        record = self._get(deletion_key(tenant, kind, record_id))
        return None if record is None else record.get("deleted_by")

    def get_tags(self, tenant: str, tag_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Live tags by id (deleted ones are simply absent)."""
        keys = [tag_key(tenant, i) for i in dict.fromkeys(tag_ids)]
        return {item["id"]: public(item) for item in self.batch_get(keys)}

    def create_tag(self, tenant: str, tag: dict[str, Any]) -> None:
        """One TransactWriteItems: the tag, its name lock (unique per tenant), the tenant's tag count and,
        for a grouped tag, the group's tag count (which also proves the group exists)."""
        transaction = Transaction()
        actions.add_named(transaction, tenant, "tag", tag_item(tenant, tag), _name_lock(tenant, tag), "tag_count")
        if tag.get("group_id"):
            transaction.add("group", actions.group_count(tenant, tag["group_id"], 1))
        try:
            self._transact(transaction)
        except TransactionFailed as exc:
            if exc.failed("lock"):
                raise _taken(exc, "lock") from exc
            if exc.failed("group"):
                raise GroupMissing() from exc
            raise

    def create_tags(self, tenant: str, tags: list[dict[str, Any]]) -> None:
        """Create tags (name lock + tag + tenant count), 49 per transaction. A name taken meanwhile cancels its
        chunk with TagSetChanged: the caller reads again and finds the tag."""
        for start in range(0, len(tags), 49):
            chunk = tags[start:start + 49]
            transaction = Transaction()
            add_new_tags(transaction, tenant, chunk)
            try:
                self._transact(transaction)
            except TransactionFailed as exc:
                raise TagSetChanged() from exc

    def find_tag_ids_by_names(self, tenant: str, names: list[str]) -> dict[str, str]:
        """Name key → tag id for the names that are taken (one BatchGetItem per 100 names)."""
        unique = {name_key(n): n for n in names}
        keys = [name_lock_key(tenant, TAG_LOCKS, n) for n in unique.values()]
        return {name_key(lock["name"]): lock["tag_id"] for lock in self.batch_get(keys)}

    def update_tag(self, tenant: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        """Replace a tag if it is still at `old['version']`; move its name lock when the name key changes."""
        transaction = Transaction()
        transaction.add("tag", actions.tag_fields(tenant, old, new))
        renamed = actions.rename_lock(transaction, tenant, TAG_LOCKS, "tag_id", old, new,
                                      lambda tag: _name_lock(tenant, tag))
        if bool(old.get("archived_at")) != bool(new.get("archived_at")):  # archived or restored
            transaction.add("tenant", actions.count(tenant, ARCHIVED_COUNT, 1 if new.get("archived_at") else -1,
                                                    ":archived"))
        if old.get("group_id") != new.get("group_id"):
            if new.get("group_id"):
                transaction.add("new_group", actions.group_count(tenant, new["group_id"], 1))
            if old.get("group_id"):
                transaction.add("old_group", actions.group_count(tenant, old["group_id"], -1))
        try:
            self._transact(transaction)
        except TransactionFailed as exc:
            actions.raise_if_refused(
                exc, "tag", "tag", lambda: self.get_tag(tenant, old["id"], consistent=True) is not None,
                renamed=renamed, taken=lambda failed: _taken(failed, "lock"))
            if exc.failed("new_group"):
                raise GroupMissing() from exc
            raise

    def delete_tag(self, tenant: str, tag: dict[str, Any], actor: str | None = None) -> None:
        aliases = list(tag.get("aliases", []))
        transaction = Transaction()
        transaction.add("tag", {"Delete": {
            "Key": tag_key(tenant, tag["id"]),
            "ConditionExpression": "version = :v AND attribute_not_exists(merge_sources)",
            "ExpressionAttributeValues": {":v": {"N": str(tag["version"])}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}})
        transaction.add("lock", _free_lock(tenant, tag["id"], tag["name"]))
        if actor:
            transaction.add("deletion", actions.record_deletion(tenant, TAG, tag["id"], actor))
        transaction.add("tenant", actions.tag_count_down(tenant, archived=bool(tag.get("archived_at"))))
        if tag.get("group_id"):
            transaction.add("group", actions.group_count(tenant, tag["group_id"], -1))
        for n, alias in enumerate(aliases[:ALIASES_WITH_DELETE]):  # names merged into this tag are freed with it
            transaction.add(f"alias:{n}", _free_lock(tenant, tag["id"], alias))
        try:
            self._transact(transaction)
        except TransactionFailed as exc:
            current = exc.old_item("tag") if exc.failed("tag") else None
            if exc.failed("tag") and current is None:
                raise NotFound("No such tag.") from exc
            if current is not None and current.get("merge_sources"):
                raise Conflict("Tags are being merged into this tag; delete it after the merge.",
                               code="merge_in_progress") from exc
            raise PreconditionFailed("The tag was changed by another request; read it again.") from exc
        if aliases[ALIASES_WITH_DELETE:]:
            self.delete_aliases(tenant, tag["id"], aliases[ALIASES_WITH_DELETE:])

    def delete_aliases(self, tenant: str, tag_id: str, names: list[str]) -> None:
        """Free name locks that still point at a (deleted) tag, 100 per transaction."""
        for start in range(0, len(names), 100):
            transaction = Transaction()
            for n, alias in enumerate(names[start:start + 100]):
                transaction.add(f"alias:{n}", {"Delete": {
                    "Key": name_lock_key(tenant, TAG_LOCKS, alias),
                    "ConditionExpression": "attribute_not_exists(PK) OR tag_id = :id",
                    "ExpressionAttributeValues": {":id": {"S": tag_id}}}})
            self._transact(transaction)

    def list_tags(self, tenant: str, *, by_name: bool, ascending: bool, limit: int, start: dict[str, Any] | None,
                  skip: int, prefix: str | None, tag_type: str | None, group: str | None, ungrouped: bool,
                  applies_to: str | None, archived: str = "false") -> Page:
        """One page of tags. A single filter (group or type) with name order, or no filter, is served by an index,
        so a page reads ~limit items; other combinations add a FilterExpression (docs/data-model.md). Archived
        tags are filtered out ("false"), kept alone ("true") or kept with the others ("all")."""
        group_partition = tags_in_group(tenant, None if ungrouped else group) if group or ungrouped else None
        filters: list[Filter] = []
        if archived != "all":
            filters.append((ARCHIVED_AT, "set" if archived == "true" else "unset", None))
        if applies_to is not None:
            filters.append((f"applies_to.{applies_to}", "=", True))
        if by_name:
            if group_partition:
                index, partition = INDEX_BY_GROUP, group_partition
                if tag_type:
                    filters.append((TYPE_PARTITION, "=", tags_of_type(tenant, tag_type)))
            elif tag_type:
                index, partition = INDEX_BY_TYPE, tags_of_type(tenant, tag_type)
            else:
                index, partition = INDEX_BY_NAME, all_tags(tenant)
            sk_prefix = prefix
        else:  # creation order: ids are ULIDs, so the base table's sort key is creation time
            index, partition, sk_prefix = None, tenant_pk(tenant), TAG_PREFIX
            if group_partition:
                filters.append((GROUP_PARTITION, "=", group_partition))
            if tag_type:
                filters.append((TYPE_PARTITION, "=", tags_of_type(tenant, tag_type)))
            if prefix:
                filters.append((NAME_ORDER, "begins_with", prefix))
        return self.query_page(index=index, partition=partition, sk_prefix=sk_prefix, ascending=ascending,
                               limit=limit, start_key=start, filters=filters, skip=skip)

    def group_members(self, tenant: str, group_id: str, limit: int) -> list[dict[str, Any]]:
        """The first tags the group index lists for a group (candidates: the index is eventually consistent)."""
        items, _ = self.query_page(index=INDEX_BY_GROUP, partition=tags_in_group(tenant, group_id), sk_prefix=None,
                                   ascending=True, limit=limit, start_key=None)
        return items


def _free_lock(tenant: str, tag_id: str, name: str) -> dict[str, Any]:
    return {"Delete": {"Key": name_lock_key(tenant, TAG_LOCKS, name), "ConditionExpression": "tag_id = :id",
                       "ExpressionAttributeValues": {":id": {"S": tag_id}}}}


def add_new_tags(transaction: Transaction, tenant: str, tags: list[dict[str, Any]]) -> None:
    """Create tags in a transaction: name lock and tag each ("new:<n>"), then the tenant's tag count."""
    for n, tag in enumerate(tags):
        for item in (_name_lock(tenant, tag), tag_item(tenant, tag)):
            transaction.add(f"new:{n}", {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(PK)"}})
    if tags:
        transaction.add("tenant", actions.count(tenant, "tag_count", len(tags), ":n"))


