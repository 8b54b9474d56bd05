"""Merges: marking a source and pinning its target, moving attachments in bounded transactions, and the final
step that deletes the source and keeps its name (and aliases) as aliases of the target."""

from __future__ import annotations

from typing import Any

from tags_core.errors import Conflict
from tags_core.store import actions
from tags_core.store.codec import to_attr
from tags_core.store.keys import LAST_SOURCE, MOVED_NAMES, TAG, tag_key, tag_name_item, tag_set_key
from tags_core.store.table import TagSetChanged, Transaction, TransactionFailed
from tags_core.store.tag_sets import TagSetStore

KINDS = ("conversation", "customer", "comment")
ALIASES_PER_TRANSACTION = 50


class MergeStore(TagSetStore):
    """Merges, with the tags and tag sets they move."""

    def _commit(self, transaction: Transaction) -> None:
        try:
            self._transact(transaction)
        except TransactionFailed as exc:
            raise TagSetChanged() from exc

    def mark_merging(self, tenant: str, source_id: str, into_id: str) -> None:
        """Stop new attachments to `source` (they resolve to `into` from now on) and pin `into` (it cannot be
        deleted or merged away until this merge finishes). Idempotent for the same target."""
        transaction = Transaction()
        transaction.add("source", {"Update": {
            "Key": tag_key(tenant, source_id), "UpdateExpression": "SET merged_into = :into",
            "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(merge_sources) "
                                   "AND (attribute_not_exists(merged_into) OR merged_into = :into)",
            "ExpressionAttributeValues": {":into": {"S": into_id}}}})
        transaction.add("into", {"Update": {
            "Key": tag_key(tenant, into_id), "UpdateExpression": "ADD merge_sources :src",
            "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(merged_into)",
            "ExpressionAttributeValues": {":src": {"SS": [source_id]}}}})
        try:
            self._transact(transaction)
        except TransactionFailed as exc:
            raise Conflict("One of the tags is already part of another merge; finish that one first.",
                           code="merge_in_progress") from exc

    def repoint_aliases(self, tenant: str, from_id: str, to_id: str, names: list[str]) -> None:
        """Point name locks (a tag's name and aliases) at another tag, 50 names per transaction."""
        for start in range(0, len(names), ALIASES_PER_TRANSACTION):
            chunk = names[start:start + ALIASES_PER_TRANSACTION]
            transaction = Transaction()
            for n, alias in enumerate(chunk):
                transaction.add(f"alias:{n}", {"Put": {
                    "Item": tag_name_item(tenant, to_id, alias, alias=True),
                    "ConditionExpression": "tag_id IN (:from, :to)",
                    "ExpressionAttributeValues": {":from": {"S": from_id}, ":to": {"S": to_id}}}})
            transaction.add("into", {"Update": {
                "Key": tag_key(tenant, to_id), "ConditionExpression": "attribute_exists(PK)",
                "UpdateExpression": "SET aliases = list_append(if_not_exists(aliases, :e), :n)",
                "ExpressionAttributeValues": {":e": {"L": []}, ":n": to_attr(chunk)}}})
            self._commit(transaction)

    def move_attachments(self, tenant: str, source: dict[str, Any], into: dict[str, Any], sets: list[dict[str, Any]],
                         now: str, actor: str) -> dict[str, dict[str, int]]:
        """Move `source` to `into` on up to 98 objects in one transaction, usage counts included.

        Each set was read just before; the write is conditional on what was read (carries source, and
        carries or lacks into), so a concurrent change cancels it and the caller reads again.
        Each set records the move (source "merge", the actor, the source's name) for the history and events.
        Returns {"removed": per-kind count taken from source, "added": per-kind count given to into}.
        """
        source_id, into_id = source["id"], into["id"]
        removed = dict.fromkeys(KINDS, 0)
        added = dict(removed)
        transaction = Transaction()
        for tag_set in sets:
            kind = tag_set["kind"]
            has_into = into_id in (tag_set.get("tags") or {})
            removed[kind] += 1
            names = {"#tags": "tags", "#src": source_id, "#into": into_id, "#source": LAST_SOURCE,
                     "#names": MOVED_NAMES}
            values: dict[str, Any] = {":one": {"N": "1"}, ":now": {"S": now}, ":actor": {"S": actor},
                                      ":merge": {"S": "merge"}, ":names": to_attr({source_id: source.get("name"),
                                                                           into_id: into.get("name")})}
            update = ("REMOVE #tags.#src SET version = version + :one, updated_at = :now, updated_by = :actor, "
                      "#source = :merge, #names = :names")
            condition = "attribute_exists(#tags.#src) AND attribute_exists(#tags.#into)"
            if not has_into:
                added[kind] += 1
                update += ", #tags.#into = :at"
                values[":at"] = {"S": now}  # (the same instant as updated_at)
                condition = "attribute_exists(#tags.#src) AND attribute_not_exists(#tags.#into)"
            transaction.add(f"set:{kind}:{tag_set['object_id']}", {"Update": {
                "Key": tag_set_key(tenant, kind, tag_set["object_id"]), "UpdateExpression": update,
                "ConditionExpression": condition, "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values}})
        for name, tag_id, counts, sign in (("source", source_id, removed, -1), ("into", into_id, added, 1)):
            moved = {k: v for k, v in counts.items() if v}
            if moved:
                transaction.add(name, {"Update": {
                    "Key": tag_key(tenant, tag_id), "ConditionExpression": "attribute_exists(PK)",
                    "UpdateExpression": "ADD " + ", ".join(f"#usage.#{k} :{k}" for k in moved),
                    "ExpressionAttributeNames": {"#usage": "usage", **{f"#{k}": k for k in moved}},
                    "ExpressionAttributeValues": {f":{k}": {"N": str(sign * v)} for k, v in moved.items()}}})
        self._commit(transaction)
        return {"removed": removed, "added": added}

    def finish_merge(self, tenant: str, source: dict[str, Any], into: dict[str, Any], actor: str | None = None) -> None:
        """Delete the (now unused) source, unpin `into`, and point the source's name at `into` as an alias.
        The aliases the source had are moved first (repoint_aliases), so this transaction stays small."""
        if source.get("aliases"):
            self.repoint_aliases(tenant, source["id"], into["id"], list(source["aliases"]))
        transaction = Transaction()
        transaction.add("source", {"Delete": {
            "Key": tag_key(tenant, source["id"]),
            "ConditionExpression": "merged_into = :into AND #usage.#a = :zero AND #usage.#b = :zero "
                                   "AND #usage.#c = :zero",
            "ExpressionAttributeNames": {"#usage": "usage", "#a": "conversation", "#b": "customer", "#c": "comment"},
            "ExpressionAttributeValues": {":into": {"S": into["id"]}, ":zero": {"N": "0"}}}})
        transaction.add("into", {"Update": {
            "Key": tag_key(tenant, into["id"]), "ConditionExpression": "attribute_exists(PK)",
            "UpdateExpression": "SET aliases = list_append(if_not_exists(aliases, :empty), :new) "
                                "DELETE merge_sources :src",
            "ExpressionAttributeValues": {":empty": {"L": []}, ":new": to_attr([source["name"]]),
                                          ":src": {"SS": [source["id"]]}}}})
        transaction.add("alias", {"Put": {
            "Item": tag_name_item(tenant, into["id"], source["name"], alias=True),
            "ConditionExpression": "tag_id = :src", "ExpressionAttributeValues": {":src": {"S": source["id"]}}}})
        transaction.add("tenant", actions.tag_count_down(tenant, archived=bool(source.get("archived_at"))))
        if actor:
            transaction.add("deletion", actions.record_deletion(tenant, TAG, source["id"], actor))
        if source.get("group_id"):
            transaction.add("group", actions.group_count(tenant, source["group_id"], -1))
        self._commit(transaction)
