"""GET /tags — the tenant's tags: page or cursor pagination, prefix search, filters and four sorts."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query

from tags_core import api, tags
from tags_core.models import TagList
from tags_core.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest

app = api.build_app()


@app.get("/tags", summary="List tags", tags=["Tags"], responses=api.responses(200, TagList))
def list_tags(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    page: Annotated[int | None, Query(ge=1)] = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=255, description="Name prefix, case-insensitive")] = None,
    type: Annotated[Literal["tag", "goal", "miss", "1", "2", "3"] | None, Query()] = None,
    group_id: Annotated[str | None, Query(min_length=1, max_length=64, description="A group id, or null")] = None,
    applies_to: Annotated[Literal["conversation", "customer", "comment"] | None, Query()] = None,
    sort: Annotated[Literal["name", "-name", "created_at", "-created_at"], Query()] = "name",
):
    request = PageRequest.of(limit, page, cursor)
    tag_type = {"1": "tag", "2": "goal", "3": "miss"}.get(type or "", type)
    data, meta, links = tags.list_tags(api.principal(), request, path=api.request_path(), q=q, type=tag_type,
                                       group_id=group_id, applies_to=applies_to, sort=sort)
    return api.ok(data, meta=meta, links=links)


lambda_handler = api.handler(app)
