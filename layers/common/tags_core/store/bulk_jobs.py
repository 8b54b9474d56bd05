"""Bulk jobs (POST /{kind}/tags/bulk with more than 100 objects): the job's status item, one outcome mark per
object, and the tenant's bulk budget.

A job's items share one partition: the status item (the request, `total`, the counters `changed`, `unchanged`,
`failed`, `processed`, and `counted`, the set of chunks already counted) and one mark per object done. A mark is
written with the object's change (in the tag set's transaction, see TagSetStore.write_tag_set's `receipt`) or,
when nothing changed or the object failed, on its own; it is conditional, so an object is never done twice. A
chunk is counted once: the counters move in one conditional update that adds the chunk to `counted`.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from tags_core.store.codec import from_item, to_attr
from tags_core.store.keys import (
    BULK_MARK_PREFIX,
    EXPIRES_AT,
    bulk_budget_key,
    bulk_job_item,
    bulk_job_key,
    bulk_job_pk,
    bulk_mark_item,
    bulk_mark_key,
)
from tags_core.store.table import CONDITION_FAILED, Table, Transaction, TransactionFailed

COUNTERS = ("changed", "unchanged", "failed")


class BulkBudgetSpent(Exception):
    """The tenant's bulk budget of this window cannot take this many more objects."""


def receipt(tenant: str, job_id: str, object_id: str, outcome: dict[str, Any], expires_at: int) -> dict[str, Any]:
    """The Put of an object's outcome mark, failing when the object already has one."""
    return {"Item": bulk_mark_item(tenant, job_id, object_id, outcome, expires_at),
            "ConditionExpression": "attribute_not_exists(PK)"}


def bulk_budget(tenant: str, window: tuple[int, int], objects: int, limit: int) -> dict[str, Any]:
    """The Update that spends `objects` of the tenant's bulk budget of the window (fails past `limit`)."""
    start, end = window
    return {"Key": bulk_budget_key(tenant, start),
            "UpdateExpression": f"ADD #objects :n SET {EXPIRES_AT} = :expires",
            "ConditionExpression": "attribute_not_exists(#objects) OR #objects <= :room",
            "ExpressionAttributeNames": {"#objects": "objects"},
            "ExpressionAttributeValues": {":n": {"N": str(objects)}, ":room": {"N": str(limit - objects)},
                                          ":expires": {"N": str(end + 60)}}}


class BulkJobStore(Table):
    def spend_budget(self, budget: dict[str, Any]) -> None:
        """Spend the bulk budget alone (an inline request, which creates no job)."""
        transaction = Transaction()
        transaction.add("budget", {"Update": budget})
        self._spend(transaction)

    def create_job(self, tenant: str, job: dict[str, Any], expires_at: int, budget: dict[str, Any]) -> None:
        """The job's status item, with the tenant's bulk budget spent in the same transaction."""
        transaction = Transaction()
        transaction.add("budget", {"Update": budget})
        transaction.add("job", {"Put": {"Item": bulk_job_item(tenant, job, expires_at),
                                        "ConditionExpression": "attribute_not_exists(PK)"}})
        self._spend(transaction)

    def _spend(self, transaction: Transaction) -> None:
        try:
            self._transact(transaction)
        except TransactionFailed as exc:
            if exc.failed("budget"):
                raise BulkBudgetSpent() from exc
            raise

    def delete_job(self, tenant: str, job_id: str) -> None:
        self._call("delete_item", TableName=self.table, Key=bulk_job_key(tenant, job_id))

    def get_job(self, tenant: str, job_id: str) -> dict[str, Any] | None:
        return self._get(bulk_job_key(tenant, job_id), consistent=True)

    def get_marks(self, tenant: str, job_id: str, object_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The outcome marks the job already has for these objects (object id → mark)."""
        found = self.batch_get([bulk_mark_key(tenant, job_id, o) for o in dict.fromkeys(object_ids)])
        return {str(item["object_id"]): item for item in found}

    def put_mark(self, tenant: str, job_id: str, object_id: str, outcome: dict[str, Any],
                 expires_at: int) -> dict[str, Any]:
        """Record an outcome unless the object has one already; returns the mark that stands."""
        try:
            self._call("put_item", TableName=self.table, **receipt(tenant, job_id, object_id, outcome, expires_at))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != CONDITION_FAILED:
                raise
            mark = self._get(bulk_mark_key(tenant, job_id, object_id), consistent=True)
            return mark or outcome
        return outcome

    def count_chunk(self, tenant: str, job_id: str, chunk: int, counts: dict[str, int],
                    now: str) -> dict[str, Any] | None:
        """Move the counters by one chunk's outcomes, once: None when the chunk was counted already (or the job
        is gone). Returns the job as it is after the update."""
        values = {f":{name}": to_attr(counts.get(name, 0)) for name in COUNTERS}
        try:
            response = self._call(
                "update_item", TableName=self.table, Key=bulk_job_key(tenant, job_id),
                UpdateExpression="ADD #changed :changed, #unchanged :unchanged, #failed :failed,"
                                 " #processed :processed, #counted :chunk SET #updated_at = :now",
                ConditionExpression="attribute_exists(PK) AND NOT contains(#counted, :number)",
                ExpressionAttributeNames={f"#{n}": n for n in (*COUNTERS, "processed", "counted", "updated_at")},
                ExpressionAttributeValues={**values, ":processed": to_attr(sum(counts.values())),
                                           ":chunk": {"SS": [str(chunk)]}, ":number": {"S": str(chunk)},
                                           ":now": {"S": now}},
                ReturnValues="ALL_NEW")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != CONDITION_FAILED:
                raise
            return None
        return from_item(response["Attributes"])

    def finish(self, tenant: str, job_id: str, now: str) -> None:
        """Stamp `finished_at` on a job whose objects are all processed (once)."""
        try:
            self._call("update_item", TableName=self.table, Key=bulk_job_key(tenant, job_id),
                       UpdateExpression="SET #finished_at = :now",
                       ConditionExpression="#processed >= #total AND attribute_not_exists(#finished_at)",
                       ExpressionAttributeNames={"#total": "total", "#processed": "processed",
                                                 "#finished_at": "finished_at"},
                       ExpressionAttributeValues={":now": {"S": now}})
        except ClientError as exc:
            if exc.response["Error"]["Code"] != CONDITION_FAILED:
                raise

    def failures(self, tenant: str, job_id: str) -> list[dict[str, Any]]:
        """The job's failed objects (at most the job's objects: 1,000), by object id."""
        return list(self._query_all(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)", FilterExpression="#status = :failed",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":pk": {"S": bulk_job_pk(tenant, job_id)}, ":prefix": {"S": BULK_MARK_PREFIX},
                                       ":failed": {"S": "failed"}}))
