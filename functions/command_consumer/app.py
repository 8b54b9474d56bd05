"""The command queue (SQS): attach/detach commands from other systems. A bad message fails alone (partial batch
response); SQS redelivers it and, after the queue's maxReceiveCount, moves it to the dead-letter queue."""

import time
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from tags_core.flows.commands import handle_message
from tags_core.observability import observed

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
SAFETY_MARGIN_SECONDS = 2.0  # a rate-limited write waits for its next window only while this much time is left


def record_handler(record: SQSRecord, lambda_context: Any = None) -> None:
    deadline = None
    if lambda_context is not None:
        left = lambda_context.get_remaining_time_in_millis() / 1000
        deadline = time.monotonic() + left - SAFETY_MARGIN_SECONDS
    command_id = record.message_attributes["command_id"]  # set by a redrive (tags-admin): the original id
    handle_message(record.body, record.message_id, command_id=command_id.string_value if command_id else None,
                   deadline=deadline)


@observed("command_consumer")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                      context=context)
    return dict(result)
