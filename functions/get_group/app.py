"""GET /tag-groups/{group_id} — one tag group with its tag_count, and its version as ETag."""

from tags_core.domain import groups
from tags_core.http.params import GroupIdPath
from tags_core.http.request import principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import responses, versioned
from tags_core.http.schemas import GroupEnvelope

app = build_app()


@app.get("/tag-groups/<group_id>", operation_id="get_group", summary="Get a tag group", tags=["Tag groups"],
         responses=responses(200, GroupEnvelope, 404, etag=True))
def get_group(group_id: GroupIdPath):
    return versioned(groups.show_group(principal(), group_id))


lambda_handler = handler(app)
