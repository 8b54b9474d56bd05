"""The caller of a request, from what API Gateway's authorizer put on the event; and the authorizer's answer."""

from __future__ import annotations

from typing import Any

from tags_core.domain.identity import ROLES, Principal
from tags_core.errors import Unauthenticated


def principal_from_event(event: dict[str, Any]) -> Principal:
    """The caller, from the authorizer context API Gateway put on the event. Never from the request itself."""
    context = (event.get("requestContext") or {}).get("authorizer") or {}
    tenant, role, key_id = context.get("tenant"), context.get("role"), context.get("key_id")
    if not tenant or role not in ROLES or not key_id:
        raise Unauthenticated("This request carries no verified API key.")
    return Principal(tenant=tenant, role=role, key_id=key_id)


def authorizer_policy(principal: Principal, method_arn: str) -> dict[str, Any]:
    """An IAM policy for API Gateway's cache: the key's methods on every resource of this API stage."""
    # arn:aws:execute-api:region:account:api-id/stage/METHOD/path...
    arn_prefix, _, rest = method_arn.partition("/")
    stage = rest.split("/", 1)[0] if rest else "*"
    methods = ["GET", "HEAD", "OPTIONS"] if principal.role == "read" else ["*"]
    resources = [f"{arn_prefix}/{stage}/{method}/*" for method in methods]
    return {
        "principalId": principal.key_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resources}],
        },
        "context": principal.context(),
    }
