"""POST /{kind}/tags/bulk — the same tag change to 1-1,000 objects: results inline up to 100, else a job."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from tags_core.domain import bulk
from tags_core.domain.models import BulkRequest
from tags_core.http.params import Kind, object_kind
from tags_core.http.request import principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import ok, responses
from tags_core.http.schemas import BulkJobEnvelope, BulkResultList

app = build_app()


@app.post("/<kind>/tags/bulk", operation_id="bulk_change_object_tags",
          summary="Change the tags of many objects", tags=["Tags on objects"],
          responses=responses(200, BulkResultList, 404, 409, 413, 415, description="One result per object (1-100)",
                              also={202: (BulkJobEnvelope, "A job for more than 100 objects")}))
def bulk_change_object_tags(kind: Kind, body: Annotated[BulkRequest, Body()]):
    status, data = bulk.change_objects(principal(), object_kind(kind), body)
    return ok(data, status)


lambda_handler = handler(app)
