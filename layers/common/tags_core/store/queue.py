"""The command queue (SQS), as a sender: a bulk job's chunks go there for the command consumer to apply.

The client is made on first send (only a bulk request with more than 100 objects pays for it), on the endpoint
SQS_ENDPOINT_URL names when set (tags-local's embedded moto serves SQS too).
"""

from __future__ import annotations

import functools
import json
from typing import Any

from tags_core.errors import ServiceUnavailable
from tags_core.observability import logger
from tags_core.settings import get_settings
from tags_core.store import client as db

MAX_BATCH = 10  # SendMessageBatch takes at most 10 entries


@functools.lru_cache(maxsize=1)
def _client() -> Any:
    from botocore.config import Config  # noqa: PLC0415 - deferred like store.client

    settings = get_settings()
    config = Config(retries={"mode": "standard", "total_max_attempts": 4}, connect_timeout=2, read_timeout=5)
    return db.create_client("sqs", region_name=settings.region, endpoint_url=settings.sqs_endpoint_url,
                            config=config)


def reset() -> None:
    _client.cache_clear()


def send(messages: list[dict[str, Any]]) -> None:
    """Send JSON messages to COMMAND_QUEUE_URL, 10 a call; ServiceUnavailable unless every one was accepted."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    url = get_settings().command_queue_url
    if not url:
        logger.error("COMMAND_QUEUE_URL is not set: bulk jobs cannot be queued")
        raise ServiceUnavailable()
    for start in range(0, len(messages), MAX_BATCH):
        entries = [{"Id": str(n), "MessageBody": json.dumps(m, separators=(",", ":"))}
                   for n, m in enumerate(messages[start:start + MAX_BATCH])]
        try:
            response = _client().send_message_batch(QueueUrl=url, Entries=entries)
            failed = [e["Id"] for e in response.get("Failed") or []]
            if failed:  # sent once more; a message sent twice is harmless (a chunk is applied and counted once)
                again = [e for e in entries if e["Id"] in failed]
                response = _client().send_message_batch(QueueUrl=url, Entries=again)
        except (BotoCoreError, ClientError) as exc:
            logger.warning("command queue unavailable", extra={"error": type(exc).__name__})
            raise ServiceUnavailable() from exc
        if response.get("Failed"):
            logger.warning("command queue refused messages", extra={"failed": len(response["Failed"])})
            raise ServiceUnavailable()
