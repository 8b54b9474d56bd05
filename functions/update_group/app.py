"""PATCH /tag-groups/{group_id} — rename or describe a tag group; honours If-Match."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from tags_core.domain import groups
from tags_core.domain.models import GroupPatch
from tags_core.http.params import GroupIdPath
from tags_core.http.request import if_match, principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import responses, versioned
from tags_core.http.schemas import GroupEnvelope

app = build_app()


@app.patch("/tag-groups/<group_id>", operation_id="update_group", summary="Update a tag group", tags=["Tag groups"],
           responses=responses(200, GroupEnvelope, 404, 409, 412, 413, 415, etag=True))
def update_group(group_id: GroupIdPath, body: Annotated[GroupPatch, Body()]):
    return versioned(groups.patch_group(principal(), group_id, body, if_match()))


lambda_handler = handler(app)
