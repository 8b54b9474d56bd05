"""GET /tag-groups — the tenant's tag groups, paginated like tags."""

from tags_core.domain import groups
from tags_core.http.paging import PageRequest, paged
from tags_core.http.params import DEFAULT_LIMIT, Cursor, Limit, PageNumber, Search, Sort
from tags_core.http.request import principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import responses
from tags_core.http.schemas import GroupList

app = build_app()


@app.get("/tag-groups", operation_id="list_groups",
         summary="List tag groups", tags=["Tag groups"], responses=responses(200, GroupList))
def list_groups(limit: Limit = DEFAULT_LIMIT, page: PageNumber = None, cursor: Cursor = None, q: Search = None,
                sort: Sort = "name"):
    return paged(PageRequest.of(limit, page, cursor), {"q": q, "sort": sort},
                 lambda window: groups.list_groups(principal(), window, q=q, sort=sort), scope={"list": "groups"})


lambda_handler = handler(app)
