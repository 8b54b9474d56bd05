"""Fixtures every layer uses (the classes and helpers behind them are in tests/helpers.py).

    aws_environment  (autouse) dummy AWS credentials, region us-east-1, TABLE_NAME, CURSOR_SECRET, quiet Powertools,
                     and a tags_core.db.reset() before and after every test
    table            the table (from template.yaml, TTL on) in a fresh in-process moto mock; yields its name
    tenant           a tenant "acme" with a write and a read key (TenantKeys); other_tenant: "globex"
    make_tenant      make_tenant(name, tenant_id=None) -> TenantKeys, more tenants in the same table
    local_api        LocalApiClient of one `tags-local` process per session (moto inside it, authorizer cache off)
    spawn_tags_local spawn_tags_local(*args, env=None) -> (client, startup lines): a process of the test's own

Folder fixtures: api/conftest.py (gateway, invoke, call_counter, stream, faults, seed), http/conftest.py (http_tenant).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from urllib.parse import urlsplit

import botocore.session
import pytest
from moto import mock_aws

from tags_tools.local import moto_fixes
from tests.helpers import (
    TEST_ENVIRONMENT,
    LocalApiClient,
    TenantKeys,
    create_test_table,
    db,
    launch_tags_local,
    new_tenant,
    one_request_at_a_time,
)


@pytest.fixture(scope="session", autouse=True)
def _shared_botocore_data() -> Iterator[None]:
    """Every boto3 session (tags_core.db makes one per client) reads botocore's data files once per test run, not
    once per session: ~0.3 s saved per client. The data is read-only."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", functools.lru_cache(maxsize=8)(botocore.session.create_loader))
        yield


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in TEST_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    for name in ("DYNAMODB_ENDPOINT_URL", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)  # also puts back whatever a test leaves there
    db.reset()
    yield
    db.reset()


# --- in-process: moto mock, one table per test -----------------------------------------------------------------

@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The service's table in a fresh in-process moto (state does not outlive the test). Requests from several
    threads are applied one at a time, as DynamoDB applies each atomically."""
    one_request_at_a_time(monkeypatch)
    moto_fixes.apply()  # what tags-local's DynamoDB has: a transaction's cost bounded, stream shards kept
    with mock_aws():
        db.reset()
        yield create_test_table()
    db.reset()


@pytest.fixture
def make_tenant(table: str) -> Callable[..., TenantKeys]:
    """make_tenant(name, tenant_id=None) -> TenantKeys in the test's table."""
    return new_tenant


@pytest.fixture
def tenant(table: str) -> TenantKeys:
    return new_tenant("Acme", "acme")


@pytest.fixture
def other_tenant(table: str) -> TenantKeys:
    return new_tenant("Globex", "globex")


# --- over HTTP: tags-local processes ----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def local_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApiClient]:
    """`tags-local` on a free port with its own DynamoDB, authorizer cache off (revocations apply at once)."""
    client, _ = launch_tags_local(tmp_path_factory.mktemp("local-api") / "tags-local.log",
                                  "--port", "0", "--authorizer-ttl", "0")
    try:
        assert urlsplit(client.url).port
        client.tenant = client.new_tenant("HTTP Acme")
        client.other_tenant = client.new_tenant("HTTP Globex")
        yield client
    finally:
        client.stop()


@pytest.fixture
def spawn_tags_local(tmp_path: Path) -> Iterator[Callable[..., tuple[LocalApiClient, dict[str, str]]]]:
    """spawn_tags_local(*args, env=None) -> (client, startup lines): another `tags-local` process for this test
    (stopped at the end), e.g. spawn_tags_local("--workers", "1", env={"PORT": "3999"})."""
    clients: list[LocalApiClient] = []

    def spawn(*args: str, env: Mapping[str, str] | None = None) -> tuple[LocalApiClient, dict[str, str]]:
        client, lines = launch_tags_local(tmp_path / f"tags-local-{len(clients)}.log", *args, env=env)
        clients.append(client)
        return client, lines

    yield spawn
    for client in clients:
        client.stop()
