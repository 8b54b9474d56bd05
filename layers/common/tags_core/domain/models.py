"""The domain's pydantic models: request bodies (strict) and the public shapes of tags, groups and their results.
The envelopes around them, for the OpenAPI document, are tags_core.http.schemas.

Request models are strict (no silent coercion of "true" to true) and forbid unknown fields.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from tags_core.domain.objects import OBJECT_ID
from tags_core.names import MAX_NAME_LENGTH, NameTooLong, normalize_name

TagType = Literal["tag", "goal", "miss"]
Kind = Literal["conversation", "customer", "comment"]
KINDS: tuple[Kind, ...] = ("conversation", "customer", "comment")
TYPE_ALIASES = {1: "tag", 2: "goal", 3: "miss"}
MAX_DESCRIPTION = 500
MAX_RAW_NAME = 1024  # bound the work before normalisation; the rule itself is 255 after it
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _type_alias(value: Any) -> Any:
    if type(value) is int and value in TYPE_ALIASES:
        return TYPE_ALIASES[value]
    return value


def _group_alias(value: Any) -> Any:
    return None if type(value) is int and value == 0 else value


def _color(value: str | None) -> str | None:
    if value is None:
        return None
    if not COLOR.match(value):
        raise ValueError("must be a colour like #ff8800")
    return value.lower()


def _name(value: str) -> str:
    try:
        return normalize_name(value)
    except NameTooLong as exc:
        raise PydanticCustomError("string_too_long", "must be at most {max} characters after normalisation",
                                  {"max": MAX_NAME_LENGTH}) from exc


Name = Annotated[str, Field(min_length=1, max_length=MAX_RAW_NAME), AfterValidator(_name)]
TypeIn = Annotated[TagType, BeforeValidator(_type_alias)]
GroupIdIn = Annotated[Annotated[str, Field(min_length=1, max_length=64)] | None, BeforeValidator(_group_alias)]
ColorIn = Annotated[Annotated[str, Field(max_length=7)] | None, AfterValidator(_color)]
Description = Annotated[Annotated[str, Field(max_length=MAX_DESCRIPTION)] | None, Field()]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]  # RFC 3339, UTC, milliseconds


class Model(BaseModel):
    """Every model of the service. Schemas are built on first use, not at import: a function builds only the
    models its route validates (response models are built only for the OpenAPI document)."""

    model_config = ConfigDict(defer_build=True)


class StrictModel(Model):
    model_config = ConfigDict(extra="forbid", strict=True)


class AppliesTo(StrictModel):
    """Which object kinds a tag may be attached to. At least one must be true."""

    conversation: bool = True
    customer: bool = True
    comment: bool = True

    @model_validator(mode="after")
    def _at_least_one(self) -> AppliesTo:
        if not (self.conversation or self.customer or self.comment):
            raise ValueError("at least one of conversation, customer, comment must be true")
        return self


class TagCreate(StrictModel):
    """Body of POST /tags and of PUT /tags/{id} (PUT: absent fields reset to these defaults)."""

    name: Name
    type: TypeIn = "tag"
    group_id: GroupIdIn = None
    applies_to: AppliesTo = Field(default_factory=AppliesTo)
    color: ColorIn = None
    description: Description = None


class AppliesToPatch(StrictModel):
    """`applies_to` in PATCH: only the kinds given change; the result must still allow at least one kind."""

    conversation: bool | None = None
    customer: bool | None = None
    comment: bool | None = None

    @field_validator("conversation", "customer", "comment")
    @classmethod
    def _not_null(cls, value: bool | None) -> bool:
        if value is None:
            raise ValueError("cannot be null")
        return value


class TagPatch(StrictModel):
    """Body of PATCH /tags/{id}: only the given fields change; `null` clears color, description, group."""

    name: Name | None = None
    type: TypeIn | None = None
    group_id: GroupIdIn = None
    applies_to: AppliesToPatch | None = None
    color: ColorIn = None
    description: Description = None

    @field_validator("name", "type", "applies_to")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null")
        return value


class BatchCreate(StrictModel):
    """Body of POST /tags/batch. Each item is a name or a tag object; items are validated one by one."""

    tags: list[Any] = Field(min_length=1, max_length=100, description=(
        "Each item is a name or a tag object as in POST /tags; an item of any other type is reported in `errors`."))


class Usage(Model):
    conversation: int = 0
    customer: int = 0
    comment: int = 0


class Account(Model):
    id: str


class Tag(Model):
    """A tag as the API returns it, and as it is stored (plus storage keys)."""

    id: str
    object: Literal["tag"] = "tag"
    name: str
    name_slug: str
    type: TagType
    group_id: str | None
    applies_to: AppliesTo
    color: str | None
    description: str | None
    usage: Usage
    account: Account
    version: int
    created_at: Timestamp
    updated_at: Timestamp


class TagRef(Model):
    id: str
    name: str


class ItemError(Model):
    index: int
    errors: list[dict[str, Any]]


class BatchResult(Model):
    inserted: list[Tag]
    existing: list[TagRef]
    errors: list[ItemError]


class GroupCreate(StrictModel):
    """Body of POST /tag-groups."""

    name: Name
    description: Description = None


class GroupPatch(StrictModel):
    """Body of PATCH /tag-groups/{id}: only the given fields change."""

    name: Name | None = None
    description: Description = None

    @model_validator(mode="after")
    def _name_not_null(self) -> GroupPatch:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null")
        return self


class Group(Model):
    id: str
    object: Literal["tag_group"] = "tag_group"
    name: str
    name_slug: str
    description: str | None
    tag_count: int
    account: Account
    version: int
    created_at: Timestamp
    updated_at: Timestamp


class AttachRequest(StrictModel):
    """Body of POST and PUT /{kind}/{object_id}/tags: tags by name and/or id (50 per call at most)."""

    tags: list[Name] = Field(default_factory=list, max_length=50)
    tag_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list, max_length=50)
    create_missing: bool = True


class ObjectRef(Model):
    kind: Kind
    id: str


class TaggedObject(Model):
    kind: Kind
    id: str
    attached_at: Timestamp


class MergeRequest(StrictModel):
    """Body of POST /tags/{id}/merge."""

    into: Annotated[str, Field(min_length=1, max_length=64)]


class MergeResult(Model):
    id: str
    into: str
    alias: str
    objects: Usage
    dry_run: bool
    status: Literal["dry_run", "merged", "in_progress"]
    moved: Usage | None = None


# --- bulk changes (POST /{kind}/tags/bulk, GET /bulk-jobs/{id}) --------------------------------------------------

MAX_BULK_OBJECTS = 1000
TagRefIn = Annotated[str, Field(min_length=1, max_length=MAX_RAW_NAME)]


class BulkRequest(StrictModel):
    """Body of POST /{kind}/tags/bulk: the same change (tags by name or id) to 1-1,000 objects."""

    objects: list[Annotated[str, Field(pattern=OBJECT_ID.pattern)]] = Field(
        min_length=1, max_length=MAX_BULK_OBJECTS, description="Object ids, each once.")
    add: list[TagRefIn] = Field(default_factory=list, max_length=50, description="Tag names or ids to attach.")
    remove: list[TagRefIn] = Field(default_factory=list, max_length=50, description="Tag names or ids to detach.")
    create_missing: bool = True

    @model_validator(mode="after")
    def _does_something(self) -> BulkRequest:
        if not self.add and not self.remove:
            raise ValueError("add or remove must name at least one tag")
        if len(set(self.objects)) != len(self.objects):
            raise ValueError("each object may be named once")
        return self


BulkStatus = Literal["changed", "unchanged", "failed"]


class BulkObjectResult(Model):
    object_id: str
    status: BulkStatus
    errors: list[dict[str, Any]] | None = None


class BulkProgress(Model):
    total: int
    changed: int
    unchanged: int
    failed: int


class BulkFailure(Model):
    object_id: str
    errors: list[dict[str, Any]]


class BulkJob(Model):
    id: str
    object: Literal["bulk_job"] = "bulk_job"
    status: Literal["queued", "running", "done"]
    kind: Kind
    progress: BulkProgress
    failures: list[BulkFailure] | None = None
    created_at: Timestamp
    updated_at: Timestamp
    finished_at: Timestamp | None = None
