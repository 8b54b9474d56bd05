"""PATCH /tag-groups/{group_id} — rename or describe a tag group."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from tags_core import api, groups
from tags_core.models import GroupEnvelope, GroupPatch

app = api.build_app()


@app.patch("/tag-groups/<group_id>", summary="Update a tag group", tags=["Tag groups"],
           responses=api.responses(200, GroupEnvelope, 404, 409, 413, 415))
def update_group(group_id: str, body: Annotated[GroupPatch, Body()]):
    return api.ok(groups.patch_group(api.principal(), group_id, body))


lambda_handler = api.handler(app)
