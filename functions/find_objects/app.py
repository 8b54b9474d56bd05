"""GET /{kind}?all=&any=&none= — the objects of a kind found by several tags, cursor paginated."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from tags_core.domain import finder
from tags_core.http.paging import cursored
from tags_core.http.params import DEFAULT_LIMIT, Cursor, Kind, Limit, object_kind
from tags_core.http.request import principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import responses
from tags_core.http.schemas import FoundObjectList

app = build_app()

TERMS = "Tag ids or names separated by commas; 10 tags in all, any and none together at most"
AllTags = Annotated[str | None, Query(alias="all", min_length=1, max_length=4096, description=TERMS)]
AnyTags = Annotated[str | None, Query(alias="any", min_length=1, max_length=4096, description=TERMS)]
NoneTags = Annotated[str | None, Query(alias="none", min_length=1, max_length=4096, description=TERMS)]


@app.get("/<kind>", operation_id="find_objects",
         summary="Find objects by several tags (all / any / none)", tags=["Tags on objects"],
         responses=responses(200, FoundObjectList, 404))
def find_objects(kind: Kind, all_tags: AllTags = None, any_tags: AnyTags = None, none_tags: NoneTags = None,
                 limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None):
    of_kind = object_kind(kind)
    return cursored({"kind": of_kind, "all": all_tags, "any": any_tags, "none": none_tags}, cursor,
                    lambda start: finder.find_objects(principal(), of_kind, all_tags, any_tags, none_tags, limit,
                                                      start))


lambda_handler = handler(app)
