"""Change events: every API change, read back by an SQS queue subscribed to a (moto) EventBridge bus by a rule.

The table's stream is drained by the local StreamPoller into the stream processor's real lambda_handler, as
Lambda's event source would. Also: a publish failure fails only its record and is published on retry; the
clean-up after deleting a tag with 500 attachments.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.stream_processor import app as stream_app
from tags_tools.local.stream_poller import StreamPoller
from tests.helpers import REGION, RFC3339_MILLIS, Principal, Repository, change_events, codec, create_api_key, db

BUS = "tags-test-bus"

Received = list[tuple[str, dict[str, Any]]]


@dataclass
class Subscriber:
    """An SQS queue subscribed to the bus by a rule on the service's source (what a consumer would set up)."""

    queue_url: str
    sqs: Any
    envelopes: list[dict[str, Any]] = field(default_factory=list)

    def receive(self) -> Received:
        """Everything delivered since the last call, as (detail-type, detail), in arrival order."""
        out: Received = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return out
            for message in messages:
                envelope = json.loads(message["Body"])
                self.envelopes.append(envelope)
                out.append((envelope["detail-type"], envelope["detail"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def streams_env(table: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")  # moto's DynamoDB Streams need it
    change_events.reset()
    yield
    change_events.reset()


@pytest.fixture
def subscriber(streams_env: None, monkeypatch: pytest.MonkeyPatch) -> Subscriber:
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    db.reset()
    bridge = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    bridge.create_event_bus(Name=BUS)
    queue_url = sqs.create_queue(QueueName="tag-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = json.dumps({"source": [change_events.SOURCE]})
    bridge.put_rule(Name="all-tag-events", EventBusName=BUS, EventPattern=pattern)
    bridge.put_targets(Rule="all-tag-events", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return Subscriber(queue_url=queue_url, sqs=sqs)


@pytest.fixture
def settle(stream: StreamPoller, subscriber: Subscriber) -> Callable[[], Received]:
    """Run the stream processor over every DynamoDB stream record written so far; return the change events delivered
    meanwhile."""

    def run() -> Received:
        stream.drain()
        assert not stream.pending, "stream records left unprocessed"
        return subscriber.receive()

    return run


def types(received: Received) -> list[str]:
    return sorted(t for t, _ in received)


def only(received: Received, detail_type: str) -> dict[str, Any]:
    matching = [d for t, d in received if t == detail_type]
    assert len(matching) == 1, f"expected one {detail_type}, got {received}"
    return matching[0]


def common(detail: dict[str, Any]) -> dict[str, Any]:
    """Check and strip the fields every detail has; what is left is specific to the event."""
    rest = dict(detail)
    assert re.fullmatch(r"\d+-\d+", rest.pop("event_id"))
    assert RFC3339_MILLIS.match(rest.pop("time"))
    return rest


# --- each API change → its events --------------------------------------------------------------------------------

def test_tag_lifecycle(invoke: Any, tenant: Any, settle: Callable[[], Received]) -> None:
    assert settle() == [], "tenants and keys are not events"
    created = invoke("POST", "/tags", body={"name": "Hot Lead", "color": "#FF8800"})
    assert created.status == 201
    tag = created.data
    received = settle()
    assert types(received) == ["tag.created"]
    detail = only(received, "tag.created")
    assert detail["time"] == tag["created_at"]
    assert common(detail) == {
        "tenant": "acme", "tag_id": tag["id"], "actor": tenant.write_key_id,
        "tag": {"name": "Hot Lead", "type": "tag", "group_id": None, "color": "#ff8800", "description": None,
                "applies_to": {"conversation": True, "customer": True, "comment": True}},
    }

    editor_id, _ = create_api_key("acme", "write", "editor")
    editor = Principal(tenant="acme", role="write", key_id=editor_id)
    patched = invoke("PATCH", f"/tags/{tag['id']}", body={"name": "Warm Lead", "description": "Inbound"},
                     principal=editor)
    assert patched.status == 200
    received = settle()
    assert types(received) == ["tag.updated"]
    detail = only(received, "tag.updated")
    assert detail["time"] == patched.data["updated_at"]
    assert common(detail) == {
        "tenant": "acme", "tag_id": tag["id"], "actor": editor_id,
        "changes": {"name": {"old": "Hot Lead", "new": "Warm Lead"}, "description": {"old": None, "new": "Inbound"}},
    }

    # A change to nothing, and a refused change, write nothing: no event.
    assert invoke("PATCH", f"/tags/{tag['id']}", body={"name": "Warm Lead"}).status == 200
    assert invoke("POST", "/tags", body={"name": "warm lead"}).status == 409
    assert settle() == []

    assert invoke("DELETE", f"/tags/{tag['id']}").status == 200
    received = settle()
    assert types(received) == ["tag.deleted"]
    # The stream's REMOVE has only the old image; the delete records its author beside it (a deletion item).
    assert common(only(received, "tag.deleted")) == {"tenant": "acme", "tag_id": tag["id"], "name": "Warm Lead",
                                                      "actor": tenant.write_key_id}


def test_attach_detach_and_replace(invoke: Any, tenant: Any, settle: Callable[[], Received]) -> None:
    lead = invoke("POST", "/tags", body={"name": "Lead"}).data
    settle()

    attached = invoke("POST", "/conversations/c-1/tags", body={"tags": ["Lead", "VIP"]})
    assert attached.status == 200
    vip = next(t for t in attached.data if t["name"] == "VIP")
    received = settle()
    # Lead's usage moved (no tag.updated for that); VIP was created by the attach.
    assert types(received) == ["tag.attached", "tag.attached", "tag.created"]
    assert only(received, "tag.created")["tag_id"] == vip["id"]
    assert only(received, "tag.created")["actor"] == tenant.write_key_id
    attached_details = sorted((common(d) for t, d in received if t == "tag.attached"), key=lambda d: d["tag_id"])
    assert attached_details == sorted([
        {"tenant": "acme", "tag_id": tag_id, "kind": "conversation", "object_id": "c-1",
         "actor": tenant.write_key_id, "source": "api"} for tag_id in (lead["id"], vip["id"])],
        key=lambda d: d["tag_id"])

    # Attaching what is attached already changes nothing.
    assert invoke("POST", "/conversations/c-1/tags", body={"tag_ids": [lead["id"]]}).status == 200
    assert settle() == []

    assert invoke("DELETE", f"/conversations/c-1/tags/{lead['id']}").status == 200
    received = settle()
    assert types(received) == ["tag.detached"]
    assert common(only(received, "tag.detached")) == {"tenant": "acme", "tag_id": lead["id"], "kind": "conversation",
                                                      "object_id": "c-1", "actor": tenant.write_key_id,
                                                      "source": "api"}

    replaced = invoke("PUT", "/conversations/c-1/tags", body={"tag_ids": [lead["id"]]})
    assert replaced.status == 200
    received = settle()
    assert [(t, d["tag_id"]) for t, d in received] == [("tag.detached", vip["id"]), ("tag.attached", lead["id"])]


def test_group_lifecycle_and_ungroup(invoke: Any, tenant: Any, settle: Callable[[], Received]) -> None:
    group = invoke("POST", "/tag-groups", body={"name": "Sales"}).data
    received = settle()
    assert types(received) == ["tag_group.created"]
    assert common(only(received, "tag_group.created")) == {
        "tenant": "acme", "group_id": group["id"], "actor": tenant.write_key_id,
        "group": {"name": "Sales", "description": None}}

    patched = invoke("PATCH", f"/tag-groups/{group['id']}", body={"description": "Pipeline"})
    assert patched.status == 200
    received = settle()
    assert common(only(received, "tag_group.updated")) == {
        "tenant": "acme", "group_id": group["id"], "actor": tenant.write_key_id,
        "changes": {"description": {"old": None, "new": "Pipeline"}}}

    tag = invoke("POST", "/tags", body={"name": "Deal", "group_id": group["id"]}).data
    assert types(settle()) == ["tag.created"], "the group's tag count is not a group change"

    assert invoke("DELETE", f"/tag-groups/{group['id']}", query={"ungroup": "true"}).status == 200
    received = settle()
    assert types(received) == ["tag.updated", "tag_group.deleted"]
    assert only(received, "tag.updated")["changes"] == {"group_id": {"old": group["id"], "new": None}}
    assert only(received, "tag.updated")["tag_id"] == tag["id"]
    assert common(only(received, "tag_group.deleted")) == {"tenant": "acme", "group_id": group["id"],
                                                           "name": "Sales", "actor": tenant.write_key_id}


def test_merge(invoke: Any, tenant: Any, settle: Callable[[], Received]) -> None:
    source = invoke("POST", "/tags", body={"name": "Hot"}).data
    into = invoke("POST", "/tags", body={"name": "Hot Lead"}).data
    invoke("POST", "/conversations/c-1/tags", body={"tag_ids": [source["id"]]})
    invoke("POST", "/customers/u-1/tags", body={"tag_ids": [source["id"], into["id"]]})
    settle()  # the reverse index the merge walks follows the stream

    merged = invoke("POST", f"/tags/{source['id']}/merge", body={"into": into["id"]})
    assert merged.status == 200, merged.json
    received = settle()
    moves = sorted((t, d["tag_id"], d["object_id"]) for t, d in received if t in ("tag.attached", "tag.detached"))
    assert moves == sorted([("tag.detached", source["id"], "c-1"), ("tag.attached", into["id"], "c-1"),
                            ("tag.detached", source["id"], "u-1")])
    assert types(received) == ["tag.attached", "tag.detached", "tag.detached", "tag.merged"], (
        "marking, pinning and aliasing are not tag changes")
    assert {d["source"] for t, d in received if t in ("tag.attached", "tag.detached")} == {"merge"}, (
        "a merge's move is stamped as one (the set's last_source)")
    assert common(only(received, "tag.merged")) == {"tenant": "acme", "tag_id": source["id"], "into": into["id"],
                                                    "name": "Hot", "actor": tenant.write_key_id}
    assert {d["actor"] for t, d in received if t in ("tag.attached", "tag.detached")} == {tenant.write_key_id}


def test_a_retried_post_publishes_once(invoke: Any, settle: Callable[[], Received]) -> None:
    headers = {"Idempotency-Key": "create-once"}
    first = invoke("POST", "/tags", body={"name": "Once"}, headers=headers)
    again = invoke("POST", "/tags", body={"name": "Once"}, headers=headers)
    assert first.status == again.status == 201
    assert types(settle()) == ["tag.created"]


def test_event_envelope_and_ids(invoke: Any, settle: Callable[[], Received], subscriber: Subscriber) -> None:
    invoke("POST", "/conversations/c-9/tags", body={"tags": ["A", "B", "C"]})
    received = settle()
    assert len(received) == 6
    ids = [d["event_id"] for _, d in received]
    assert len(set(ids)) == len(ids), "one id per event"
    for envelope in subscriber.envelopes:
        assert envelope["source"] == "tags.service"
        assert envelope["time"] == envelope["detail"]["time"][:19] + "Z", "EventBridge's time is the write's"


# --- a failed publish fails its record alone, and is published on retry -----------------------------------------

class FlakyBus:
    """Wraps the real EventBridge client: refuses the entries that mention `refuse` while `failing` is set."""

    def __init__(self, real: Any, refuse: str) -> None:
        self.real = real
        self.refuse = refuse
        self.failing = True
        self.calls = 0

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        refused = [self.failing and self.refuse in e["Detail"] for e in Entries]
        accepted = [e for e, no in zip(Entries, refused, strict=True) if not no]
        results = iter(self.real.put_events(Entries=accepted)["Entries"] if accepted else [])
        entries = [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"} if no else next(results)
                   for no in refused]
        return {"FailedEntryCount": sum(refused), "Entries": entries}


def test_a_publish_failure_fails_only_its_record_and_is_published_on_retry(
        invoke: Any, subscriber: Subscriber, streams_env: None, table: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    first = invoke("POST", "/tags", body={"name": "First"}).data
    second = invoke("POST", "/tags", body={"name": "Second"}).data
    flaky = FlakyBus(change_events.client(), refuse=first["id"])
    monkeypatch.setattr(change_events, "client", lambda: flaky)
    monkeypatch.setattr(change_events.time, "sleep", lambda _: None)

    results: list[dict[str, Any]] = []
    batches: list[list[dict[str, Any]]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        batches.append(event["Records"])
        results.append(stream_app.lambda_handler(event, context))
        return results[-1]

    poller = StreamPoller(table, handler)
    poller.poll()
    (batch,) = batches
    tag_records = {r["dynamodb"]["Keys"]["SK"]["S"]: r["dynamodb"]["SequenceNumber"] for r in batch
                   if r["dynamodb"]["Keys"]["SK"]["S"].startswith("TAG#")}
    assert results[0] == {"batchItemFailures": [{"itemIdentifier": tag_records[f"TAG#{first['id']}"]}]}
    assert flaky.calls >= change_events.PUT_ATTEMPTS, "refused entries are sent again before the record fails"
    first_round = subscriber.receive()
    assert [(t, d["tag_id"]) for t, d in first_round] == [("tag.created", second["id"])]

    flaky.failing = False
    poller.poll()  # Lambda's retry: from the failed record on
    assert results[-1] == {"batchItemFailures": []}
    retried = subscriber.receive()
    assert [(t, d["tag_id"]) for t, d in retried] == [("tag.created", first["id"]), ("tag.created", second["id"])]
    # The records after the failed one ran again: their events come again, with the same ids (de-duplicable).
    assert retried[1][1]["event_id"] == first_round[0][1]["event_id"]


def test_later_records_of_a_failed_item_wait_for_its_retry(
        invoke: Any, subscriber: Subscriber, streams_env: None, table: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    tag = invoke("POST", "/tags", body={"name": "Ordered"}).data
    invoke("PATCH", f"/tags/{tag['id']}", body={"color": "#000000"})
    other = invoke("POST", "/tags", body={"name": "Other"}).data
    monkeypatch.setattr(change_events, "client",
                        lambda: FlakyBus(boto3.client("events", region_name=REGION), tag["id"]))
    monkeypatch.setattr(change_events.time, "sleep", lambda _: None)
    records: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        records.extend(event["Records"])
        results.append(stream_app.lambda_handler(event, context))
        return results[-1]

    StreamPoller(table, handler).poll()
    key = f"TAG#{tag['id']}"
    of_tag = [r["dynamodb"]["SequenceNumber"] for r in records if r["dynamodb"]["Keys"]["SK"]["S"] == key]
    assert len(of_tag) == 2, "created, then updated"
    assert results[0] == {"batchItemFailures": [{"itemIdentifier": s} for s in of_tag]}
    assert [(t, d["tag_id"]) for t, d in subscriber.receive()] == [("tag.created", other["id"])]


# --- clean-up after a deletion ---------------------------------------------------------------------------------

def test_deleting_a_tag_with_500_attachments_leaves_none(
        invoke: Any, tenant: Any, streams_env: None, table: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    events_file = tmp_path / "events.jsonl"
    monkeypatch.delenv("EVENT_BUS_NAME", raising=False)  # the local sink: the log and this file
    monkeypatch.setenv("EVENTS_FILE", str(events_file))
    db.reset()
    tag = invoke("POST", "/tags", body={"name": "Everywhere"}).data
    repo = Repository()
    objects = [f"c-{n:03d}" for n in range(500)]
    # 500 tag sets as write_tag_set stores them, written in batches (moto copies the table on every transaction,
    # so 500 transactions would take minutes), and the usage they add up to.
    sets = [{"PutRequest": {"Item": {"PK": {"S": f"T#acme#O#conversation#{o}"}, "SK": {"S": "SET"}, **codec.to_item({
        "item_type": "tag_set", "tenant": "acme", "kind": "conversation", "object_id": o,
        "tags": {tag["id"]: tag["created_at"]}, "version": 1, "updated_at": tag["created_at"],
        "updated_by": tenant.write_key_id})}}} for o in objects]
    client = db.client()
    for start in range(0, len(sets), 25):
        assert not client.batch_write_item(RequestItems={table: sets[start:start + 25]}).get("UnprocessedItems")
    client.update_item(TableName=table, Key={"PK": {"S": "T#acme"}, "SK": {"S": f"TAG#{tag['id']}"}},
                       UpdateExpression="SET #usage.#kind = :n", ExpressionAttributeValues={":n": {"N": "500"}},
                       ExpressionAttributeNames={"#usage": "usage", "#kind": "conversation"})
    poller = StreamPoller(table, stream_app.lambda_handler, batch_size=100)
    poller.drain()
    assert invoke("GET", f"/tags/{tag['id']}").data["usage"]["conversation"] == 500
    entries, _ = repo.query_reverse("acme", tag["id"], None, 1000, None)
    assert len(entries) == 500
    events_file.write_text("")

    assert invoke("DELETE", f"/tags/{tag['id']}").status == 200
    poller.drain()
    assert not poller.pending

    entries, _ = repo.query_reverse("acme", tag["id"], None, 1000, None)
    assert entries == [], "no reverse index entry is left"
    sets = repo.batch_get([{"PK": {"S": f"T#acme#O#conversation#{o}"}, "SK": {"S": "SET"}} for o in objects])
    assert len(sets) == 500
    assert not [s for s in sets if tag["id"] in (s.get("tags") or {})], "no object lists the tag any more"
    published = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert [e["detail-type"] for e in published] == ["tag.deleted"], "the clean-up itself publishes nothing"


# --- locally: tags-local runs the stream processor; events go to the log and --events-file ------------------------

def test_tags_local_logs_events_and_appends_them_to_the_events_file(
        spawn_tags_local: Callable[..., Any], tmp_path: Path) -> None:
    events_file = tmp_path / "local-events.jsonl"
    local, _ = spawn_tags_local("--port", "0", "--workers", "1", "--events-file", str(events_file))
    assert f"Events: {events_file.resolve()}" in local.logs()
    created = local.request("POST", "/tags", json={"name": "Seen locally"})
    assert created.status == 201
    tag_id = created.json["data"]["id"]
    assert local.request("POST", "/conversations/c-1/tags", json={"tag_ids": [tag_id]}).status == 200

    deadline = time.monotonic() + 20
    published: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        if events_file.exists():
            published = [json.loads(line) for line in events_file.read_text().splitlines()]
            if len(published) >= 2:
                break
        time.sleep(0.2)
    assert [(e["detail-type"], e["detail"]["tag_id"]) for e in published] == [
        ("tag.created", tag_id), ("tag.attached", tag_id)]
    assert published[0]["source"] == "tags.service"
    assert published[0]["detail"]["tenant"] == "demo"
    log = local.logs()
    assert '"detail-type":"tag.created"' in log and tag_id in log, "events are written to the log too"
