"""Commands from other systems: attach and detach tags on an object, delivered by the command queue (SQS).

A message body is one JSON command:

    {"tenant": "acme", "kind": "conversations", "object_id": "c-42",
     "add": ["Hot Lead", "01JD..."], "remove": ["01JE...", "Cold"]}

- `kind`: conversations, customers or comments (the singular works too). `object_id` as in the API.
- `add`: tag names or ids (an entry that looks like a tag id is an id), at most 50; missing names are created.
- `remove`: tag ids or names, at most 50; one not attached (or not existing) is no change.
- `add` is applied first, then `remove`, through the same domain code as POST and DELETE /{kind}/{id}/tags,
  acting as a write key of the tenant whose id is `queue:<message id>` (the `actor` of the change events).
  Applying a message again changes nothing more, so a redelivered message is harmless.

A message `{"bulk_job": "<job id>", "tenant", "chunk": n, "objects": [...]}` is one chunk of a bulk job
(POST /{kind}/tags/bulk with more than 100 objects), applied by `tags_core.domain.bulk.run_chunk`.

A bad message (not JSON, invalid fields, unknown tenant, unknown tag id, tag not applicable to the kind) raises a
DomainError: it alone is reported failed, is received again, and lands in the dead-letter queue after the
queue's maxReceiveCount.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from tags_core import outcomes
from tags_core.domain import attachments, bulk
from tags_core.domain.accounts import TENANT_PATTERN
from tags_core.domain.attachments import MAX_PER_CALL
from tags_core.domain.identity import Principal
from tags_core.domain.models import MAX_RAW_NAME, AttachRequest
from tags_core.domain.objects import KIND_OF_PLURAL, OBJECT_ID
from tags_core.errors import DomainError, InvalidInput, NotFound, RateLimited, validation_entries
from tags_core.ids import looks_like_id
from tags_core.observability import logger
from tags_core.settings import get_settings
from tags_core.store import client as db
from tags_core.store.keys import EXPIRES_AT, idempotency_pk
from tags_core.store.repository import Repository

ACTOR_PREFIX = "queue:"
COMMAND_TTL_SECONDS = 14 * 24 * 3600  # as long as a message can live in the dead-letter queue
SOURCE = "queue"  # the `source` of the history entries commands cause
_PLURAL = {**{kind: kind for kind in KIND_OF_PLURAL}, **{single: plural for plural, single in KIND_OF_PLURAL.items()}}
T = TypeVar("T")


def _plural(value: Any) -> Any:
    return _PLURAL.get(value, value) if isinstance(value, str) else value


TagRef = Annotated[str, Field(min_length=1, max_length=MAX_RAW_NAME)]


class TagCommand(BaseModel):
    """One message of the command queue."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    tenant: Annotated[str, Field(pattern=TENANT_PATTERN.pattern)]
    kind: Annotated[Literal["conversations", "customers", "comments"], BeforeValidator(_plural)]
    object_id: Annotated[str, Field(pattern=OBJECT_ID.pattern)]
    add: list[TagRef] = Field(default_factory=list, max_length=MAX_PER_CALL)
    remove: list[TagRef] = Field(default_factory=list, max_length=MAX_PER_CALL)

    @model_validator(mode="after")
    def _does_something(self) -> TagCommand:
        if not self.add and not self.remove:
            raise ValueError("add or remove must name at least one tag")
        return self


class BulkChunk(BaseModel):
    """A chunk of a bulk job, queued by POST /{kind}/tags/bulk."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    bulk_job: Annotated[str, Field(min_length=26, max_length=26)]
    tenant: Annotated[str, Field(pattern=TENANT_PATTERN.pattern)]
    chunk: Annotated[int, Field(ge=0, le=1000)]
    objects: list[Annotated[str, Field(pattern=OBJECT_ID.pattern)]] = Field(min_length=1, max_length=1000)


def _is_bulk_chunk(body: str) -> bool:
    try:
        return isinstance(message := json.loads(body), dict) and "bulk_job" in message
    except ValueError:
        return False


def parse_command(body: str) -> TagCommand:
    try:
        return TagCommand.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidInput("The command is invalid.", errors=validation_entries(exc.errors())) from None  # type: ignore[arg-type]


def _attach_request(refs: list[str]) -> AttachRequest:
    ids = [ref for ref in refs if looks_like_id(ref)]
    names = [ref for ref in refs if not looks_like_id(ref)]
    try:
        return AttachRequest.model_validate({"tags": names, "tag_ids": ids, "create_missing": True})
    except ValidationError as exc:
        errors = [{**entry, "field": "add"} for entry in validation_entries(exc.errors())]  # type: ignore[arg-type]
        raise InvalidInput("The command is invalid.", errors=errors) from None


def _within(deadline: float | None, call: Callable[[], T]) -> T:
    """Run a write; when the object's write budget is spent, wait for the next window if the deadline allows."""
    while True:
        try:
            return call()
        except RateLimited as exc:
            if deadline is None or time.monotonic() + exc.retry_after > deadline:
                raise
            time.sleep(exc.retry_after)


