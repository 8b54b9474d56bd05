"""The DynamoDB client, created lazily once per process (cold start pays for it only when a request needs it).

Clients are plain botocore clients (what boto3's `client()` returns) made without importing boto3 (whose s3transfer
and multiprocessing imports no function needs), with one data loader per process that does not list botocore's ~400
service directories to check that the service exists (botocore does that twice per client): creating the client
then takes about two thirds of the time `boto3.client("dynamodb")` takes, on top of the import saved. See
docs/benchmarks.md.
"""

from __future__ import annotations

import contextlib
import functools
import os
from typing import TYPE_CHECKING, Any

from tags_core.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SERVICES = ("dynamodb", "events", "sqs")  # the AWS services the layer makes clients for (see create_client)


@functools.lru_cache(maxsize=1)
def client() -> DynamoDBClient:
    from botocore.config import Config  # noqa: PLC0415 - deferred: only requests that reach DynamoDB pay for it

    settings = get_settings()
    config = Config(
        # 4 attempts in all (botocore's "max_attempts" would count retries: 5). Throttled, the backoff is at most
        # 1 + 2 + 4 s, so a request still answers 503 itself within the functions' 10 s timeout.
        retries={"mode": "standard", "total_max_attempts": 4},
        connect_timeout=2,
        read_timeout=5,
        tcp_keepalive=True,
    )
    return create_client("dynamodb", region_name=settings.region, endpoint_url=settings.dynamodb_endpoint_url,
                         config=config)


def create_client(service: str, **kwargs: Any) -> Any:
    """A botocore client of one of SERVICES on a session of its own, as `boto3.session.Session().client(...)`."""
    from botocore.session import get_session  # noqa: PLC0415

    session = get_session()
    session.register_component("data_loader", _loader())
    return session.create_client(service, **kwargs)


@functools.cache
def _loader() -> Any:
    """botocore's data loader (search path and AWS_DATA_PATH as botocore's own), shared by every client of the
    process (its data is read-only), answering "which services exist" for SERVICES only."""
    from botocore.exceptions import DataNotFoundError  # noqa: PLC0415
    from botocore.loaders import Loader  # noqa: PLC0415

    class KnownServicesLoader(Loader):
        def list_available_services(self, type_name: str) -> list[str]:
            known = []
            for name in SERVICES:
                with contextlib.suppress(DataNotFoundError):
                    if self.list_api_versions(name, type_name):
                        known.append(name)
            return known

    extra = [os.path.expanduser(os.path.expandvars(path))
             for path in os.environ.get("AWS_DATA_PATH", "").split(os.pathsep) if path]
    return KnownServicesLoader(extra_search_paths=extra)


def reset() -> None:
    """Forget the cached client and settings (tests and the local server switch tables)."""
    client.cache_clear()
    get_settings.cache_clear()
