"""Operator commands (admin CLI, local seeding): tenants, and issuing, listing and revoking their API keys."""

from __future__ import annotations

import re
import secrets
from typing import Any

from tags_core.clock import now_iso
from tags_core.domain.identity import ROLES, Role, hash_key
from tags_core.errors import InvalidInput
from tags_core.ids import new_id
from tags_core.store.tenants import TenantStore

TENANT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


def create_tenant(name: str, tenant_id: str | None = None) -> str:
    tenant = tenant_id or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] + "-" + secrets.token_hex(3)
    if not TENANT_PATTERN.match(tenant):
        raise InvalidInput("Tenant ids are 2-63 of a-z, 0-9 and '-', starting with a letter or digit.",
                           field="tenant")
    TenantStore().put_tenant(tenant, name, now_iso())
    return tenant


def create_api_key(tenant: str, role: Role, label: str = "") -> tuple[str, str]:
    """Issue a key; returns (key id, the key). The key is shown once and never stored."""
    if role not in ROLES:
        raise InvalidInput(f"Role must be one of {', '.join(ROLES)}.", field="role")
    key_id = new_id().lower()
    key = f"tk_{key_id}_{secrets.token_urlsafe(32)}"
    record = {"key_id": key_id, "role": role, "label": label, "created_at": now_iso(), "revoked_at": None}
    TenantStore().put_api_key(tenant, hash_key(key), record)
    return key_id, key


def list_api_keys(tenant: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in entry.items() if k != "key_hash"} for entry in TenantStore().list_api_keys(tenant)]


def revoke_api_key(tenant: str, key_id: str) -> None:
    TenantStore().revoke_api_key(tenant, key_id, now_iso())
