"""DELETE /tags/{tag_id} — delete a tag; honours If-Match."""

from tags_core.domain import tags
from tags_core.http.params import TagIdPath
from tags_core.http.request import if_match, principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import ok, responses
from tags_core.http.schemas import DeletedEnvelope

app = build_app()


@app.delete("/tags/<tag_id>", operation_id="delete_tag", summary="Delete a tag", tags=["Tags"],
            responses=responses(200, DeletedEnvelope, 404, 409, 412))
def delete_tag(tag_id: TagIdPath):
    return ok(tags.delete_tag(principal(), tag_id, if_match()))


lambda_handler = handler(app)
