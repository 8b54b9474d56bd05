"""POST /{kind}/{object_id}/tags — attach tags by name or id, creating missing names; returns the full list."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from tags_core.domain import attachments
from tags_core.domain.models import AttachRequest
from tags_core.http.params import Kind, ObjectId, object_kind
from tags_core.http.request import principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import responses, versioned
from tags_core.http.schemas import ObjectTagList

app = build_app()


@app.post("/<kind>/<object_id>/tags", operation_id="append_object_tags",
          summary="Attach tags to an object", tags=["Tags on objects"],
          responses=responses(200, ObjectTagList, 404, 413, 415, 429, etag=True, write_budget=True))
def append_object_tags(kind: Kind, object_id: ObjectId, body: Annotated[AttachRequest, Body()]):
    data, meta, budget = attachments.set_object_tags(principal(), object_kind(kind), object_id, body, replace=False)
    return versioned(data, meta=meta, headers=budget.headers())


lambda_handler = handler(app)
