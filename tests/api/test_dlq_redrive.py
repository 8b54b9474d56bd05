"""`tags-admin dlq` on moto's SQS: a command that failed into the dead-letter queue is shown with why it failed,
redriven after the fix, and applied exactly once even when it is delivered again (a redrive run twice, or
interrupted between sending and deleting); a stream batch in the failure queue, read from the stream again and
processed once however often it is redriven."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import boto3
import pytest

from functions.command_consumer import app as consumer
from tags_core.domain import accounts, attachments
from tags_core.domain.attachments import list_tag_objects
from tags_core.domain.history import object_history
from tags_core.domain.identity import Principal
from tags_tools import admin
from tests.helpers import Repository


def lambda_record(message: dict[str, Any]) -> dict[str, Any]:
    """An SQS message as Lambda's poller hands it to the function."""
    attributes = {name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
                  for name, value in (message.get("MessageAttributes") or {}).items()}
    return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
            "attributes": {"ApproximateReceiveCount": message["Attributes"]["ApproximateReceiveCount"]},
            "messageAttributes": attributes, "md5OfBody": hashlib.md5(message["Body"].encode()).hexdigest(),
            "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:commands",
            "awsRegion": "us-east-1"}


class Stack:
    """The template's command queue and dead-letter queue (redrive policy included), and Lambda's poller."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.dlq = self.sqs.create_queue(QueueName="commands-dlq")["QueueUrl"]
        dlq_arn = self.sqs.get_queue_attributes(QueueUrl=self.dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"]
        self.queue = self.sqs.create_queue(QueueName="commands", Attributes={
            "VisibilityTimeout": "0",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})})["QueueUrl"]
        monkeypatch.setenv("COMMAND_DLQ_URL", self.dlq)
        monkeypatch.setenv("COMMAND_QUEUE_URL", self.queue)

    def send(self, command: dict[str, Any], **attributes: str) -> None:
        self.sqs.send_message(QueueUrl=self.queue, MessageBody=json.dumps(command), MessageAttributes={
            name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()})

    def poll(self) -> int:
        """Receive, invoke the consumer, delete what did not fail, until the queue is empty; the invocations."""
        invocations = 0
        for _ in range(20):
            messages = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10, AttributeNames=["All"],
                                                MessageAttributeNames=["All"]).get("Messages", [])
            if not messages:
                break
            invocations += 1
            result = consumer.lambda_handler({"Records": [lambda_record(m) for m in messages]}, None)
            failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
            for message in messages:
                if message["MessageId"] not in failed:
                    self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
        return invocations

    def dead(self) -> list[dict[str, Any]]:
        return self.sqs.receive_message(QueueUrl=self.dlq, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                        MessageAttributeNames=["All"]).get("Messages", [])


@pytest.fixture
def stack(table: str, monkeypatch: pytest.MonkeyPatch) -> Stack:
    return Stack(monkeypatch)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()  # not what the consumer logged before
    code = admin.main(["--json", "dlq", *argv])
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def object_tags(tenant: str) -> list[str]:
    repo = Repository()
    tag_set = repo.get_tag_set(tenant, "conversation", "c-1") or {}
    return sorted(t["name"] for t in repo.get_tags(tenant, list(tag_set.get("tags") or {})).values())


def test_a_redriven_command_is_applied_exactly_once(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    command = {"tenant": "newco", "kind": "conversations", "object_id": "c-1", "add": ["Escalated"]}
    stack.send(command)
    stack.send({"tenant": "newco", "kind": "tickets", "object_id": "c-1", "add": ["Escalated"]})
    assert stack.poll() == 5, "both fail (no tenant newco; no kind tickets) until the redrive policy moves them"

    listed = json.loads(run(capsys, "list", "commands"))
    assert sorted(m["summary"].split()[1] for m in listed) == ["conversations/c-1", "tickets/c-1"]
    by_kind = {m["summary"].split()[1]: m["message_id"] for m in listed}
    bad = json.loads(run(capsys, "show", "commands", by_kind["tickets/c-1"]))
    assert bad["why"]["invalid"][0]["field"] == "kind", "a bad message says what is wrong with it"
    good = json.loads(run(capsys, "show", "commands", by_kind["conversations/c-1"]))
    assert good["why"]["invalid"] is None and by_kind["conversations/c-1"] in good["why"]["log"]

    accounts.create_tenant("NewCo", tenant_id="newco")  # the fix
    redriven = json.loads(run(capsys, "redrive", "commands", by_kind["conversations/c-1"]))
    assert redriven == {"message_id": by_kind["conversations/c-1"], "command_id": by_kind["conversations/c-1"],
                        "sent": True}
    assert [json.loads(m["Body"])["kind"] for m in stack.dead()] == ["tickets"], "only the redriven one left"
    stack.poll()
    assert object_tags("newco") == ["Escalated"]

    # Someone detaches it; then the same command arrives again (the redrive ran twice, or was interrupted between
    # sending and deleting): it must not be applied a second time.
    (tag_id,) = Repository().find_tag_ids_by_names("newco", ["Escalated"]).values()
    attachments.remove_object_tag(Principal(tenant="newco", role="write", key_id="k"), "conversation", "c-1", tag_id)
    stack.send(command, command_id=by_kind["conversations/c-1"])
    assert stack.poll() == 1
    assert object_tags("newco") == [], "the command was applied once, not again"
    assert stack.dead() and len(stack.dead()) == 1

    # A new command (another id) with the same body is another command: applied.
    stack.send(command)
    stack.poll()
    assert object_tags("newco") == ["Escalated"]


def test_redrive_all_then_again_changes_nothing_more(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    accounts.create_tenant("NewCo", tenant_id="newco")
    stack.send({"tenant": "newco", "kind": "conversations", "object_id": "c-1", "add": ["01ZZZZZZZZZZZZZZZZZZZZZZZZ"]})
    stack.poll()
    assert len(stack.dead()) == 1
    assert len(run(capsys, "redrive", "commands", "--all").splitlines()) == 1
    assert run(capsys, "redrive", "commands", "--all") == "", "nothing left to redrive"
    assert stack.poll() == 5, "still failing (the tag does not exist): back in the dead-letter queue"
    assert len(stack.dead()) == 1


def test_an_unknown_message_id_is_refused(stack: Stack) -> None:
    with pytest.raises(SystemExit, match="no message"):
        admin.main(["dlq", "show", "commands", "nope"])


def test_a_redriven_stream_batch_is_processed_once_however_often_it_is_redriven(
        stack: Stack, table: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch of the table's stream that failed ten times lands in the failure queue as Lambda's on-failure record
    (where in the stream, not the records). The redrive reads those records again and runs the stream processor's
    code on them: the object's history and the tag's reverse index appear; a second redrive of the same batch adds
    nothing (the entries' keys are the write's version)."""
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    failures = stack.sqs.create_queue(QueueName="stream-failures")["QueueUrl"]
    monkeypatch.setenv("STREAM_FAILURE_QUEUE_URL", failures)
    accounts.create_tenant("NewCo", tenant_id="newco")
    stack.send({"tenant": "newco", "kind": "conversations", "object_id": "c-1", "add": ["Escalated"]})
    stack.poll()  # applied; the stream processor never ran on its records (say it failed ten times)

    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = boto3.client("dynamodb", region_name="us-east-1").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    sequences = [r["dynamodb"]["SequenceNumber"] for r in records]
    failure = json.dumps({"requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11},
                          "DDBStreamBatchInfo": {"shardId": shard, "streamArn": arn, "batchSize": len(records),
                                                 "startSequenceNumber": sequences[0],
                                                 "endSequenceNumber": sequences[-1]}})
    principal = Principal(tenant="newco", role="read", key_id="k")

    def history() -> list[tuple[str, str | None, str]]:
        listing = object_history(principal, "conversation", "c-1", 20, lambda: None)
        return [(e["action"], e["tag"]["name"], e["source"]) for e in listing.items]

    assert history() == []
    for _ in range(2):  # the batch, redriven twice
        stack.sqs.send_message(QueueUrl=failures, MessageBody=failure)
        printed = [json.loads(line) for line in run(capsys, "redrive", "stream", "--all").splitlines()]
        (redriven,) = [line for line in printed if "records" in line]  # beside what the processor logged
        assert redriven["records"] == len(records)
        assert history() == [("attached", "Escalated", "queue")]
    (tag_id,) = Repository().find_tag_ids_by_names("newco", ["Escalated"]).values()
    assert [o["id"] for o in list_tag_objects(principal, tag_id, "conversation", 10, lambda: None).items] == ["c-1"]
    assert stack.sqs.receive_message(QueueUrl=failures).get("Messages") is None
