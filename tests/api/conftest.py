"""Fixtures of the API tests: the functions' handlers invoked in process with API Gateway REST events.

    gateway        the session's Gateway (template routes, authorizer cache off)
    invoke         invoke(method, path, ...) -> Result: the route's real lambda_handler behind the local gateway
                   (see tests.helpers.gateway_invoker)
    call_counter   the DynamoDB calls made through tags_core.db.client()
    stream         the table's DynamoDB stream, fed to the real stream processor on drain()
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from functions.stream_processor.app import lambda_handler as stream_handler
from tags_core import db
from tags_tools.local_server import Gateway
from tags_tools.stream_poller import StreamPoller
from tests.helpers import CallCounter, Invoke, TenantKeys, gateway_invoker


@pytest.fixture(scope="session")
def gateway() -> Gateway:
    """The template's routes and authorizer in this process (authorizer results not cached)."""
    return Gateway(authorizer_ttl=0)


@pytest.fixture
def invoke(gateway: Gateway, tenant: TenantKeys) -> Invoke:
    """invoke(method, path, ...) -> Result, as `tenant`'s write key by default (tests.helpers.gateway_invoker)."""
    return gateway_invoker(gateway, tenant)


@pytest.fixture
def call_counter(tenant: TenantKeys) -> Iterator[CallCounter]:
    """Counts the calls made through tags_core.db.client() from here on (the tenant setup is not counted)."""
    counter = CallCounter()
    events = db.client().meta.events
    events.register("before-call.dynamodb", counter.record)
    yield counter
    events.unregister("before-call.dynamodb", counter.record)


@pytest.fixture
def stream(table: str, monkeypatch: pytest.MonkeyPatch) -> StreamPoller:
    """The table's DynamoDB stream, fed to the real stream processor on drain() (the reverse index follows it)."""
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    return StreamPoller(table, stream_handler)
