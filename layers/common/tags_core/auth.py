"""API keys and tenancy: issuing keys, resolving them (the authorizer), and the caller of a request.

A key looks like `tk_<key id>_<secret>`. Only its SHA-256 is stored (the key carries 256 random bits, so a
slow hash adds nothing); the key id is safe to show and log, the key never is.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from tags_core.envelope import rfc3339_now as now_iso
from tags_core.errors import Forbidden, InvalidInput, Unauthenticated
from tags_core.ids import new_id
from tags_core.repository import Repository

Role = Literal["read", "write"]
ROLES: tuple[Role, ...] = ("read", "write")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

KEY_PATTERN = re.compile(r"^tk_([0-9a-z]{26})_([A-Za-z0-9_-]{43})$")
BEARER_PATTERN = re.compile(r"^Bearer ([^\s]+)$")
TENANT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant and role resolved from the API key by the authorizer."""

    tenant: str
    role: Role
    key_id: str

    def context(self) -> dict[str, str]:
        return {"tenant": self.tenant, "role": self.role, "key_id": self.key_id}

    def require(self, method: str) -> None:
        if method.upper() not in READ_METHODS and self.role != "write":
            raise Forbidden("This API key is read-only; a write key is needed for this request.")


def principal_from_event(event: dict[str, Any]) -> Principal:
    """The caller, from the authorizer context API Gateway put on the event. Never from the request itself."""
    context = (event.get("requestContext") or {}).get("authorizer") or {}
    tenant, role, key_id = context.get("tenant"), context.get("role"), context.get("key_id")
    if not tenant or role not in ROLES or not key_id:
        raise Unauthenticated("This request carries no verified API key.")
    return Principal(tenant=tenant, role=role, key_id=key_id)


def resolve_token(authorization: str | None) -> Principal:
    """`Bearer <key>` → the key's principal. Missing, malformed, unknown or revoked keys are Unauthenticated."""
    match = BEARER_PATTERN.match(authorization or "")
    key = match.group(1) if match else ""
    if not KEY_PATTERN.match(key):
        raise Unauthenticated("Missing or malformed API key.")
    record = Repository().get_api_key(hash_key(key))
    if not record or record.get("revoked_at"):
        raise Unauthenticated("Unknown or revoked API key.")
    return Principal(tenant=record["tenant"], role=record["role"], key_id=record["key_id"])


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


# --- operator actions (admin CLI, local seeding) ---------------------------------------------------------------

def create_tenant(name: str, tenant_id: str | None = None) -> str:
    tenant = tenant_id or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] + "-" + secrets.token_hex(3)
    if not TENANT_PATTERN.match(tenant):
        raise InvalidInput("Tenant ids are 2-63 of a-z, 0-9 and '-', starting with a letter or digit.",
                           field="tenant")
    Repository().put_tenant(tenant, name, now_iso())
    return tenant


def create_api_key(tenant: str, role: Role, label: str = "") -> tuple[str, str]:
    """Issue a key; returns (key id, the key). The key is shown once and never stored."""
    if role not in ROLES:
        raise InvalidInput(f"Role must be one of {', '.join(ROLES)}.", field="role")
    key_id = new_id().lower()
    key = f"tk_{key_id}_{secrets.token_urlsafe(32)}"
    record = {"key_id": key_id, "role": role, "label": label, "created_at": now_iso(), "revoked_at": None}
    Repository().put_api_key(tenant, hash_key(key), record)
    return key_id, key


def list_api_keys(tenant: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in entry.items() if k != "key_hash"} for entry in Repository().list_api_keys(tenant)]


def revoke_api_key(tenant: str, key_id: str) -> None:
    Repository().revoke_api_key(tenant, key_id, now_iso())