def apply_command(command: TagCommand, message_id: str, *, deadline: float | None = None) -> dict[str, Any]:
    """Apply `add` then `remove` to the object; returns its tag ids and tag-set version afterwards.

    `deadline` (time.monotonic() value): how long a rate-limited write may wait; None: never wait.
    """
    repo = Repository()
    if repo.get_tenant(command.tenant) is None:
        raise NotFound(f"No tenant {command.tenant!r}.", field="tenant", code="tenant_not_found")
    principal = Principal(tenant=command.tenant, role="write", key_id=ACTOR_PREFIX + message_id)
    kind, object_id = command.kind, command.object_id
    object_kind = KIND_OF_PLURAL[kind]
    tags: list[dict[str, Any]] | None = None
    meta: dict[str, Any] = {}
    if command.add:
        body = _attach_request(list(command.add))
        tags, meta, _ = _within(deadline, functools.partial(attachments.set_object_tags, principal, object_kind,
                                                            object_id, body, replace=False, source=SOURCE))
    if command.remove:
        names = [ref for ref in command.remove if not looks_like_id(ref)]
        by_name = repo.find_tag_ids_by_names(command.tenant, names) if names else {}  # after `add` created any
        remove_ids = [ref for ref in command.remove if looks_like_id(ref)] + list(by_name.values())
        for tag_id in dict.fromkeys(remove_ids):
            tags, meta, _ = _within(deadline, functools.partial(attachments.remove_object_tag, principal, object_kind,
                                                                object_id, tag_id, SOURCE))
    return {"tenant": command.tenant, "kind": kind, "object_id": object_id,
            "tag_ids": [tag["id"] for tag in tags or []], "version": meta.get("version")}


def _once(command: TagCommand, command_id: str, apply: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Apply a command at most once per command id (for COMMAND_TTL_SECONDS): a message sent again, such as one
    redriven from the dead-letter queue (`tags-admin`) after it was applied, returns the first result. Powertools
    Idempotency in the table, under the tenant's idempotency partition; a failed apply is not remembered."""
    from aws_lambda_powertools.utilities.idempotency import (  # noqa: PLC0415 - loaded by the first command only
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    store = DynamoDBPersistenceLayer(
        table_name=get_settings().table_name, key_attr="PK", sort_key_attr="SK",
        static_pk_value=idempotency_pk(command.tenant), expiry_attr=EXPIRES_AT, boto3_client=db.client())
    config = IdempotencyConfig(event_key_jmespath="command_id", expires_after_seconds=COMMAND_TTL_SECONDS,
                               raise_on_no_idempotency_key=True)

    def first_time(request: dict[str, Any]) -> dict[str, Any]:
        return apply()

    once = idempotent_function(first_time, data_keyword_argument="request", persistence_store=store, config=config)
    return once(request={"command_id": f"command:{command_id}"})


def handle_message(body: str, message_id: str, *, command_id: str | None = None,
                   deadline: float | None = None) -> dict[str, Any]:
    """Parse and apply one queue message, once per command id (the `command_id` message attribute a redrive sets,
    else the message id); a bulk job's chunk is applied by its own rules (each object once, see domain.bulk).
    A DomainError (logged with the message id) fails the message."""
    if _is_bulk_chunk(body):
        return _run_bulk_chunk(body, message_id)
    command_id = command_id or message_id
    try:
        command = parse_command(body)
        result = _once(command, command_id, lambda: apply_command(command, command_id, deadline=deadline))
    except DomainError as exc:
        outcomes.count(outcomes.COMMANDS_FAILED)
        logger.warning("command refused", extra={"message_id": message_id, "command_id": command_id,
                                                 "errors": exc.entries()})
        raise
    except Exception:
        outcomes.count(outcomes.COMMANDS_FAILED)
        logger.exception("command failed", extra={"message_id": message_id})
        raise
    outcomes.count(outcomes.COMMANDS_APPLIED)
    logger.info("command applied", extra={"message_id": message_id, "command_id": command_id,
                                          "tenant": result["tenant"], "kind": result["kind"],
                                          "object_id": result["object_id"]})
    return result


def _run_bulk_chunk(body: str, message_id: str) -> dict[str, Any]:
    try:
        chunk = BulkChunk.model_validate_json(body)
    except ValidationError as exc:
        errors = validation_entries(exc.errors())  # type: ignore[arg-type]
        logger.warning("bulk chunk refused", extra={"message_id": message_id, "errors": errors})
        raise InvalidInput("The bulk chunk is invalid.", errors=errors) from None
    counts = bulk.run_chunk(chunk.tenant, chunk.bulk_job, chunk.chunk, list(chunk.objects))
    if counts is None:
        logger.warning("bulk chunk dropped: no such job", extra={"message_id": message_id, "tenant": chunk.tenant,
                                                                "bulk_job": chunk.bulk_job, "chunk": chunk.chunk})
        return {"tenant": chunk.tenant, "bulk_job": chunk.bulk_job, "chunk": chunk.chunk, "counts": {}}
    logger.info("bulk chunk applied", extra={"message_id": message_id, "tenant": chunk.tenant,
                                             "bulk_job": chunk.bulk_job, "chunk": chunk.chunk, "counts": counts})
    return {"tenant": chunk.tenant, "bulk_job": chunk.bulk_job, "chunk": chunk.chunk, "counts": counts}
