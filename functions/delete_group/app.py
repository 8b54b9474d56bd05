"""DELETE /tag-groups/{group_id} — delete an empty group, or ungroup its tags first with ?ungroup=true; honours
If-Match."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from tags_core.domain import groups
from tags_core.http.params import GroupIdPath
from tags_core.http.request import if_match, principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import ok, responses
from tags_core.http.schemas import DeletedEnvelope

app = build_app()


@app.delete("/tag-groups/<group_id>", operation_id="delete_group", summary="Delete a tag group", tags=["Tag groups"],
            responses=responses(200, DeletedEnvelope, 404, 409, 412))
def delete_group(group_id: GroupIdPath, ungroup: Annotated[bool, Query()] = False):
    return ok(groups.delete_group(principal(), group_id, ungroup=ungroup, expected_version=if_match()))


lambda_handler = handler(app)
