"""DELETE /{kind}/{object_id}/tags/{tag_id} — detach one tag; returns the remaining list."""

from tags_core import api, attachments
from tags_core.models import ObjectTagList

app = api.build_app()


@app.delete("/<kind>/<object_id>/tags/<tag_id>", summary="Detach a tag from an object", tags=["Tags on objects"],
            responses=api.responses(200, ObjectTagList, 404, 429))
def remove_object_tag(kind: str, object_id: str, tag_id: str):
    data, meta = attachments.remove_object_tag(api.principal(), kind, object_id, tag_id)
    return api.ok(data, meta=meta, headers={"ETag": f'"{meta["version"]}"'})


lambda_handler = api.handler(app)
