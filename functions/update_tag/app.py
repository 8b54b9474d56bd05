"""PATCH /tags/{tag_id} — change the given fields only; honours If-Match."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from tags_core import api, tags
from tags_core.models import TagEnvelope, TagPatch

app = api.build_app()


@app.patch("/tags/<tag_id>", summary="Update a tag", tags=["Tags"],
           responses=api.responses(200, TagEnvelope, 404, 409, 412, 413, 415))
def update_tag(tag_id: str, body: Annotated[TagPatch, Body()]):
    tag = tags.patch_tag(api.principal(), tag_id, body, api.if_match())
    return api.ok(tag, headers={"ETag": f'"{tag["version"]}"'})


lambda_handler = api.handler(app)
