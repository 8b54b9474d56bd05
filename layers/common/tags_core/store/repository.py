"""Every repository in one object, for tools and tests that work across aggregates (the layer's own code uses the
repository of the aggregate it works on). MergeStore brings tag sets and tags (TagSetStore, TagStore) with it."""

from __future__ import annotations

from tags_core.store.groups import GroupStore
from tags_core.store.merges import MergeStore
from tags_core.store.tenants import TenantStore


class Repository(TenantStore, GroupStore, MergeStore):
    """All of the table's access methods (each defined in its aggregate's module)."""
