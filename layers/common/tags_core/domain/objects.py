"""The objects tags go on: their kinds (singular in the domain, plural in paths and commands) and their ids."""

from __future__ import annotations

import re

from tags_core.errors import InvalidInput

KIND_OF_PLURAL = {"conversations": "conversation", "customers": "customer", "comments": "comment"}
OBJECT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def check_object_id(object_id: str) -> str:
    if not OBJECT_ID.match(object_id):
        raise InvalidInput("Object ids are 1-128 of A-Z a-z 0-9 . _ : -", field="object_id")
    return object_id
