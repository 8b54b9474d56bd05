"""Fixtures of the HTTP tests (over the session's `tags-local`, see tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.helpers import LocalApiClient, TenantKeys


@pytest.fixture
def http_tenant(local_api: LocalApiClient) -> TenantKeys:
    """A fresh tenant of the local API, so HTTP tests do not see each other's data."""
    return local_api.new_tenant()
