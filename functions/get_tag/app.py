"""GET /tags/{tag_id} — one tag, with its version as ETag."""

from tags_core.domain import tags
from tags_core.http.params import TagIdPath
from tags_core.http.request import principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import responses, versioned
from tags_core.http.schemas import TagEnvelope

app = build_app()


@app.get("/tags/<tag_id>", operation_id="get_tag",
         summary="Get a tag", tags=["Tags"], responses=responses(200, TagEnvelope, 404, etag=True))
def get_tag(tag_id: TagIdPath):
    return versioned(tags.show_tag(principal(), tag_id))


lambda_handler = handler(app)
