"""The command queue's consumer: attach/detach commands from other systems, a bad message failing alone.

The consumer's real lambda_handler gets SQS events shaped as Lambda sends them; the last test runs it against a
(moto) queue configured like the template's, redrive policy included, as Lambda's SQS poller would.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import boto3
import pytest

from functions.command_consumer import app as consumer
from tags_tools import template as tpl
from tags_tools.local.invokers import LambdaContext
from tests.helpers import Repository, db

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:tags-commands"
TEMPLATE = tpl.load_template()
UNKNOWN_ID = "01ZZZZZZZZZZZZZZZZZZZZZZZZ"  # looks like a tag id, is none


def sqs_record(body: str | dict[str, Any], message_id: str | None = None, receipt: str | None = None,
               receive_count: int = 1) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": receipt or uuid.uuid4().hex,
        "body": text,
        "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "1732442400000",
                       "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1732442400001"},
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(text.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }


def failed_ids(result: dict[str, Any]) -> list[str]:
    return sorted(f["itemIdentifier"] for f in result["batchItemFailures"])


def tag_set(kind: str, object_id: str) -> dict[str, Any]:
    return Repository().get_tag_set("acme", kind, object_id) or {}


def usage(tag_id: str, kind: str) -> int:
    tag = Repository().get_tag("acme", tag_id, consistent=True)
    assert tag is not None
    return int(tag["usage"][kind])


@pytest.fixture
def tags(invoke: Any, tenant: Any) -> dict[str, dict[str, Any]]:
    """Lead (conversations only) and Cold, attached to customer u-1."""
    lead = invoke("POST", "/tags", body={"name": "Lead", "applies_to": {"conversation": True, "customer": False,
                                                                        "comment": False}}).data
    cold = invoke("POST", "/tags", body={"name": "Cold"}).data
    assert invoke("POST", "/customers/u-1/tags", body={"tag_ids": [cold["id"]]}).status == 200
    return {"lead": lead, "cold": cold}


def test_good_and_bad_messages_in_one_batch(tags: dict[str, dict[str, Any]]) -> None:
    lead, cold = tags["lead"], tags["cold"]
    good = [
        sqs_record({"tenant": "acme", "kind": "conversations", "object_id": "c-1", "add": ["Hot Lead", lead["id"]]},
                   "good-add"),
        sqs_record({"tenant": "acme", "kind": "customer", "object_id": "u-1", "remove": ["cold"]}, "good-remove"),
    ]
    bad = [
        sqs_record("{not json", "bad-json"),
        sqs_record({"tenant": "nobody", "kind": "conversations", "object_id": "c-1", "add": ["X"]}, "bad-tenant"),
        sqs_record({"tenant": "acme", "kind": "tickets", "object_id": "c-1", "add": ["X"]}, "bad-kind"),
        sqs_record({"tenant": "acme", "kind": "conversations", "object_id": "c 1", "add": ["X"]}, "bad-object"),
        sqs_record({"tenant": "acme", "kind": "conversations", "object_id": "c-1", "add": [UNKNOWN_ID]},
                   "bad-unknown-id"),
        sqs_record({"tenant": "acme", "kind": "comments", "object_id": "m-1", "add": [lead["id"]]},
                   "bad-not-applicable"),
        sqs_record({"tenant": "acme", "kind": "conversations", "object_id": "c-1", "add": ["X"], "extra": 1},
                   "bad-field"),
        sqs_record({"tenant": "acme", "kind": "conversations", "object_id": "c-1"}, "bad-empty"),
        sqs_record({"tenant": "acme", "kind": "conversations", "object_id": "c-1",
                    "add": [f"t{n}" for n in range(51)]}, "bad-too-many"),
    ]
    batch = [bad[0], good[0], *bad[1:5], good[1], *bad[5:]]

    result = consumer.lambda_handler({"Records": batch}, LambdaContext(function_name="CommandConsumerFunction"))
    assert failed_ids(result) == sorted(r["messageId"] for r in bad), "only the bad ones fail"

    conversation = tag_set("conversation", "c-1")
    names = {t["name"]: t for t in Repository().get_tags("acme", list(conversation["tags"])).values()}
    assert set(names) == {"Lead", "Hot Lead"}, "names are created when missing, ids attached"
    assert conversation["updated_by"] == "queue:good-add", "the actor is the message"
    assert tag_set("customer", "u-1")["tags"] == {}, "removed by name, whatever its case"
    assert usage(lead["id"], "conversation") == 1
    assert usage(names["Hot Lead"]["id"], "conversation") == 1
    assert usage(cold["id"], "customer") == 0
    assert Repository().get_tag_set("acme", "comment", "m-1") is None
    assert Repository().find_tag_ids_by_names("acme", ["X", "t0"]) == {}, "nothing of a bad message was applied"

    # SQS redelivers the failed ones: still failing. A good one delivered again changes nothing.
    again = consumer.lambda_handler({"Records": [*bad, good[0]]}, None)
    assert failed_ids(again) == sorted(r["messageId"] for r in bad)
    assert tag_set("conversation", "c-1")["version"] == conversation["version"]
    assert usage(lead["id"], "conversation") == 1


def test_add_then_remove_and_by_id(tags: dict[str, dict[str, Any]]) -> None:
    lead = tags["lead"]
    message = {"tenant": "acme", "kind": "conversation", "object_id": "c-2",
               "add": ["Temp", "  Keep  ", lead["id"]], "remove": ["temp", lead["id"], "no such tag"]}
    result = consumer.lambda_handler({"Records": [sqs_record(message, "m")]}, None)
    assert result == {"batchItemFailures": []}
    kept = Repository().get_tags("acme", list(tag_set("conversation", "c-2")["tags"]))
    assert [t["name"] for t in kept.values()] == ["Keep"], "add is applied first, then remove"
    assert usage(lead["id"], "conversation") == 0


def test_removals_beyond_the_rate_limit_wait_for_the_next_window(
        tags: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_WRITES", "2")
    monkeypatch.setenv("RATE_LIMIT_WINDOW_SECONDS", "1")
    db.reset()
    attach = {"tenant": "acme", "kind": "conversations", "object_id": "c-3", "add": ["a", "b", "c"]}
    assert consumer.lambda_handler({"Records": [sqs_record(attach, "attach")]}, None)["batchItemFailures"] == []
    detach = {"tenant": "acme", "kind": "conversations", "object_id": "c-3", "remove": ["a", "b", "c"]}

    # Without time to wait (no Lambda context), the third write is refused: the message fails, keeping progress.
    result = consumer.lambda_handler({"Records": [sqs_record(detach, "detach")]}, None)
    assert failed_ids(result) == ["detach"]
    assert len(tag_set("conversation", "c-3")["tags"]) == 1

    # With a Lambda context (time left), a write waits for the next window instead.
    attach["object_id"] = detach["object_id"] = "c-4"
    consumer.lambda_handler({"Records": [sqs_record(attach, "attach-4")]}, None)
    context = LambdaContext(function_name="CommandConsumerFunction", timeout_seconds=30)
    result = consumer.lambda_handler({"Records": [sqs_record(detach, "detach-4")]}, context)
    assert result == {"batchItemFailures": []}
    assert tag_set("conversation", "c-4")["tags"] == {}


def test_template_wires_the_queue_its_dead_letter_queue_and_the_consumer() -> None:
    resources = TEMPLATE["Resources"]
    queue = resources["CommandQueue"]["Properties"]
    function = resources["CommandConsumerFunction"]["Properties"]
    (event,) = function["Events"].values()
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["CommandQueue", "Arn"]}
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["Properties"]["BatchSize"] == 10
    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"], "Lambda's advice for SQS event sources"
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["CommandDeadLetterQueue", "Arn"]}
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 5
    assert resources["CommandDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] >= 7 * 24 * 3600
    spec = tpl.functions(TEMPLATE)["CommandConsumerFunction"]
    assert {a for a in spec.actions if a.startswith("sqs:")} == {
        "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"}


def test_a_bad_message_ends_in_the_dead_letter_queue(tags: dict[str, dict[str, Any]]) -> None:
    """Lambda's SQS poller, by hand: receive, invoke, delete what did not fail; the redrive policy does the rest."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    properties = TEMPLATE["Resources"]["CommandQueue"]["Properties"]
    dlq_url = sqs.create_queue(QueueName="commands-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": properties["RedrivePolicy"]["maxReceiveCount"]}
    queue_url = sqs.create_queue(QueueName="commands", Attributes={
        "VisibilityTimeout": "0", "RedrivePolicy": json.dumps(redrive)})["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(
        {"tenant": "acme", "kind": "conversations", "object_id": "c-5", "add": ["Queued"]}))
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(
        {"tenant": "acme", "kind": "conversations", "object_id": "c-5", "add": [UNKNOWN_ID]}))

    invocations = 0
    for _ in range(20):
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                       AttributeNames=["All"]).get("Messages", [])
        if not messages:
            break
        invocations += 1
        event = {"Records": [sqs_record(m["Body"], m["MessageId"], m["ReceiptHandle"],
                                        int(m["Attributes"]["ApproximateReceiveCount"])) for m in messages]}
        failed = set(failed_ids(consumer.lambda_handler(event, None)))
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    assert invocations == redrive["maxReceiveCount"], "received maxReceiveCount times, then moved"
    dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"])["add"] for m in dead] == [[UNKNOWN_ID]]
    queued = Repository().find_tag_ids_by_names("acme", ["Queued"])
    assert list(tag_set("conversation", "c-5")["tags"]) == list(queued.values())
    assert usage(next(iter(queued.values())), "conversation") == 1, "the good message was applied once"
