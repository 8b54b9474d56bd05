"""Reads a table's DynamoDB stream and hands records to the stream processor, as Lambda's event source would.

Used by the local server (a background thread) and by tests (`drain()`), against moto or a real endpoint.
Records go to the processor's real `lambda_handler` in batches shaped like Lambda's DynamoDB stream events;
records it reports as failed are retried on the next poll, in order, like a bisecting event source.

Like Lambda's poller it keeps one iterator per shard and follows `NextShardIterator`, asks for the shard list only
every `SHARD_REFRESH` seconds, and waits longer between polls while the stream is idle (up to `MAX_IDLE_WAIT`), so
an idle server costs next to nothing. An expired iterator is renewed from the last position handed out. A position
the stream no longer holds (TrimmedDataAccessException) means records were lost: that is logged as an error and
counted in `status()["lost"]`, never skipped silently.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("tags.local.stream")

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

SHARD_REFRESH = 10.0  # seconds between two DescribeStream calls
MIN_IDLE_WAIT = 0.2  # seconds between polls while records arrive
MAX_IDLE_WAIT = 2.0  # ... and at most this long once the stream has been idle for a while


def next_wait(busy: bool, wait: float, shortest: float = MIN_IDLE_WAIT) -> float:
    """The pause before the next poll: `shortest` while there is work, growing to MAX_IDLE_WAIT while there is none
    (an idle server costs next to nothing; every poll is a request to the DynamoDB or SQS endpoint)."""
    return shortest if busy else min(MAX_IDLE_WAIT, max(wait, shortest) * 1.5)


class StreamPoller:
    def __init__(self, table_name: str, handler: Handler, *, endpoint_url: str | None = None,
                 region: str = "us-east-1", batch_size: int = 100) -> None:
        import boto3  # noqa: PLC0415 - only the local tools load this module

        self.handler = handler
        self.batch_size = batch_size
        self.region = region
        dynamodb = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name=region)
        self.stream_arn = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        self.streams = boto3.client("dynamodbstreams", endpoint_url=endpoint_url, region_name=region)
        self.positions: dict[str, str | None] = {}  # shard → last sequence number handed out
        self.iterators: dict[str, str] = {}  # shard → the iterator to read next
        self.shards: list[str] = []
        self._shards_read_at = float("-inf")
        self.pending: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.processed = 0
        self.lost_positions = 0
        self.caught_up = False  # the last poll read to the end of every shard and processed all it read
        self.last_poll: float | None = None
        self.last_error: str | None = None

    def status(self) -> dict[str, Any]:
        return {"stream_arn": self.stream_arn, "processed": self.processed, "pending": len(self.pending),
                "caught_up": self.caught_up and not self.pending, "lost": self.lost_positions,
                "last_poll": self.last_poll, "last_error": self.last_error}

    def _refresh_shards(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._shards_read_at < SHARD_REFRESH:
            return
        description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        self.shards = [shard["ShardId"] for shard in description.get("Shards", [])]
        self._shards_read_at = now
        for gone in set(self.iterators) - set(self.shards):
            del self.iterators[gone]

    def _new_iterator(self, shard_id: str) -> str:
        last = self.positions.get(shard_id)
        extra = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": last} if last else {
            "ShardIteratorType": "TRIM_HORIZON"}
        return self.streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id, **extra)["ShardIterator"]

    def _read(self, shard_id: str) -> list[dict[str, Any]]:
        """The next records of one shard (following NextShardIterator; renewing an expired iterator)."""
        errors = self.streams.exceptions
        for _attempt in range(2):
            iterator = self.iterators.get(shard_id) or self._new_iterator(shard_id)
            try:
                response = self.streams.get_records(ShardIterator=iterator, Limit=1000)
            except errors.ExpiredIteratorException:
                self.iterators.pop(shard_id, None)
                continue
            except errors.TrimmedDataAccessException:
                self.lost_positions += 1
                logger.error("stream records were trimmed before this consumer read them: some changes of shard "
                             "%s were not processed; reading on from the oldest record the stream holds", shard_id)
                self.positions.pop(shard_id, None)
                self.iterators.pop(shard_id, None)
                continue
            except errors.ResourceNotFoundException:
                self.iterators.pop(shard_id, None)
                self._refresh_shards(force=True)
                return []
            next_iterator = response.get("NextShardIterator")
            if next_iterator:
                self.iterators[shard_id] = next_iterator
            else:  # the shard is closed and read to its end
                self.iterators.pop(shard_id, None)
            return list(response.get("Records", []))
        return []

    def poll(self) -> int:
        """Read what is new, process it (failed records are kept for the next poll); returns records handled."""
        self.last_poll = time.time()
        self._refresh_shards()
        read = 0
        for shard_id in list(self.shards):
            records = self._read(shard_id)
            read += len(records)
            for record in records:
                self.positions[shard_id] = record["dynamodb"]["SequenceNumber"]
                record.setdefault("eventSourceARN", self.stream_arn)
                record.setdefault("eventSource", "aws:dynamodb")
                record.setdefault("awsRegion", self.region)
                self.pending.append(record)
        handled = self._process()
        self.processed += handled
        self.caught_up = read == 0 and not self.pending
        return handled

    def _process(self) -> int:
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
        return handled

    def drain(self, rounds: int = 20) -> int:
        """Poll until nothing new arrives (processing may write records of its own)."""
        total = 0
        self._shards_read_at = float("-inf")  # a table re-created since the last call has a new shard
        for _ in range(rounds):
            handled = self.poll()
            total += handled
            if not handled and not self.pending:
                break
        return total

    def start(self, interval: float = MIN_IDLE_WAIT) -> None:
        def run() -> None:
            wait = interval
            while not self._stop.wait(wait):
                try:
                    busy = self.poll() or self.pending
                    self.last_error = None
                except Exception as exc:
                    logger.exception("stream poll failed")
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    busy = False
                wait = next_wait(bool(busy), wait, interval)

        self._thread = threading.Thread(target=run, name="stream-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
