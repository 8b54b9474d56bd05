"""POST /{kind}/tags/bulk and GET /bulk-jobs/{id}: inline results up to 100 objects, jobs beyond, driven by the
command queue (moto SQS) through the command consumer's real handler; retries of the request and of the queue's
messages apply nothing twice."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.command_consumer import app as consumer
from tags_core.store import queue
from tags_tools.local.stream_poller import StreamPoller
from tests.api.test_command_queue import sqs_record
from tests.helpers import REGION, Repository, assert_error, attach, db, new_group, new_tag

Messages = list[dict[str, Any]]


@pytest.fixture
def command_queue(table: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], Messages]]:
    """The command queue in moto; returns receive(): every message queued so far (each once, then deleted)."""
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="tags-commands")["QueueUrl"]
    monkeypatch.setenv("COMMAND_QUEUE_URL", url)
    db.reset()
    queue.reset()

    def receive() -> Messages:
        out: Messages = []
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           AttributeNames=["All"]).get("Messages", [])
            if not messages:
                return out
            for message in messages:
                out.append(sqs_record(message["Body"], message["MessageId"], message["ReceiptHandle"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    yield receive
    queue.reset()


def consume(records: Messages) -> None:
    """The command consumer over the records, 10 a batch as the template's event source sends them."""
    for start in range(0, len(records), 10):
        result = consumer.lambda_handler({"Records": records[start:start + 10]}, None)
        assert result == {"batchItemFailures": []}


def usage(tag_id: str, kind: str = "conversation") -> int:
    tag = Repository().get_tag("acme", tag_id, consistent=True)
    assert tag is not None
    return int(tag["usage"][kind])


def objects(n: int, prefix: str = "c-") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def test_up_to_100_objects_answer_inline(invoke: Any, tenant: Any) -> None:
    old = invoke("POST", "/tags", body={"name": "Old"}).data
    for object_id in ("c-0", "c-1"):
        assert invoke("POST", f"/conversations/{object_id}/tags", body={"tag_ids": [old["id"]]}).status == 200
    assert invoke("POST", "/conversations/c-2/tags", body={"tags": ["Hot"]}).status == 200

    answer = invoke("POST", "/conversations/tags/bulk",
                    body={"objects": objects(100), "add": ["Hot"], "remove": [old["id"]]})
    assert answer.status == 200, answer.json
    statuses = Counter(r["status"] for r in answer.data)
    assert statuses == {"changed": 99, "unchanged": 1}, "c-2 had Hot already"
    assert [r["object_id"] for r in answer.data] == objects(100), "one result per object, in order"
    hot = Repository().find_tag_ids_by_names("acme", ["Hot"])["hot"]
    assert usage(hot) == 100 and usage(old["id"]) == 0, "usage counts exact"
    tag_set = Repository().get_tag_set("acme", "conversation", "c-0") or {}
    assert list(tag_set["tags"]) == [hot] and tag_set["version"] == 2, "add and remove in one write"
    assert tag_set["last_source"] == "bulk" and tag_set["updated_by"] == tenant.write_key_id

    again = invoke("POST", "/conversations/tags/bulk", body={"objects": ["c-0", "c-5"], "add": ["hot"]})
    assert [r["status"] for r in again.data] == ["unchanged", "unchanged"]
    assert usage(hot) == 100


def test_one_object_failing_fails_alone_inline(invoke: Any) -> None:
    full = {"tags": [f"t{n}" for n in range(50)]}
    assert invoke("POST", "/customers/u-full/tags", body=full).status == 200
    assert invoke("POST", "/customers/u-full/tags", body={"tags": [f"s{n}" for n in range(50)]}).status == 200
    answer = invoke("POST", "/customers/tags/bulk", body={"objects": ["u-1", "u-full", "u-2"], "add": ["New"]})
    assert answer.status == 200
    assert [r["status"] for r in answer.data] == ["changed", "failed", "changed"]
    assert answer.data[1]["errors"][0]["code"] == "too_many_tags"
    new = Repository().find_tag_ids_by_names("acme", ["New"])["new"]
    assert usage(new, "customer") == 2


