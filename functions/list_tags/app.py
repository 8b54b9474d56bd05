"""GET /tags — the tenant's tags: page or cursor pagination, prefix search, filters and four sorts."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query

from tags_core.domain import tags
from tags_core.http.paging import PageRequest, paged
from tags_core.http.params import DEFAULT_LIMIT, Cursor, GroupFilter, Limit, PageNumber, Search, Sort, TypeFilter
from tags_core.http.request import principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import responses
from tags_core.http.schemas import TagList

app = build_app()


@app.get("/tags", operation_id="list_tags", summary="List tags", tags=["Tags"], responses=responses(200, TagList))
def list_tags(
    limit: Limit = DEFAULT_LIMIT,
    page: PageNumber = None,
    cursor: Cursor = None,
    q: Search = None,
    type: TypeFilter = None,
    group_id: GroupFilter = None,
    applies_to: Annotated[Literal["conversation", "customer", "comment"] | None, Query()] = None,
    sort: Sort = "name",
    archived: Annotated[Literal["false", "true", "all"], Query(
        description="Archived tags: hidden (false), only them (true), or listed with the others (all)")] = "false",
):
    tag_type = {"1": "tag", "2": "goal", "3": "miss"}.get(type or "", type)
    return paged(PageRequest.of(limit, page, cursor),
                 {"q": q, "type": tag_type, "group_id": group_id, "applies_to": applies_to, "sort": sort,
                  "archived": None if archived == "false" else archived},
                 lambda window: tags.list_tags(principal(), window, q=q, tag_type=tag_type, group_id=group_id,
                                               applies_to=applies_to, sort=sort, archived=archived))


lambda_handler = handler(app)
