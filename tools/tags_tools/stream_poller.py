"""Reads a table's DynamoDB stream and hands records to the stream processor, as Lambda's event source would.

Used by the local server (a background thread) and by tests (`drain()`), against moto or a real endpoint.
Records go to the processor's real `lambda_handler` in batches shaped like Lambda's DynamoDB stream events;
records it reports as failed are retried on the next poll, in order, like a bisecting event source.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("tags.local.stream")

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class StreamPoller:
    def __init__(self, table_name: str, handler: Handler, *, endpoint_url: str | None = None,
                 region: str = "us-east-1", batch_size: int = 100) -> None:
        import boto3  # noqa: PLC0415 - only the local tools load this module

        self.handler = handler
        self.batch_size = batch_size
        dynamodb = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name=region)
        self.stream_arn = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        self.streams = boto3.client("dynamodbstreams", endpoint_url=endpoint_url, region_name=region)
        self.positions: dict[str, str | None] = {}  # shard → last sequence number handed out
        self.pending: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.processed = 0

    def _iterator(self, shard_id: str) -> str:
        # A fresh iterator from the last position on every poll: it survives the stream being re-created
        # under us (moto replaces a table's stream shard when a transaction is cancelled).
        last = self.positions.get(shard_id)
        extra = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last} if last else {
            "ShardIteratorType": "TRIM_HORIZON"}
        return self.streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id, **extra)["ShardIterator"]

    def poll(self) -> int:
        """Read what is new, process it (failed records are kept for the next poll); returns records handled."""
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"].get("Shards", [])
        for shard in shards:
            shard_id = shard["ShardId"]
            response = self.streams.get_records(ShardIterator=self._iterator(shard_id), Limit=1000)
            for record in response.get("Records", []):
                self.positions[shard_id] = record["dynamodb"]["SequenceNumber"]
                record.setdefault("eventSourceARN", self.stream_arn)
                record.setdefault("eventSource", "aws:dynamodb")
                record.setdefault("awsRegion", "us-east-1")
                self.pending.append(record)
        handled = 0
        while self.pending:
            batch = self.pending[: self.batch_size]
            result = self.handler({"Records": batch}, None)
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
            if failed:
                # Like Lambda with bisect-on-error: everything before the first failure is done.
                first = next(i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] in failed)
                handled += first
                self.pending = self.pending[first:]
                logger.warning("stream records failed; retrying on the next poll", extra={"failed": len(failed)})
                break
            handled += len(batch)
            self.pending = self.pending[len(batch):]
        self.processed += handled
        return handled

    def drain(self, rounds: int = 20) -> int:
        """Poll until nothing new arrives (processing may write records of its own)."""
        total = 0
        for _ in range(rounds):
            handled = self.poll()
            total += handled
            if not handled and not self.pending:
                break
        return total

    def start(self, interval: float = 0.2) -> None:
        def run() -> None:
            while not self._stop.wait(interval):
                try:
                    self.poll()
                except Exception:
                    logger.exception("stream poll failed")

        self._thread = threading.Thread(target=run, name="stream-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
