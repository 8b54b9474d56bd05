"""POST /tags/{tag_id}/archive — hide a tag from lists and new attachments; it stays on the objects carrying it."""

from tags_core.domain import tags
from tags_core.http.request import principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import responses, versioned
from tags_core.http.schemas import TagEnvelope

app = build_app()


@app.post("/tags/<tag_id>/archive", operation_id="archive_tag", summary="Archive a tag", tags=["Tags"],
          responses=responses(200, TagEnvelope, 404))
def archive_tag(tag_id: str):
    return versioned(tags.set_archived(principal(), tag_id, archived=True))


lambda_handler = handler(app)
