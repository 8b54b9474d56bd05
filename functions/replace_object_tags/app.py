"""PUT /{kind}/{object_id}/tags — replace an object's tag set; honours If-Match on the set's version."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from tags_core.domain import attachments
from tags_core.domain.models import AttachRequest
from tags_core.http.params import Kind, ObjectId, object_kind
from tags_core.http.request import if_match, principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import responses, versioned
from tags_core.http.schemas import ObjectTagList

app = build_app()


@app.put("/<kind>/<object_id>/tags", operation_id="replace_object_tags",
         summary="Replace an object's tags", tags=["Tags on objects"],
         responses=responses(200, ObjectTagList, 404, 412, 413, 415, 429, etag=True, write_budget=True))
def replace_object_tags(kind: Kind, object_id: ObjectId, body: Annotated[AttachRequest, Body()]):
    data, meta, budget = attachments.set_object_tags(principal(), object_kind(kind), object_id, body, replace=True,
                                             expected_version=if_match())
    return versioned(data, meta=meta, headers=budget.headers())


lambda_handler = handler(app)
