"""DELETE /tags/{tag_id} — delete a tag."""

from tags_core import api, tags
from tags_core.models import DeletedEnvelope

app = api.build_app()


@app.delete("/tags/<tag_id>", summary="Delete a tag", tags=["Tags"], responses=api.responses(200, DeletedEnvelope, 404))
def delete_tag(tag_id: str):
    return api.ok(tags.delete_tag(api.principal(), tag_id))


lambda_handler = api.handler(app)
