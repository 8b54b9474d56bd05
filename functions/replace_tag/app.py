"""PUT /tags/{tag_id} — replace every mutable field (absent ones reset to defaults); honours If-Match."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from tags_core import api, tags
from tags_core.models import TagCreate, TagEnvelope

app = api.build_app()


@app.put("/tags/<tag_id>", summary="Replace a tag", tags=["Tags"],
         responses=api.responses(200, TagEnvelope, 404, 409, 412, 413, 415))
def replace_tag(tag_id: str, body: Annotated[TagCreate, Body()]):
    tag = tags.replace_tag(api.principal(), tag_id, body, api.if_match())
    return api.ok(tag, headers={"ETag": f'"{tag["version"]}"'})


lambda_handler = api.handler(app)
