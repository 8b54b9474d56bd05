"""The domain's pydantic models: request bodies (strict) and the public shapes of tags, groups and their results.
The envelopes around them, for the OpenAPI document, are tags_core.http.schemas.

Request models are strict (no silent coercion of "true" to true) and forbid unknown fields.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SkipValidation,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tags_core.domain.objects import OBJECT_ID
from tags_core.names import MAX_NAME_LENGTH, NameTooLong, normalize_name

TagType = Literal["tag", "goal", "miss"]
Kind = Literal["conversation", "customer", "comment"]
KINDS: tuple[Kind, ...] = ("conversation", "customer", "comment")
TYPE_ALIASES = {1: "tag", 2: "goal", 3: "miss"}
MAX_DESCRIPTION = 500
MAX_RAW_NAME = 1024  # bound the work before normalisation; the rule itself is 255 after it
MAX_TAGS_PER_OBJECT = 100  # also the highest useful max_per_object of a group
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
# What the OpenAPI document states of ids and names, for generated clients and schemathesis. The code checks more
# (a name's unassigned and format characters, its length after normalisation; that an id names something).
ID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"  # a ULID as tags_core.ids makes them
NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"  # no control chars, not blank


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


Name = Annotated[str, Field(min_length=1, max_length=MAX_RAW_NAME, json_schema_extra={"pattern": NAME_PATTERN}),
                 AfterValidator(_name)]
# Shared schemas (components/schemas of the OpenAPI document, added by tags_tools.openapi): one enum of the tag
# types for requests and answers, and the older numbers requests may still send (1 tag, 2 goal, 3 miss).
SHARED_SCHEMAS: dict[str, dict[str, Any]] = {
    "TagType": {"title": "TagType", "type": "string", "enum": ["tag", "goal", "miss"]},
    "TagTypeNumber": {"title": "TagTypeNumber", "type": "integer", "enum": [1, 2, 3],
                      "description": "Older spellings of the tag types: 1 tag, 2 goal, 3 miss.",
                      "x-enum-varnames": ["TAG", "GOAL", "MISS"]},
}
_TYPE_REF = {"$ref": "#/components/schemas/TagType"}
TypeIn = Annotated[TagType, BeforeValidator(_type_alias), WithJsonSchema(
    {"anyOf": [_TYPE_REF, {"$ref": "#/components/schemas/TagTypeNumber"}]})]
TypeOut = Annotated[TagType, WithJsonSchema({"allOf": [_TYPE_REF]})]  # (a bare $ref in a model field trips pydantic)
TagId = Annotated[str, Field(min_length=1, max_length=64, json_schema_extra={"pattern": ID_PATTERN})]
GroupIdIn = Annotated[TagId | None, BeforeValidator(_group_alias), WithJsonSchema({"anyOf": [
    {"type": "string", "minLength": 1, "maxLength": 64, "pattern": ID_PATTERN},
    {"const": 0, "description": "An older spelling of null."}, {"type": "null"}]})]
ColorIn = Annotated[Annotated[str, Field(max_length=7, json_schema_extra={"pattern": COLOR.pattern})] | None,
                    AfterValidator(_color)]
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


def _not_null_in_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """The fields of a PATCH body that may be left out but not sent as null (refused by their validator): their
    schema is the type without its null branch and without the default."""
    for name in getattr(model, "NOT_NULL", ()):
        prop = schema["properties"][name]
        branches = [b for b in prop.pop("anyOf", []) if b.get("type") != "null"]
        prop.pop("default", None)
        if len(branches) == 1:
            prop.update(branches[0])
        elif branches:
            prop["anyOf"] = branches


class PatchModel(StrictModel):
    """A PATCH body: fields left out keep their value."""

    NOT_NULL: ClassVar[tuple[str, ...]] = ()
    model_config = ConfigDict(json_schema_extra=_not_null_in_schema)


class AppliesToPatch(PatchModel):
    """`applies_to` in PATCH: only the kinds given change; the result must still allow at least one kind."""

    NOT_NULL = ("conversation", "customer", "comment")

    conversation: bool | None = None
    customer: bool | None = None
    comment: bool | None = None

    @field_validator("conversation", "customer", "comment")
    @classmethod
    def _not_null(cls, value: bool | None) -> bool:
        if value is None:
            raise ValueError("cannot be null")
        return value


class TagPatch(PatchModel):
    """Body of PATCH /tags/{id}: only the given fields change; `null` clears color, description, group."""

    NOT_NULL = ("name", "type", "applies_to")

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

    # Items are validated one by one (SkipValidation here), each failure reported in the answer's `errors`.
    tags: list[SkipValidation[Name | TagCreate]] = Field(min_length=1, max_length=100, description=(
        "Each item is a name or a tag object as in POST /tags; an item that is neither is reported in `errors`."))


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
    type: TypeOut
    group_id: str | None
    applies_to: AppliesTo
    color: str | None
    description: str | None
    usage: Usage
    archived_at: Timestamp | None = None
    account: Account
    version: int
    created_at: Timestamp
    updated_at: Timestamp


class TagRef(Model):
    id: str
    name: str


class ErrorEntry(Model):
    """One problem with a request (or a batch item): a stable `code`, a sentence, the field, and per code extras."""

    code: str
    message: str
    field: str | None = None
    existing_id: str | None = Field(default=None, description="tag_exists, group_exists: the tag or group that "
                                                              "holds the name")
    tag_id: str | None = Field(default=None, description="not_applicable: the tag that does not apply to the kind")
    tag_ids: list[str] | None = Field(default=None, description="tag_not_found: the ids that name no tag")
    names: list[str] | None = Field(default=None, description="tag_not_found (create_missing false): the names "
                                                              "that name no tag")
    tag_count: int | None = Field(default=None, description="group_not_empty: the tags still in the group")


class ItemError(Model):
    index: int
    errors: list[ErrorEntry]


class BatchResult(Model):
    inserted: list[Tag]
    existing: list[TagRef]
    errors: list[ItemError]


MaxPerObject = Annotated[Annotated[int, Field(ge=1, le=MAX_TAGS_PER_OBJECT)] | None, Field(description=(
    "How many of the group's tags one object may carry; null: no limit, 1: exclusive (one per object)."))]


class GroupCreate(StrictModel):
    """Body of POST /tag-groups."""

    name: Name
    description: Description = None
    max_per_object: MaxPerObject = None


class GroupPatch(PatchModel):
    """Body of PATCH /tag-groups/{id}: only the given fields change."""

    NOT_NULL = ("name",)

    name: Name | None = None
    description: Description = None
    max_per_object: MaxPerObject = None

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
    max_per_object: int | None = None
    account: Account
    version: int
    created_at: Timestamp
    updated_at: Timestamp


class AttachRequest(StrictModel):
    """Body of POST and PUT /{kind}/{object_id}/tags: tags by name and/or id (50 per call at most)."""

    tags: list[Name] = Field(default_factory=list, max_length=50)
    tag_ids: list[TagId] = Field(default_factory=list, max_length=50)
    create_missing: bool = True
    replace_in_group: bool = Field(default=False, description=(
        "When a tag would take its group over the group's max_per_object on this object, detach the object's "
        "other tags of that group in the same write (instead of 409 group_limit)."))


class ObjectRef(Model):
    kind: Kind
    id: str


class TaggedObject(Model):
    kind: Kind
    id: str
    attached_at: Timestamp


class FoundObject(Model):
    kind: Kind
    id: str
    tag_ids: list[str]


class MergeRequest(StrictModel):
    """Body of POST /tags/{id}/merge."""

    into: TagId


class MergeResult(Model):
    id: str
    into: str
    alias: str
    objects: Usage
    dry_run: bool
    status: Literal["dry_run", "merged", "in_progress"]
    moved: Usage | None = None


class HistoryTag(Model):
    id: str
    name: str | None = Field(description="Its name when the change was recorded (null if it was unknown then).")


class HistoryEntry(Model):
    """One tag attached to or detached from an object (GET /{kind}/{object_id}/tags/history)."""

    at: Timestamp
    action: Literal["attached", "detached"]
    tag: HistoryTag
    actor: str | None = Field(description="The API key id of the write; queue:<message id> for commands; null if "
                                          "the write recorded none.")
    source: Literal["api", "queue", "bulk", "merge", "cleanup"]


# --- bulk changes (POST /{kind}/tags/bulk; its answers are in tags_core.http.schemas) ------------------------------

MAX_BULK_OBJECTS = 1000
ObjectId = Annotated[str, Field(pattern=OBJECT_ID.pattern)]
TagRefIn = Annotated[str, Field(min_length=1, max_length=MAX_RAW_NAME, json_schema_extra={"pattern": NAME_PATTERN})]


class BulkRequest(StrictModel):
    """Body of POST /{kind}/tags/bulk: the same change (tags by name or id) to 1-1,000 objects."""

    objects: list[ObjectId] = Field(min_length=1, max_length=MAX_BULK_OBJECTS, description="Object ids, each once.")
    add: list[TagRefIn] = Field(default_factory=list, max_length=50, description="Tag names or ids to attach.")
    remove: list[TagRefIn] = Field(default_factory=list, max_length=50, description="Tag names or ids to detach.")
    create_missing: bool = True
    replace_in_group: bool = Field(default=False, description="As in POST /{kind}/{object_id}/tags, per object.")

    @model_validator(mode="after")
    def _does_something(self) -> BulkRequest:
        if not self.add and not self.remove:
            raise ValueError("add or remove must name at least one tag")
        if len(set(self.objects)) != len(self.objects):
            raise ValueError("each object may be named once")
        return self
