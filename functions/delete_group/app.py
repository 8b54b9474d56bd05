"""DELETE /tag-groups/{group_id} — delete an empty group, or ungroup its tags first with ?ungroup=true."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from tags_core import api, groups
from tags_core.models import DeletedEnvelope

app = api.build_app()


@app.delete("/tag-groups/<group_id>", summary="Delete a tag group", tags=["Tag groups"],
            responses=api.responses(200, DeletedEnvelope, 404, 409))
def delete_group(group_id: str, ungroup: Annotated[bool, Query()] = False):
    return api.ok(groups.delete_group(api.principal(), group_id, ungroup=ungroup))


lambda_handler = api.handler(app)
