"""The plumbing every repository shares: calls with error translation, batches, named transactions, pages.

Repositories (one module per aggregate) are the only code that builds DynamoDB requests, with the keys and items
of `tags_core.store.keys`. Failures the client can act on come back as domain exceptions (`tags_core.errors`) or
the store's own (below); store faults (throttling, 5xx) as ServiceUnavailable.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as Unreachable

from tags_core.errors import ServiceUnavailable
from tags_core.observability import logger
from tags_core.settings import get_settings
from tags_core.store import client as db
from tags_core.store.codec import from_item, to_attr
from tags_core.store.keys import INDEX_KEYS, STORAGE_ATTRS, position

RETRYABLE = {
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable", "TransactionConflictException", "TransactionInProgressException",
}
# Calls of a BatchGetItem/BatchWriteItem while DynamoDB leaves part of it unprocessed (what it does when throttled).
BATCH_ROUNDS = 6
RETRYABLE_REASONS = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
CONDITION_FAILED = "ConditionalCheckFailedException"

Filter = tuple[str, str, Any]  # (attribute path, "=" | "begins_with", value)
Page = tuple[list[dict[str, Any]], dict[str, Any] | None]  # items, the position after the last one (or None)


class TagSetChanged(Exception):
    """The object's tag set moved since it was read (or a tag it touches did): read again and retry."""


def public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in STORAGE_ATTRS}


class Transaction:
    """The actions of one TransactWriteItems, each under a name, so a cancellation is decoded by name."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.actions: list[dict[str, Any]] = []

    def add(self, name: str, action: dict[str, Any]) -> None:
        self.names.append(name)
        self.actions.append(action)

    def __len__(self) -> int:
        return len(self.actions)


class TransactionFailed(Exception):
    """A cancelled transaction; `reasons` are DynamoDB's CancellationReasons, one per action, in `names`' order."""

    def __init__(self, reasons: list[dict[str, Any]], names: list[str] | None = None) -> None:
        super().__init__("transaction cancelled")
        self.reasons = reasons
        self.names = names or []

    def _failed_at(self, index: int) -> bool:
        return index < len(self.reasons) and self.reasons[index].get("Code") == "ConditionalCheckFailed"

    def failed(self, name: str) -> bool:
        """Whether the (first) action of this name failed its condition."""
        return name in self.names and self._failed_at(self.names.index(name))

    def failed_any(self, prefix: str) -> list[str]:
        """The names, in order, starting with `prefix` whose actions failed their condition."""
        return [n for i, n in enumerate(self.names) if n.startswith(prefix) and self._failed_at(i)]

    def old_item(self, name: str) -> dict[str, Any] | None:
        index = self.names.index(name) if name in self.names else len(self.reasons)
        item = self.reasons[index].get("Item") if index < len(self.reasons) else None
        return from_item(item) if item else None


def _filter_expression(filters: list[Filter], names: dict[str, str], values: dict[str, Any]) -> str:
    clauses = []
    for i, (attr, op, value) in enumerate(filters):
        parts = attr.split(".")
        for j, part in enumerate(parts):
            names[f"#f{i}_{j}"] = part
        path = ".".join(f"#f{i}_{j}" for j in range(len(parts)))
        clauses.append(f"{path} = :f{i}" if op == "=" else f"begins_with({path}, :f{i})")
        values[f":f{i}"] = to_attr(value)
    return " AND ".join(clauses)


class Table:
    """One repository's access to the table: every call goes through `_call`."""

    def __init__(self) -> None:
        self.table = get_settings().table_name

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
            if code != CONDITION_FAILED:  # an expected outcome the caller handles
                logger.error("dynamodb error", extra={"error_code": code, "operation": operation})
            raise
        except (Unreachable, HTTPClientError) as exc:  # timeouts and dropped connections, after the retries
            logger.warning("dynamodb unreachable after retries", extra={"error": type(exc).__name__,
                                                                         "operation": operation})
            raise ServiceUnavailable() from exc

    def _get(self, key: dict[str, Any], *, consistent: bool | None = None,
             without: set[str] | frozenset[str] = frozenset()) -> dict[str, Any] | None:
        kwargs: dict[str, Any] = {"TableName": self.table, "Key": key}
        if consistent is not None:
            kwargs["ConsistentRead"] = consistent
        item = self._call("get_item", **kwargs).get("Item")
        return from_item(item, without=without) if item else None

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

    def batch_get(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """BatchGetItem (consistent), 100 keys a call, unprocessed keys retried. Items in no particular order."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            chunk = {self.table: {"Keys": keys[start:start + 100], "ConsistentRead": True}}
            for response in self._batch("batch_get_item", chunk):
                found.extend(from_item(i) for i in response.get("Responses", {}).get(self.table, []))
        return found

    def _transact(self, transaction: Transaction, token: str | None = None) -> None:
        for action in transaction.actions:
            (body,) = action.values()
            body.setdefault("TableName", self.table)
        kwargs: dict[str, Any] = {"TransactItems": transaction.actions}
        if token:  # otherwise botocore makes one; it resends it when it retries after a timeout, and DynamoDB then
            kwargs["ClientRequestToken"] = token  # answers the transaction it already applied as a success
        try:
            self._call("transact_write_items", **kwargs)
        except TransactionFailed as exc:
            exc.names = transaction.names
            raise

    def _query_all(self, **kwargs: Any) -> Iterable[dict[str, Any]]:
        start: dict[str, Any] | None = None
        while True:
            extra = {"ExclusiveStartKey": start} if start else {}
            page = self._call("query", TableName=self.table, **kwargs, **extra)
            yield from (from_item(i) for i in page.get("Items", []))
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    def _page_request(self, index: str | None, partition: str, sk_prefix: str | None, ascending: bool,
                      filters: list[Filter] | None) -> dict[str, Any]:
        pk_attr, sk_attr = ("PK", "SK") if index is None else INDEX_KEYS[index]
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
            kwargs["FilterExpression"] = _filter_expression(filters, names, values)
        kwargs["ExpressionAttributeValues"] = values
        return kwargs

    def query_page(self, *, index: str | None, partition: str, sk_prefix: str | None, ascending: bool, limit: int,
                   start_key: dict[str, Any] | None, filters: list[Filter] | None = None, skip: int = 0) -> Page:
        """One page of items from the base table (creation order) or a name index.

        `skip` items are read and dropped first (page-number pagination). `filters` that no index covers are
        applied by DynamoDB while reading, in which case more than one Query may be needed for a page.
        """
        kwargs = self._page_request(index, partition, sk_prefix, ascending, filters)
        items: list[dict[str, Any]] = []
        to_skip = skip
        while True:
            needed = to_skip + limit + 1 - len(items)  # one extra item tells whether a next page exists
            request = dict(kwargs, Limit=needed if not filters else max(needed, 2 * limit))
            if start_key:
                request["ExclusiveStartKey"] = start_key
            response = self._call("query", **request)
            for raw in response.get("Items", []):
                if to_skip:
                    to_skip -= 1
                    continue
                items.append(raw)
                if len(items) == limit + 1:
                    break
            if len(items) == limit + 1:
                # There is a next page: continue after the last item returned.
                last = items[limit - 1]
                return [from_item(i, without=STORAGE_ATTRS) for i in items[:limit]], position(last, index)
            start_key = response.get("LastEvaluatedKey")
            if not start_key:
                return [from_item(i, without=STORAGE_ATTRS) for i in items], None
