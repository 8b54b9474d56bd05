"""The table's stream: keeps derived views and finishes deletions. A failed record fails alone and is retried."""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from tags_core.stream import handle_record

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: Any) -> None:
    handle_record(record.raw_event)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                      context=context)
    return dict(result)
