"""GET /tags/{tag_id} — one tag, with its version as ETag."""

from tags_core import api, tags
from tags_core.models import TagEnvelope

app = api.build_app()


@app.get("/tags/<tag_id>", summary="Get a tag", tags=["Tags"], responses=api.responses(200, TagEnvelope, 404))
def get_tag(tag_id: str):
    tag = tags.get_tag(api.principal(), tag_id, consistent=True)  # read-your-writes for ETag/If-Match
    return api.ok(tags.present(api.principal().tenant, tag), headers={"ETag": f'"{tag["version"]}"'})


lambda_handler = api.handler(app)
