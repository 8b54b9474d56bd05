"""POST /tag-groups — create a tag group."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from tags_core.domain import groups
from tags_core.domain.models import GroupCreate
from tags_core.http.request import principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import responses, versioned
from tags_core.http.schemas import GroupEnvelope

app = build_app()


@app.post("/tag-groups", operation_id="create_group", summary="Create a tag group", tags=["Tag groups"],
          responses=responses(201, GroupEnvelope, 409, 413, 415, etag=True))
def create_group(body: Annotated[GroupCreate, Body()]):
    return versioned(groups.create_group(principal(), body), 201)


lambda_handler = handler(app)
