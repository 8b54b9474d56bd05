"""`Idempotency-Key` on POST: a retry with the same key and body gets the first response back (24 h).

Built on Powertools Idempotency, persisted in the service's own table under the tenant's partition. Keys are
scoped per tenant, method and path as called (the same key on another object is another request, never a
replay). The same key with another body or query string answers 409 `idempotency_key_reused`;
a retry racing the first request answers 409 `idempotency_key_in_use`. Answers that ask the client to retry
(429, 5xx) are not remembered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from tags_core import outcomes
from tags_core.errors import Conflict, InvalidInput, ServiceUnavailable
from tags_core.settings import get_settings
from tags_core.store import client as db
from tags_core.store.keys import EXPIRES_AT, idempotency_pk

TTL_SECONDS = 24 * 3600
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, like most payment APIs accept
REPLAY_HEADER = "Idempotent-Replayed"


class _DoNotRemember(Exception):
    def __init__(self, response: dict[str, Any]) -> None:
        super().__init__("response not remembered")
        self.response = response


def run_once(tenant: str, route: str, key: str, body: str | None, context: Any,
             resolve: Callable[[], dict[str, Any]], *, query: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """Resolve the request at most once per (tenant, route, key); replay the stored response afterwards. The body
    and the query string (`?dry_run=true` is another request) must be those of the first request."""
    # Deferred: only requests that carry an Idempotency-Key pay for loading the idempotency utility.
    from aws_lambda_powertools.utilities.idempotency import (  # noqa: PLC0415
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.exceptions import (  # noqa: PLC0415
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    if not KEY_PATTERN.match(key):
        raise InvalidInput("Idempotency-Key must be 1-255 visible ASCII characters.", field="Idempotency-Key",
                           code="invalid_header")
    try:
        payload: Any = json.loads(body) if body else None
    except ValueError:
        payload = body
    if query:  # validated with the body; requests without a query string hash as they always did
        payload = {"query": sorted(query), "body": payload}
    store = DynamoDBPersistenceLayer(
        table_name=get_settings().table_name, key_attr="PK", sort_key_attr="SK",
        static_pk_value=idempotency_pk(tenant), expiry_attr=EXPIRES_AT, boto3_client=db.client())
    config = IdempotencyConfig(event_key_jmespath="[route, key]", payload_validation_jmespath="body",
                               expires_after_seconds=TTL_SECONDS, raise_on_no_idempotency_key=True)
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        config.register_lambda_context(context)
    executed = False

    def first_time(request: dict[str, Any]) -> dict[str, Any]:
        nonlocal executed
        executed = True
        response = resolve()
        if response.get("statusCode", 500) >= 500 or response.get("statusCode") == 429:
            raise _DoNotRemember(response)
        return response

    once = idempotent_function(first_time, data_keyword_argument="request", persistence_store=store, config=config)
    try:
        response = once(request={"route": route, "key": key, "body": payload})
    except _DoNotRemember as exc:
        return exc.response
    except IdempotencyValidationError:
        raise Conflict("This Idempotency-Key was used with another request body or query string.",
                       field="Idempotency-Key", code="idempotency_key_reused") from None
    except IdempotencyAlreadyInProgressError:
        raise Conflict("A request with this Idempotency-Key is still in progress; retry shortly.",
                       field="Idempotency-Key", code="idempotency_key_in_use") from None
    except IdempotencyPersistenceLayerError:
        raise ServiceUnavailable() from None
    if not executed:
        outcomes.count(outcomes.IDEMPOTENT_REPLAYS)
        response = {**response, "headers": {**(response.get("headers") or {}), REPLAY_HEADER: "true"}}
    return response
