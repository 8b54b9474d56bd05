"""Each object's tag history (issue 15), written by the real stream processor from the tag sets' changes: a
scripted sequence (attach, detach, replace, replace_in_group, merge, delete, a command from the queue, a bulk
write) yields exactly the expected entries, newest first, with actor and source, paged by cursor without loss;
a redelivered stream batch writes nothing new; the cursor is bound to the object."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from functions.command_consumer import app as consumer
from functions.stream_processor.app import lambda_handler as stream_handler
from tags_core.settings import get_settings
from tags_core.store.history import HistoryStore
from tags_core.store.keys import history_pk
from tags_tools.local.invokers import LambdaContext
from tags_tools.local.stream_poller import StreamPoller
from tests.api.test_command_queue import sqs_record
from tests.helpers import Invoke, TenantKeys, assert_error, attach, follow, new_group, new_tag, scan


class Recorder:
    """The stream processor's handler, keeping every batch it was given (to deliver them again)."""

    def __init__(self) -> None:
        self.batches: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.batches.append(event)
        return stream_handler(event, context)


@pytest.fixture
def recorded(table: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[StreamPoller, Recorder]]:
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    recorder = Recorder()
    yield StreamPoller(table, recorder), recorder


def history(invoke: Invoke, path: str, limit: int = 3) -> list[dict[str, Any]]:
    return follow(invoke, f"/{path}/tags/history", limit=limit)


def test_a_scripted_sequence_yields_exactly_the_expected_history(
        invoke: Invoke, tenant: TenantKeys, recorded: tuple[StreamPoller, Recorder], table: str) -> None:
    stream, recorder = recorded
    key = tenant.write_key_id
    a, b, c, d = (new_tag(invoke, n) for n in ("Alpha", "Beta", "Gamma", "Delta"))
    group = new_group(invoke, "Priority", max_per_object=1)
    high, low = (new_tag(invoke, n, group_id=group["id"]) for n in ("High", "Low"))
    assert attach(invoke, "conversations", "c1", ids=[a["id"], b["id"]]).status == 200       # v1
    assert invoke("DELETE", f"/conversations/c1/tags/{a['id']}").status == 200                # v2
    assert attach(invoke, "conversations", "c1", ["gamma"], method="PUT").status == 200       # v3
    assert attach(invoke, "conversations", "c1", ids=[high["id"]]).status == 200              # v4
    assert attach(invoke, "conversations", "c1", ["Low"], replace_in_group=True).status == 200  # v5
    stream.drain()  # the merge finds the objects through the reverse index
    merged = invoke("POST", f"/tags/{c['id']}/merge", body={"into": d["id"]})                 # v6
    assert merged.data["status"] == "merged"
    assert invoke("DELETE", f"/tags/{d['id']}").status == 200
    stream.drain()  # the clean-up removes the deleted tag from the object: v7
    command = {"tenant": tenant.id, "kind": "conversation", "object_id": "c1", "add": ["Epsilon"]}
    result = consumer.lambda_handler({"Records": [sqs_record(command, "msg-1")]},
                                     LambdaContext(function_name="CommandConsumerFunction"))
    assert result["batchItemFailures"] == []                                                  # v8
    epsilon = next(t for t in invoke("GET", "/conversations/c1/tags").data if t["name"] == "Epsilon")
    bulk = invoke("POST", "/conversations/tags/bulk",                                          # v9
                  body={"objects": ["c1", "c2"], "add": [b["id"]], "remove": ["epsilon"]})
    assert [r["status"] for r in bulk.data] == ["changed", "changed"], bulk.json
    stream.drain()

    expected = [
        ("attached", b["id"], "Beta", key, "bulk"),  # one write: its attachment listed before its detachment
        ("detached", epsilon["id"], "Epsilon", key, "bulk"),
        ("attached", epsilon["id"], "Epsilon", "queue:msg-1", "queue"),
        ("detached", d["id"], "Delta", key, "cleanup"),  # the deleter, recorded with the delete
        ("attached", d["id"], "Delta", key, "merge"),
        ("detached", c["id"], "Gamma", key, "merge"),
        ("attached", low["id"], "Low", key, "api"),
        ("detached", high["id"], "High", key, "api"),
        ("attached", high["id"], "High", key, "api"),
        ("attached", c["id"], "Gamma", key, "api"),
        ("detached", b["id"], "Beta", key, "api"),
        ("detached", a["id"], "Alpha", key, "api"),
        ("attached", b["id"], "Beta", key, "api"),
        ("attached", a["id"], "Alpha", key, "api"),
    ]
    entries = history(invoke, "conversations/c1", limit=3)
    assert [(e["action"], e["tag"]["id"], e["tag"]["name"], e["actor"], e["source"]) for e in entries] == expected
    times = [e["at"] for e in entries]
    assert times == sorted(times, reverse=True)
    assert entries[0]["at"] == entries[1]["at"]  # the bulk change of c1 is one write
    assert entries[6]["at"] == entries[7]["at"]  # the swap is one write
    assert history(invoke, "conversations/c1", limit=100) == entries  # one page or many: the same entries

    # A redelivered stream (every batch again, as after a retry) writes the same items: nothing new, nothing lost.
    items_before = sorted(str(i) for i in scan(table) if i["PK"]["S"] == history_pk(tenant.id, "conversation", "c1"))
    for batch in list(recorder.batches):
        assert stream_handler(batch, None)["batchItemFailures"] == []
    items_after = sorted(str(i) for i in scan(table) if i["PK"]["S"] == history_pk(tenant.id, "conversation", "c1"))
    assert items_after == items_before and len(items_after) == len(expected)