def test_each_object_spends_its_own_rate_limit(invoke: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bulk is no way around the per key and object limit: an object whose budget is spent fails alone."""
    monkeypatch.setenv("RATE_LIMIT_WRITES", "2")
    monkeypatch.setenv("RATE_LIMIT_WINDOW_SECONDS", "3600")
    db.reset()
    for name in ("a", "b"):
        assert invoke("POST", "/conversations/busy/tags", body={"tags": [name]}).status == 200
    answer = invoke("POST", "/conversations/tags/bulk", body={"objects": ["calm", "busy"], "add": ["c"]})
    assert [r["status"] for r in answer.data] == ["changed", "failed"]
    assert answer.data[1]["errors"][0]["code"] == "rate_limited"


def test_the_tenant_bulk_budget(invoke: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BULK_OBJECTS_PER_WINDOW", "150")
    db.reset()
    assert invoke("POST", "/conversations/tags/bulk", body={"objects": objects(100), "add": ["x"]}).status == 200
    refused = invoke("POST", "/conversations/tags/bulk", body={"objects": objects(51, "d-"), "add": ["x"]})
    assert refused.status == 429 and refused.error_codes == ["rate_limited"]
    assert int(refused.headers["Retry-After"]) >= 1
    assert Repository().get_tag_set("acme", "conversation", "d-0") is None, "nothing written"
    assert invoke("POST", "/conversations/tags/bulk", body={"objects": objects(50, "d-"), "add": ["x"]}).status == 200


@pytest.mark.parametrize("body", [
    {"objects": [], "add": ["x"]},
    {"objects": objects(1001), "add": ["x"]},
    {"objects": ["c-1"]},
    {"objects": ["c-1"], "add": [], "remove": []},
    {"objects": ["c 1", "c-2"], "add": ["x"]},
    {"objects": ["c-1", "c-1"], "add": ["x"]},
    {"objects": ["c-1"], "add": ["x"], "remove": ["X"]},
    {"objects": ["c-1"], "add": ["01ARZ3NDEKTSV4RRFFQ69G5FAV"]},
    {"objects": ["c-1"], "add": ["x" * 300]},
    {"objects": ["c-1"], "add": ["x"], "extra": 1},
    {"objects": ["c-1"], "add": ["x"], "remove": ["bad\u0000name"]},
    {"objects": ["c-1"], "add": ["x"], "remove": ["   "]},
])
def test_invalid_requests_write_nothing(invoke: Any, command_queue: Callable[[], Messages],
                                        body: dict[str, Any]) -> None:
    answer = invoke("POST", "/conversations/tags/bulk", body=body)
    assert answer.status == 400, answer.json
    assert answer.json["errors"], "the error envelope says why"
    assert Repository().get_tag_set("acme", "conversation", "c-1") is None
    assert Repository().find_tag_ids_by_names("acme", ["x"]) == {}
    assert command_queue() == []


def test_a_tag_not_applicable_to_the_kind_is_refused_up_front(invoke: Any) -> None:
    lead = invoke("POST", "/tags", body={"name": "Lead", "applies_to": {"conversation": True, "customer": False,
                                                                        "comment": False}}).data
    answer = invoke("POST", "/customers/tags/bulk", body={"objects": ["u-1"], "add": [lead["id"]]})
    assert answer.status == 400 and answer.error_codes == ["not_applicable"]
    assert invoke("POST", "/things/tags/bulk", body={"objects": ["u-1"], "add": ["x"]}).status == 404


def test_group_limits_apply_to_each_object(invoke: Any) -> None:
    """An exclusive group holds under bulk as under attach: 409 group_limit is that object's result, and
    replace_in_group swaps in the object's own write."""
    group = new_group(invoke, "Priority", max_per_object=1)
    high, low = (new_tag(invoke, name, group_id=group["id"]) for name in ("High", "Low"))
    assert attach(invoke, "conversations", "c-1", ids=[high["id"]]).status == 200
    answer = invoke("POST", "/conversations/tags/bulk", body={"objects": ["c-1", "c-2"], "add": [low["id"]]})
    assert [r["status"] for r in answer.data] == ["failed", "changed"], answer.json
    assert answer.data[0]["errors"][0]["code"] == "group_limit"
    swapped = invoke("POST", "/conversations/tags/bulk",
                     body={"objects": ["c-1", "c-2"], "add": ["low"], "replace_in_group": True})
    assert [r["status"] for r in swapped.data] == ["changed", "unchanged"], swapped.json
    for object_id in ("c-1", "c-2"):
        assert [t["name"] for t in invoke("GET", f"/conversations/{object_id}/tags").data] == ["Low"]
    assert usage(high["id"]) == 0 and usage(low["id"]) == 2


def test_archived_tags_are_refused(invoke: Any) -> None:
    old = new_tag(invoke, "Old")
    assert invoke("POST", f"/tags/{old['id']}/archive").status == 200
    by_id = invoke("POST", "/conversations/tags/bulk", body={"objects": ["c-1"], "add": [old["id"]]})
    assert_error(by_id, 400, "tag_archived", "add")
    assert Repository().get_tag_set("acme", "conversation", "c-1") is None, "nothing written"
    by_name = invoke("POST", "/conversations/tags/bulk", body={"objects": ["c-1", "c-2"], "add": ["OLD", "New"]})
    assert [(r["status"], r["errors"][0]["code"]) for r in by_name.data] == [("failed", "tag_archived")] * 2
    assert Repository().get_tag_set("acme", "conversation", "c-1") is None, "the object's write is all or nothing"
    assert Repository().find_tag_ids_by_names("acme", ["Old"]) == {"old": old["id"]}, "never re-created by name"


def test_a_job_of_1000_objects(invoke: Any, tenant: Any, command_queue: Callable[[], Messages],
                               stream: StreamPoller, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events_file = tmp_path / "events.jsonl"
    monkeypatch.setenv("EVENTS_FILE", str(events_file))
    db.reset()
    old = invoke("POST", "/tags", body={"name": "Old"}).data
    for object_id in ("c-0", "c-1", "c-2"):
        invoke("POST", f"/conversations/{object_id}/tags", body={"tag_ids": [old["id"]]})
    invoke("POST", "/conversations/c-3/tags", body={"tags": ["Hot"]})  # already has it: unchanged
    invoke("POST", "/conversations/c-999/tags", body={"tags": [f"t{n}" for n in range(50)]})
    invoke("POST", "/conversations/c-999/tags", body={"tags": [f"s{n}" for n in range(50)]})  # full: fails
    stream.drain()
    events_file.write_text("")

    body = {"objects": objects(1000), "add": ["Hot"], "remove": ["old"]}
    headers = {"Idempotency-Key": "bulk-1000"}
    accepted = invoke("POST", "/conversations/tags/bulk", body=body, headers=headers)
    assert accepted.status == 202, accepted.json
    job = accepted.data
    assert job["object"] == "bulk_job" and job["status"] == "queued"
    assert job["progress"] == {"total": 1000, "changed": 0, "unchanged": 0, "failed": 0}

    retried = invoke("POST", "/conversations/tags/bulk", body=body, headers=headers)
    assert retried.status == 202 and retried.data["id"] == job["id"], "the same job"
    records = command_queue()
    assert len(records) == 40, "one job, its objects in chunks of 25: the retry queued nothing"

    consume(records[:20])
    half = invoke("GET", f"/bulk-jobs/{job['id']}").data
    assert half["status"] == "running" and sum(half["progress"][k] for k in ("changed", "unchanged", "failed")) == 500

    consume(records[20:])
    consume(records)  # every message delivered twice
    done = invoke("GET", f"/bulk-jobs/{job['id']}")
    assert done.status == 200
    assert done.data["status"] == "done" and done.data["finished_at"]
    assert done.data["progress"] == {"total": 1000, "changed": 998, "unchanged": 1, "failed": 1}
    assert [f["object_id"] for f in done.data["failures"]] == ["c-999"]
    assert done.data["failures"][0]["errors"][0]["code"] == "too_many_tags"

    hot = Repository().find_tag_ids_by_names("acme", ["Hot"])["hot"]
    assert usage(hot) == 999 and usage(old["id"]) == 0, "usage counts exact"
    assert (Repository().get_tag_set("acme", "conversation", "c-500") or {})["version"] == 1

    stream.drain()
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    attached = Counter(e["detail"]["object_id"] for e in events if e["detail-type"] == "tag.attached")
    detached = Counter(e["detail"]["object_id"] for e in events if e["detail-type"] == "tag.detached")
    assert len(attached) == 998 and set(attached.values()) == {1}, "one tag.attached per object changed"
    assert set(detached) == {"c-0", "c-1", "c-2"} and set(detached.values()) == {1}
    assert {(e["detail"]["source"], e["detail"]["actor"]) for e in events if e["detail"].get("object_id")} == {
        ("bulk", tenant.write_key_id)}


def test_a_chunk_delivered_twice_at_once_applies_once(invoke: Any, command_queue: Callable[[], Messages]) -> None:
    """Two deliveries of one message in one batch (a redelivery racing the first): each object changes once."""
    accepted = invoke("POST", "/customers/tags/bulk", body={"objects": objects(101, "u-"), "add": ["Twice"]})
    assert accepted.status == 202
    records = command_queue()
    first = records[0]
    duplicate = sqs_record(first["body"], first["messageId"] + "-again")
    consume([first, duplicate, *records[1:]])
    job = invoke("GET", f"/bulk-jobs/{accepted.data['id']}").data
    assert job["progress"] == {"total": 101, "changed": 101, "unchanged": 0, "failed": 0}
    twice = Repository().find_tag_ids_by_names("acme", ["Twice"])["twice"]
    assert usage(twice, "customer") == 101


def test_jobs_are_per_tenant(invoke: Any, other_tenant: Any, command_queue: Callable[[], Messages]) -> None:
    accepted = invoke("POST", "/comments/tags/bulk", body={"objects": objects(101, "m-"), "add": ["x"]})
    assert accepted.status == 202
    assert invoke("GET", f"/bulk-jobs/{accepted.data['id']}", tenant=other_tenant).status == 404
    assert invoke("GET", "/bulk-jobs/not-an-id").status == 404
    assert invoke("GET", f"/bulk-jobs/{accepted.data['id']}", role="read").status == 200


def test_a_job_that_cannot_be_queued_answers_503_and_leaves_no_job(invoke: Any, monkeypatch: pytest.MonkeyPatch,
                                                                   command_queue: Callable[[], Messages]) -> None:
    monkeypatch.setenv("COMMAND_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/missing")
    db.reset()
    queue.reset()
    answer = invoke("POST", "/conversations/tags/bulk", body={"objects": objects(101), "add": ["x"]})
    assert answer.status == 503
    assert Repository().find_tag_ids_by_names("acme", ["x"]) == {}
