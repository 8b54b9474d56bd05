"""PUT /{kind}/{object_id}/tags — replace an object's tag set; honours If-Match on the set's version."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from tags_core import api, attachments
from tags_core.models import AttachRequest, ObjectTagList

app = api.build_app()


@app.put("/<kind>/<object_id>/tags", summary="Replace an object's tags", tags=["Tags on objects"],
         responses=api.responses(200, ObjectTagList, 404, 412, 413, 415, 429))
def replace_object_tags(kind: str, object_id: str, body: Annotated[AttachRequest, Body()]):
    data, meta = attachments.set_object_tags(api.principal(), kind, object_id, body, replace=True,
                                             expected_version=api.if_match())
    return api.ok(data, meta=meta, headers={"ETag": f'"{meta["version"]}"'})


lambda_handler = api.handler(app)
