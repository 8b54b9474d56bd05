"""POST /tags/{tag_id}/restore — undo an archive: the tag is listed and attachable again."""

from tags_core.domain import tags
from tags_core.http.request import principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import responses, versioned
from tags_core.http.schemas import TagEnvelope

app = build_app()


@app.post("/tags/<tag_id>/restore", operation_id="restore_tag", summary="Restore an archived tag", tags=["Tags"],
          responses=responses(200, TagEnvelope, 404))
def restore_tag(tag_id: str):
    return versioned(tags.set_archived(principal(), tag_id, archived=False))


lambda_handler = handler(app)
