"""The command queue on your machine: an SQS queue in the embedded moto server (which serves SQS on the same
endpoint as DynamoDB), read by a thread that hands its messages to the command consumer as Lambda's SQS event
source would: batches of up to 10, the records a batch reports failed left for the next receive (after the
visibility timeout), the others deleted. So `tags-local` runs bulk jobs (POST /{kind}/tags/bulk with more than 100
objects) to the end, and commands sent to the queue URL it prints."""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any

from tags_tools.local.stream_poller import MIN_IDLE_WAIT, Handler, next_wait

logger = logging.getLogger("tags.local.queue")

QUEUE_NAME = "tags-local-commands"
VISIBILITY_TIMEOUT = 5  # seconds before a failed message is received again (the template's queue: 180)


def _record(message: Any, queue_arn: str, region: str) -> dict[str, Any]:
    return {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
            "attributes": dict(message.get("Attributes") or {}), "messageAttributes": {},
            "md5OfBody": hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324 - what SQS sends
            "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": region}


class QueuePoller:
    def __init__(self, handler: Handler | None, *, endpoint_url: str, region: str = "us-east-1",
                 batch_size: int = 10) -> None:
        """Creates the queue (kept if it exists); `handler` may be set later, before `start`."""
        import boto3  # noqa: PLC0415 - only the local tools load this module

        self.handler = handler
        self.region = region
        self.batch_size = batch_size
        self.sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name=region)
        self.url = self.sqs.create_queue(QueueName=QUEUE_NAME, Attributes={
            "VisibilityTimeout": str(VISIBILITY_TIMEOUT)})["QueueUrl"]
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.processed = 0
        self.failed = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def status(self) -> dict[str, Any]:
        return {"queue_url": self.url, "processed": self.processed, "failed": self.failed,
                "last_error": self.last_error}

    def poll(self) -> int:
        """One receive and invocation; returns how many messages it handled."""
        messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=self.batch_size,
                                            WaitTimeSeconds=0, AttributeNames=["All"]).get("Messages", [])
        if not messages:
            return 0
        assert self.handler is not None, "set the handler before polling"
        try:
            result = self.handler({"Records": [_record(m, self.arn, self.region) for m in messages]}, None)
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures") or []}
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.error("command consumer failed: %s", self.last_error)
            failed = {m["MessageId"] for m in messages}
        for message in messages:
            if message["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        self.processed += len(messages) - len(failed)
        self.failed += len(failed)
        return len(messages)

    def start(self) -> None:
        def run() -> None:
            wait = MIN_IDLE_WAIT
            while not self._stop.wait(wait):
                try:
                    handled = self.poll()
                except Exception as exc:
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    logger.error("command queue poll failed: %s", self.last_error)
                    handled = 0
                wait = next_wait(handled > 0, wait)

        self._thread = threading.Thread(target=run, name="tags-local-queue", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
