"""GET /tag-groups — the tenant's tag groups, paginated like tags."""

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query

from tags_core import api, groups
from tags_core.models import GroupList
from tags_core.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest

app = api.build_app()


@app.get("/tag-groups", summary="List tag groups", tags=["Tag groups"], responses=api.responses(200, GroupList))
def list_groups(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    page: Annotated[int | None, Query(ge=1)] = None,
    cursor: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=255, description="Name prefix, case-insensitive")] = None,
    sort: Annotated[Literal["name", "-name", "created_at", "-created_at"], Query()] = "name",
):
    data, meta, links = groups.list_groups(api.principal(), PageRequest.of(limit, page, cursor),
                                           path=api.request_path(), q=q, sort=sort)
    return api.ok(data, meta=meta, links=links)


lambda_handler = api.handler(app)
