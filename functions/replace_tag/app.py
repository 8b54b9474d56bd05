"""PUT /tags/{tag_id} — replace every mutable field (absent ones reset to defaults); honours If-Match."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from tags_core.domain import tags
from tags_core.domain.models import TagCreate
from tags_core.http.params import TagIdPath
from tags_core.http.request import if_match, principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import responses, versioned
from tags_core.http.schemas import TagEnvelope

app = build_app()


@app.put("/tags/<tag_id>", operation_id="replace_tag", summary="Replace a tag", tags=["Tags"],
         responses=responses(200, TagEnvelope, 404, 409, 412, 413, 415, etag=True))
def replace_tag(tag_id: TagIdPath, body: Annotated[TagCreate, Body()]):
    return versioned(tags.replace_tag(principal(), tag_id, body, if_match()))


lambda_handler = handler(app)
