"""DELETE /{kind}/{object_id}/tags/{tag_id} — detach one tag; returns the remaining list."""

from tags_core.domain import attachments
from tags_core.http.params import AnyTagIdPath, Kind, ObjectId, object_kind
from tags_core.http.request import principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import responses, versioned
from tags_core.http.schemas import ObjectTagList

app = build_app()


@app.delete("/<kind>/<object_id>/tags/<tag_id>", operation_id="remove_object_tag",
            summary="Detach a tag from an object", tags=["Tags on objects"],
            responses=responses(200, ObjectTagList, 404, 429, etag=True, write_budget=True))
def remove_object_tag(kind: Kind, object_id: ObjectId, tag_id: AnyTagIdPath):
    data, meta, budget = attachments.remove_object_tag(principal(), object_kind(kind), object_id, tag_id)
    return versioned(data, meta=meta, headers=budget.headers())


lambda_handler = handler(app)
