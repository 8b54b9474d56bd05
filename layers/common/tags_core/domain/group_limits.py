"""Groups' `max_per_object` on one object: what an attach may add, and what `replace_in_group` detaches.

The rule is checked on what the attach read (the object's tag set at its version, the live tags and their
groups), and that read is pinned by the write itself: the set's Put is conditional on the version read, each
added tag's usage update on the group it was read in, and each group it adds to is condition-checked for a
max_per_object that still allows the object's new count (tags_core.store.tag_sets.GroupGuard). Whatever the
interleaving, an attach never commits beyond a group's limit as it stands when the attach commits.

Not re-checked (documented in docs/api.md): objects already over a limit because it was lowered, because a tag
they carry moved into the group (PATCH group_id), or because a merge moved a tag of the group onto them keep their
tags; the next attach of that group's tags on them is checked.
"""

from __future__ import annotations

from typing import Any

from tags_core.errors import Conflict
from tags_core.store.tag_sets import NO_GROUP, GroupGuard


def group_limit(group_id: str, limit: int, asked: int) -> Conflict:
    return Conflict(f"An object carries at most {limit} tag(s) of this group; pass replace_in_group=true to "
                    "swap.", code="group_limit", field="tags", group_id=group_id, max_per_object=limit,
                    requested=asked)


def groups_of(live: dict[str, dict[str, Any]], added: list[str]) -> list[str]:
    """The groups the tags being added belong to (as read)."""
    return sorted({str(live[i]["group_id"]) for i in added if i in live and live[i].get("group_id")})


def apply_limits(live: dict[str, dict[str, Any]], groups: dict[str, dict[str, Any]], new_set: dict[str, str],
                 asked: set[str], added: list[str], replace_in_group: bool) -> tuple[list[str], GroupGuard]:
    """Check each group a tag is added to against its max_per_object on the object's new set.

    Returns the ids to detach as well (with `replace_in_group`: the group's tags on the object that the request
    did not ask for) and the guard the write checks. Raises 409 group_limit when the limit would be exceeded
    without `replace_in_group`, or when the request itself asks for more of the group's tags than it allows.
    """
    members = {i: str(live[i].get("group_id") or NO_GROUP) for i in added if i in live}
    detach: list[str] = []
    counts: dict[str, int] = {}
    for group_id in groups_of(live, added):
        limit = (groups.get(group_id) or {}).get("max_per_object")
        in_group = [i for i in new_set if i in live and live[i].get("group_id") == group_id]
        if limit is not None and len(in_group) > int(limit):
            wanted = [i for i in in_group if i in asked]
            if not replace_in_group or len(wanted) > int(limit):
                raise group_limit(group_id, int(limit), len(wanted))
            detach.extend(i for i in in_group if i not in asked)
            in_group = wanted
        counts[group_id] = len(in_group)
    return detach, GroupGuard(members, counts)
