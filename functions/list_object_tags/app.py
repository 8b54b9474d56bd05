"""GET /{kind}/{object_id}/tags — the tags on a conversation, customer or comment."""

from tags_core import api, attachments
from tags_core.models import ObjectTagList

app = api.build_app()


@app.get("/<kind>/<object_id>/tags", summary="List an object's tags", tags=["Tags on objects"],
         responses=api.responses(200, ObjectTagList, 404))
def list_object_tags(kind: str, object_id: str):
    data, meta = attachments.list_object_tags(api.principal(), kind, object_id)
    return api.ok(data, meta=meta, headers={"ETag": f'"{meta["version"]}"'})


lambda_handler = api.handler(app)
