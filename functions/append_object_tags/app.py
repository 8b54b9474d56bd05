"""POST /{kind}/{object_id}/tags — attach tags by name or id, creating missing names; returns the full list."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from tags_core import api, attachments
from tags_core.models import AttachRequest, ObjectTagList

app = api.build_app()

# Documented (OpenAPI) as what attachments accepts; checked there (unknown kind 404, bad object id 400).
Kind = Annotated[str, Path(description="conversations, customers or comments",
                           json_schema_extra={"enum": list(attachments.KIND_OF_PATH)})]
ObjectId = Annotated[str, Path(description="1-128 of A-Z a-z 0-9 . _ : -",
                               json_schema_extra={"pattern": attachments.OBJECT_ID.pattern})]


@app.post("/<kind>/<object_id>/tags", summary="Attach tags to an object", tags=["Tags on objects"],
          responses=api.responses(200, ObjectTagList, 404, 413, 415, 429))
def append_object_tags(kind: Kind, object_id: ObjectId, body: Annotated[AttachRequest, Body()]):
    data, meta = attachments.set_object_tags(api.principal(), kind, object_id, body, replace=False)
    return api.ok(data, meta=meta, headers={"ETag": f'"{meta["version"]}"'})


lambda_handler = api.handler(app)
