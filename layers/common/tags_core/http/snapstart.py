"""Lambda SnapStart for the API functions (template parameter EnableSnapStart): what is done before the snapshot.

With SnapStart, Lambda runs a published version's initialisation once, snapshots the memory, and starts later
environments from the snapshot. The Python runtime provides `snapshot_restore_py`; hooks registered with it run
before the snapshot is taken and after each restore. `tags_core.http.resolver.handler` calls `register()` while
the function's module is imported, which is the initialisation the snapshot keeps.

- Before the snapshot (`prepare`): the settings validated, the DynamoDB client built (botocore's service model and
  endpoint rules loaded; no connection is opened, so none goes stale in the snapshot), the idempotency utility and
  the error-path modules imported (loaded lazily otherwise, by the first request that needs them).
- After a restore (`refresh`): the `random` module reseeded, since every environment restored from one snapshot
  would otherwise draw the same retry jitter. Ids use os.urandom and need nothing.

Without SnapStart (AWS_LAMBDA_INITIALIZATION_TYPE is not "snap-start") `register` does nothing and costs nothing:
the runtime module is not even looked for.
"""

from __future__ import annotations

import importlib
import os
import random
from collections.abc import Callable
from typing import Any

__all__ = ["WARM_MODULES", "prepare", "refresh", "register"]

# Imported by the first request that needs them; worth having in the snapshot.
WARM_MODULES = (
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.idempotency.persistence.dynamodb",
    "aws_lambda_powertools.event_handler.openapi.compat",
    "botocore.retries.standard",
)


def prepare() -> None:
    """The before-snapshot hook: everything a first request would otherwise load or build."""
    from tags_core.settings import get_settings  # noqa: PLC0415 - only when snapshotting
    from tags_core.store import client as db  # noqa: PLC0415

    get_settings()
    db.client()
    for module in WARM_MODULES:
        importlib.import_module(module)


def refresh() -> None:
    """The after-restore hook."""
    random.seed()


def register(importer: Callable[[str], Any] = importlib.import_module) -> bool:
    """Register the hooks when this environment is initialised for a snapshot; True if they were."""
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") != "snap-start":
        return False
    try:
        runtime = importer("snapshot_restore_py")  # provided by Lambda's Python runtime, not installable
    except ImportError:
        return False
    runtime.register_before_snapshot(prepare)
    runtime.register_after_restore(refresh)
    return True
