"""GET /tag-groups/{group_id} — one tag group with its tag_count."""

from tags_core import api, groups
from tags_core.models import GroupEnvelope

app = api.build_app()


@app.get("/tag-groups/<group_id>", summary="Get a tag group", tags=["Tag groups"],
         responses=api.responses(200, GroupEnvelope, 404))
def get_group(group_id: str):
    principal = api.principal()
    group = groups.get_group(principal, group_id)
    return api.ok(groups.present(principal.tenant, group), headers={"ETag": f'"{group["version"]}"'})


lambda_handler = api.handler(app)
