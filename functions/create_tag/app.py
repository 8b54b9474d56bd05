"""POST /tags — create a tag."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from tags_core import api, tags
from tags_core.models import TagCreate, TagEnvelope

app = api.build_app()


@app.post("/tags", summary="Create a tag", tags=["Tags"], responses=api.responses(201, TagEnvelope, 409, 413, 415))
def create_tag(body: Annotated[TagCreate, Body()]):
    return api.ok(tags.create_tag(api.principal(), body), status=201)


lambda_handler = api.handler(app)
