"""Path and query parameters more than one route declares, documented (OpenAPI) and checked in one place."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from tags_core.domain.objects import KIND_OF_PLURAL, OBJECT_ID
from tags_core.errors import NotFound
from tags_core.http.paging import DEFAULT_LIMIT, MAX_LIMIT

# Documented as what the domain accepts; checked by object_kind (unknown kind 404) and the domain (bad id 400).
Kind = Annotated[str, Path(description="conversations, customers or comments",
                           json_schema_extra={"enum": list(KIND_OF_PLURAL)})]
ObjectId = Annotated[str, Path(description="1-128 of A-Z a-z 0-9 . _ : -",
                               json_schema_extra={"pattern": OBJECT_ID.pattern})]

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
PageNumber = Annotated[int | None, Query(ge=1)]
Cursor = Annotated[str | None, Query(min_length=1, max_length=2048)]
Search = Annotated[str | None, Query(min_length=1, max_length=255, description="Name prefix, case-insensitive")]
Sort = Annotated[Literal["name", "-name", "created_at", "-created_at"], Query()]
__all__ = ["DEFAULT_LIMIT", "Cursor", "Kind", "Limit", "ObjectId", "PageNumber", "Search", "Sort", "object_kind"]


def object_kind(path_kind: str) -> str:
    """The object kind a path names (`conversations` → `conversation`); any other word is no route."""
    kind = KIND_OF_PLURAL.get(path_kind)
    if kind is None:
        raise NotFound("No such route; objects are conversations, customers or comments.")
    return kind
