"""`tags-admin` on the dead-letter queues: list, show (with why it failed), redrive (docs/operations.md).

Two queues hold what the service could not apply:

- `commands`: the CommandDeadLetterQueue. Each message is a command that failed maxReceiveCount times. `show`
  says why as far as the message tells: the command is validated again (a bad message stays bad), else the
  consumer's log has the refusal under its message id. `redrive` sends it to the CommandQueue with the
  `command_id` attribute (the original message id), then deletes it: the consumer applies a command once per
  command id, so a redrive run twice, or a command redriven after it was applied, changes nothing more.
- `stream`: the StreamFailureQueue. Each message describes a batch of the table's stream that failed ten times
  (Lambda's on-failure record: condition, function error, shard and sequence numbers). `redrive` reads those
  records from the stream again (it keeps them 24 hours) and runs the stream processor's own code on them, then
  deletes the message. Every step of that code is idempotent and events keep their ids.

Messages are read with a visibility timeout of 0: looking does not hide them from anyone else.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["QUEUES", "Message", "QueueTool"]

QUEUES = ("commands", "stream")
COMMAND_ID = "command_id"


@dataclass
class Message:
    message_id: str
    receipt: str
    body: str
    receive_count: int
    sent_at: str
    attributes: dict[str, str]

    def summary(self, queue: str) -> str:
        try:
            data = json.loads(self.body)
        except ValueError:
            return "not JSON"
        if queue == "commands" and isinstance(data, dict):
            return (f"{data.get('tenant')} {data.get('kind')}/{data.get('object_id')} add={data.get('add') or []} "
                    f"remove={data.get('remove') or []}")
        if isinstance(data, dict):
            batch = data.get("DDBStreamBatchInfo") or {}
            return (f"{(data.get('requestContext') or {}).get('condition')}: {batch.get('batchSize')} records of "
                    f"shard {batch.get('shardId')}")
        return self.body[:80]


def _message(raw: dict[str, Any]) -> Message:
    attributes = {name: str(value.get("StringValue")) for name, value in (raw.get("MessageAttributes") or {}).items()}
    system = raw.get("Attributes") or {}
    return Message(raw["MessageId"], raw["ReceiptHandle"], raw.get("Body") or "",
                   int(system.get("ApproximateReceiveCount") or 0), str(system.get("SentTimestamp") or ""), attributes)


class QueueTool:
    """The queues of one stack: `urls` maps "commands", "stream" and "command-queue" to queue URLs."""

    def __init__(self, sqs: Any, urls: dict[str, str], streams: Any = None) -> None:
        self.sqs, self.urls, self.streams = sqs, urls, streams

    def messages(self, queue: str, limit: int = 100) -> Iterator[Message]:
        """Up to `limit` messages, each once (SQS may return fewer than it holds on one call)."""
        seen: set[str] = set()
        empty = 0
        while len(seen) < limit and empty < 3:
            batch = self.sqs.receive_message(QueueUrl=self.urls[queue], MaxNumberOfMessages=10, VisibilityTimeout=0,
                                             AttributeNames=["All"], MessageAttributeNames=["All"],
                                             WaitTimeSeconds=0).get("Messages", [])
            fresh = [m for m in batch if m["MessageId"] not in seen]
            empty = empty + 1 if not fresh else 0
            for raw in fresh[: limit - len(seen)]:
                seen.add(raw["MessageId"])
                yield _message(raw)

    def find(self, queue: str, message_id: str) -> Message | None:
        return next((m for m in self.messages(queue, limit=10_000) if m.message_id == message_id), None)

    def why(self, queue: str, message: Message) -> dict[str, Any]:
        """What the message itself says about its failure."""
        if queue == "stream":
            data = json.loads(message.body)
            return {"condition": (data.get("requestContext") or {}).get("condition"),
                    "function_error": (data.get("responseContext") or {}).get("functionError"),
                    "batch": data.get("DDBStreamBatchInfo")}
        from tags_core.errors import DomainError  # noqa: PLC0415
        from tags_core.flows.commands import parse_command  # noqa: PLC0415

        try:
            parse_command(message.body)
        except DomainError as exc:
            return {"invalid": exc.entries()}
        return {"invalid": None, "log": f"the consumer's log: command refused, message_id {message.message_id} "
                                        "(docs/operations.md#dead-letter-queues)"}

    def redrive(self, queue: str, message: Message) -> dict[str, Any]:
        if queue == "commands":
            command_id = message.attributes.get(COMMAND_ID) or message.message_id
            self.sqs.send_message(QueueUrl=self.urls["command-queue"], MessageBody=message.body,
                                  MessageAttributes={COMMAND_ID: {"DataType": "String", "StringValue": command_id}})
            result: dict[str, Any] = {"message_id": message.message_id, "command_id": command_id, "sent": True}
        else:
            result = {"message_id": message.message_id, "records": self._replay(json.loads(message.body))}
        self.sqs.delete_message(QueueUrl=self.urls[queue], ReceiptHandle=message.receipt)
        return result

    def _replay(self, failure: dict[str, Any]) -> int:
        """The failed batch's records, read from the stream again and handled as the stream processor does."""
        from tags_core.flows.stream import handle_record  # noqa: PLC0415

        batch = failure["DDBStreamBatchInfo"]
        iterator = self.streams.get_shard_iterator(
            StreamArn=batch["streamArn"], ShardId=batch["shardId"], ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=batch["startSequenceNumber"])["ShardIterator"]
        last, handled = int(batch["endSequenceNumber"]), 0
        while iterator:
            page = self.streams.get_records(ShardIterator=iterator, Limit=100)
            records = page.get("Records") or []
            for record in records:
                if int(record["dynamodb"]["SequenceNumber"]) > last:
                    return handled
                handle_record(record)
                handled += 1
            if not records:
                return handled
            iterator = page.get("NextShardIterator")
        return handled
