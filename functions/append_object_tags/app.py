"""POST /{kind}/{object_id}/tags — attach tags by name or id, creating missing names; returns the full list."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from tags_core import api, attachments
from tags_core.models import AttachRequest, ObjectTagList

app = api.build_app()


@app.post("/<kind>/<object_id>/tags", summary="Attach tags to an object", tags=["Tags on objects"],
          responses=api.responses(200, ObjectTagList, 404, 413, 415, 429))
def append_object_tags(kind: str, object_id: str, body: Annotated[AttachRequest, Body()]):
    data, meta = attachments.set_object_tags(api.principal(), kind, object_id, body, replace=False)
    return api.ok(data, meta=meta, headers={"ETag": f'"{meta["version"]}"'})


lambda_handler = api.handler(app)
