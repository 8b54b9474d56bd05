"""PATCH /tags/{tag_id} — change the given fields only; honours If-Match."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from tags_core.domain import tags
from tags_core.domain.models import TagPatch
from tags_core.http.params import TagIdPath
from tags_core.http.request import if_match, principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import responses, versioned
from tags_core.http.schemas import TagEnvelope

app = build_app()


@app.patch("/tags/<tag_id>", operation_id="update_tag", summary="Update a tag", tags=["Tags"],
           responses=responses(200, TagEnvelope, 404, 409, 412, 413, 415, etag=True))
def update_tag(tag_id: TagIdPath, body: Annotated[TagPatch, Body()]):
    return versioned(tags.patch_tag(principal(), tag_id, body, if_match()))


lambda_handler = handler(app)
