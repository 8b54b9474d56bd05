"""The table's stream: keeps derived views, finishes deletions and publishes change events. A failed record fails
alone (with the later records of its item) and is retried."""

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response

from tags_core.flows.stream import InOrderProcessor, handle_record
from tags_core.observability import observed

processor = InOrderProcessor()


def record_handler(record: Any) -> None:
    handle_record(record.raw_event)


@observed("stream_processor")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                      context=context)
    return dict(result)
