"""GET /tags/{tag_id}/objects — the objects carrying a tag, cursor paginated."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query

from tags_core import api, attachments
from tags_core.models import TaggedObjectList
from tags_core.pagination import DEFAULT_LIMIT, MAX_LIMIT

app = api.build_app()


@app.get("/tags/<tag_id>/objects", summary="List the objects carrying a tag", tags=["Tags on objects"],
         responses=api.responses(200, TaggedObjectList, 404))
def list_tag_objects(
    tag_id: str,
    kind: Annotated[Literal["conversations", "customers", "comments"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
):
    data, meta = attachments.list_tag_objects(api.principal(), tag_id, kind, limit, cursor)
    return api.ok(data, meta=meta)


lambda_handler = api.handler(app)
