"""GET /{kind}/{object_id}/tags — the tags on a conversation, customer or comment."""

from tags_core.domain import attachments
from tags_core.http.params import Kind, ObjectId, object_kind
from tags_core.http.request import principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import responses, versioned
from tags_core.http.schemas import ObjectTagList

app = build_app()


@app.get("/<kind>/<object_id>/tags", operation_id="list_object_tags",
         summary="List an object's tags", tags=["Tags on objects"],
         responses=responses(200, ObjectTagList, 404, etag=True))
def list_object_tags(kind: Kind, object_id: ObjectId):
    data, meta = attachments.list_object_tags(principal(), object_kind(kind), object_id)
    return versioned(data, meta=meta)


lambda_handler = handler(app)
