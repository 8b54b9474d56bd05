"""The function environment, validated once per process."""

from __future__ import annotations

import functools
import os

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, hide_input_in_errors=True)  # never echo secrets

    table_name: str = Field(alias="TABLE_NAME", min_length=1, max_length=255)
    cursor_secret: str = Field(alias="CURSOR_SECRET", min_length=16)
    region: str = Field(default="us-east-1", alias="AWS_REGION")
    dynamodb_endpoint_url: str | None = Field(default=None, alias="DYNAMODB_ENDPOINT_URL")
    rate_limit_writes: int = Field(default=10, alias="RATE_LIMIT_WRITES", ge=1)
    rate_limit_window_seconds: int = Field(default=10, alias="RATE_LIMIT_WINDOW_SECONDS", ge=1)
    # Where change events go (tags_core.events): an EventBridge bus name or ARN; unset or "local": the log.
    event_bus_name: str | None = Field(default=None, alias="EVENT_BUS_NAME", max_length=1600)
    # How long each object's tag history is kept (the stream processor sets the entries' TTL from it).
    history_retention_days: int = Field(default=90, alias="HISTORY_RETENTION_DAYS", ge=1, le=3650)
    events_file: str | None = Field(default=None, alias="EVENTS_FILE")  # locally, also appended here (JSON lines)
    # Bulk changes (POST /{kind}/tags/bulk): where jobs' chunks are queued, and the tenant's bulk budget.
    command_queue_url: str | None = Field(default=None, alias="COMMAND_QUEUE_URL", max_length=2048)
    sqs_endpoint_url: str | None = Field(default=None, alias="SQS_ENDPOINT_URL")
    bulk_objects_per_window: int = Field(default=5000, alias="BULK_OBJECTS_PER_WINDOW", ge=1)
    bulk_window_seconds: int = Field(default=60, alias="BULK_WINDOW_SECONDS", ge=1)


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    known = {f.alias for f in Settings.model_fields.values() if f.alias}
    return Settings.model_validate({k: v for k, v in os.environ.items() if k in known and v != ""})
