"""POST /tag-groups — create a tag group."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from tags_core import api, groups
from tags_core.models import GroupCreate, GroupEnvelope

app = api.build_app()


@app.post("/tag-groups", summary="Create a tag group", tags=["Tag groups"],
          responses=api.responses(201, GroupEnvelope, 409, 413, 415))
def create_group(body: Annotated[GroupCreate, Body()]):
    return api.ok(groups.create_group(api.principal(), body), status=201)


lambda_handler = api.handler(app)
