"""Objects' tag history: entries written from the table's stream (idempotent keys), read newest first."""

from __future__ import annotations

from typing import Any

from tags_core.store.keys import HISTORY_PREFIX, history_pk
from tags_core.store.table import Page, Table


class HistoryStore(Table):
    def put_entries(self, items: list[dict[str, Any]]) -> None:
        """Put history items (whole items, so a repeated put leaves the same item), 25 a BatchWriteItem."""
        requests = [{"PutRequest": {"Item": item}} for item in items]
        for start in range(0, len(requests), 25):
            list(self._batch("batch_write_item", {self.table: requests[start:start + 25]}))

    def list_entries(self, tenant: str, kind: str, object_id: str, limit: int,
                     start: dict[str, Any] | None) -> Page:
        """One page of an object's history, newest first."""
        return self.query_page(index=None, partition=history_pk(tenant, kind, object_id), sk_prefix=HISTORY_PREFIX,
                               ascending=False, limit=limit, start_key=start)
