"""Path and query parameters more than one route declares, documented (OpenAPI) and checked in one place."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import WithJsonSchema

from tags_core.domain.models import ID_PATTERN
from tags_core.domain.objects import KIND_OF_PLURAL, OBJECT_ID
from tags_core.errors import NotFound
from tags_core.http.paging import DEFAULT_LIMIT, MAX_LIMIT

# Documented as what the domain accepts; checked by object_kind (unknown kind 404) and the domain (bad id 400).
# The kinds are one shared schema (components/schemas/ObjectKinds, added by tags_tools.openapi), so a generated
# client has one enum for the five routes that take a kind.
KIND_SCHEMA_NAME = "ObjectKinds"
KIND_SCHEMA = {"title": KIND_SCHEMA_NAME, "type": "string", "enum": list(KIND_OF_PLURAL),
               "description": "The kinds of objects tags go on, as path segments."}
Kind = Annotated[str, WithJsonSchema({"$ref": f"#/components/schemas/{KIND_SCHEMA_NAME}"}),
                 Path(description="conversations, customers or comments")]
KindFilter = Annotated[Literal["conversations", "customers", "comments"] | None,
                       WithJsonSchema({"$ref": f"#/components/schemas/{KIND_SCHEMA_NAME}"}),
                       Query(description="Only objects of this kind")]
ObjectId = Annotated[str, Path(description="1-128 of A-Z a-z 0-9 . _ : -",
                               json_schema_extra={"pattern": OBJECT_ID.pattern})]

# Ids in paths: the schema states their form; the code answers 404 for an id of another form (no such tag/group).
TagIdPath = Annotated[str, Path(description="A tag id", json_schema_extra={"pattern": ID_PATTERN})]
GroupIdPath = Annotated[str, Path(description="A tag group id", json_schema_extra={"pattern": ID_PATTERN})]
BulkJobIdPath = Annotated[str, Path(description="A bulk job id", json_schema_extra={"pattern": ID_PATTERN})]
# Detaching is idempotent whatever the value: one that names no attached tag changes nothing (200).
AnyTagIdPath = Annotated[str, Path(description="A tag id; any other value is simply not attached (nothing changes)")]

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
PageNumber = Annotated[int | None, Query(ge=1)]
Cursor = Annotated[str | None, Query(min_length=1, max_length=2048)]
Search = Annotated[str | None, Query(min_length=1, max_length=255, description="Name prefix, case-insensitive")]
Sort = Annotated[Literal["name", "-name", "created_at", "-created_at"], Query()]
# `none` selects the free-standing tags (in no group): a value a typed client can send, unlike a null it drops.
# `null` and `0` mean the same (older spellings, still accepted).
GroupFilter = Annotated[str | None, Query(
    min_length=1, max_length=64, description="A group id: the tags of that group; `none`: the free-standing tags "
                                             "(in no group); `null` and `0` are older spellings of `none`.",
    json_schema_extra={"pattern": f"^(none|null|0|{ID_PATTERN.strip('^$')})$"})]
# GET /tags?type=: the names and, for older clients, their numbers; named members for generated clients.
TypeFilter = Annotated[Literal["tag", "goal", "miss", "1", "2", "3"] | None, Query(
    description="tag, goal or miss (1, 2 and 3 are older spellings)",
    json_schema_extra={"x-enum-varnames": ["TAG", "GOAL", "MISS", "TAG_1", "GOAL_2", "MISS_3"]})]
__all__ = [
    "DEFAULT_LIMIT",
    "KIND_SCHEMA",
    "KIND_SCHEMA_NAME",
    "Cursor",
    "GroupFilter",
    "Kind",
    "Limit",
    "ObjectId",
    "PageNumber",
    "Search",
    "Sort",
    "TypeFilter",
    "object_kind",
]


def object_kind(path_kind: str) -> str:
    """The object kind a path names (`conversations` → `conversation`); any other word is no route."""
    kind = KIND_OF_PLURAL.get(path_kind)
    if kind is None:
        raise NotFound("No such route; objects are conversations, customers or comments.")
    return kind
