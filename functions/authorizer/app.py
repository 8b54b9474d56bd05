"""TOKEN authorizer: `Authorization: Bearer <key>` → the key's tenant and role. API Gateway caches the result."""

from __future__ import annotations

from typing import Any

from tags_core.domain.identity import resolve_token
from tags_core.errors import Unauthenticated
from tags_core.http.identity import authorizer_policy
from tags_core.observability import count_error, count_request, logger, observed


@observed("authorizer")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    count_request()
    try:
        principal = resolve_token(event.get("authorizationToken"))
    except Unauthenticated as exc:
        count_error("authorizer", exc.code)
        logger.info("key refused", extra={"reason": exc.message})
        raise Exception("Unauthorized") from None  # API Gateway's contract for a 401
    logger.append_keys(tenant=principal.tenant, key_id=principal.key_id)
    logger.info("key accepted", extra={"role": principal.role})
    return authorizer_policy(principal, event["methodArn"])
