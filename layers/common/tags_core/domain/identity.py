"""Who is calling: API keys resolved to a tenant and a role (the authorizer), and the principal a request acts as.

A key looks like `tk_<key id>_<secret>`. Only its SHA-256 is stored (the key carries 256 random bits, so a
slow hash adds nothing); the key id is safe to show and log, the key never is.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

from tags_core.errors import Forbidden, Unauthenticated
from tags_core.store.tenants import TenantStore

Role = Literal["read", "write"]
ROLES: tuple[Role, ...] = ("read", "write")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

KEY_PATTERN = re.compile(r"^tk_([0-9a-z]{26})_([A-Za-z0-9_-]{43})$")
BEARER_PATTERN = re.compile(r"^Bearer ([^\s]+)$")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant and role resolved from the API key by the authorizer. `source` says what the
    writes it makes come through ("api", "queue": the command queue, "bulk": a bulk change); the change events of
    an object's tags carry it."""

    tenant: str
    role: Role
    key_id: str
    source: str = "api"

    def context(self) -> dict[str, str]:
        return {"tenant": self.tenant, "role": self.role, "key_id": self.key_id}

    def require(self, method: str) -> None:
        if method.upper() not in READ_METHODS and self.role != "write":
            raise Forbidden("This API key is read-only; a write key is needed for this request.")


def resolve_token(authorization: str | None) -> Principal:
    """`Bearer <key>` → the key's principal. Missing, malformed, unknown or revoked keys are Unauthenticated."""
    match = BEARER_PATTERN.match(authorization or "")
    key = match.group(1) if match else ""
    if not KEY_PATTERN.match(key):
        raise Unauthenticated("Missing or malformed API key.")
    record = TenantStore().get_api_key(hash_key(key))
    if not record or record.get("revoked_at"):
        raise Unauthenticated("Unknown or revoked API key.")
    return Principal(tenant=record["tenant"], role=record["role"], key_id=record["key_id"])