def test_entries_expire_after_the_retention(invoke: Invoke, tenant: TenantKeys,
                                            recorded: tuple[StreamPoller, Recorder],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HISTORY_RETENTION_DAYS", "7")
    get_settings.cache_clear()
    stream, _ = recorded
    assert attach(invoke, "customers", "u1", ["VIP"]).status == 200
    stream.drain()
    items, _ = HistoryStore().query_page(index=None, partition=history_pk(tenant.id, "customer", "u1"),
                                         sk_prefix=None, ascending=True, limit=10, start_key=None)
    raw = [i for i in scan(HistoryStore().table) if i["PK"]["S"] == history_pk(tenant.id, "customer", "u1")]
    assert len(items) == len(raw) == 1
    at = datetime.fromisoformat(items[0]["at"].replace("Z", "+00:00")).timestamp()
    assert int(raw[0]["expires_at"]["N"]) == int(at) + 7 * 86_400
    get_settings.cache_clear()


def test_an_empty_history_and_bad_requests(invoke: Invoke, recorded: tuple[StreamPoller, Recorder]) -> None:
    stream, _ = recorded
    empty = invoke("GET", "/comments/nothing-here/tags/history")
    assert empty.status == 200 and empty.data == [] and empty.json["meta"] == {"next_cursor": None}
    for n in range(3):
        assert attach(invoke, "comments", "m1", [f"t{n}"]).status == 200
        assert attach(invoke, "comments", "m2", [f"t{n}"]).status == 200
    stream.drain()
    page = invoke("GET", "/comments/m1/tags/history", query={"limit": 2})
    assert page.status == 200 and len(page.data) == 2 and page.json["meta"]["next_cursor"]
    cursor = page.json["meta"]["next_cursor"]
    assert_error(invoke("GET", "/comments/m2/tags/history", query={"cursor": cursor}), 400, "invalid_cursor")
    assert_error(invoke("GET", "/comments/m1/tags/history", query={"cursor": cursor[:-2] + "xx"}), 400,
                 "invalid_cursor")
    assert invoke("GET", "/comments/m1/tags/history", query={"cursor": cursor}, role="read").status == 200
    assert_error(invoke("GET", "/comments/bad id/tags/history"), 400, "invalid_value")
    assert_error(invoke("GET", "/planets/p1/tags/history"), 404, "not_found")
    assert invoke("GET", "/comments/m1/tags/history", query={"limit": 0}).status == 400
