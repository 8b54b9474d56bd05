"""POST /tags — create a tag."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from tags_core.domain import tags
from tags_core.domain.models import TagCreate
from tags_core.http.request import principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import responses, versioned
from tags_core.http.schemas import TagEnvelope

app = build_app()


@app.post("/tags", operation_id="create_tag",
          summary="Create a tag", tags=["Tags"], responses=responses(201, TagEnvelope, 409, 413, 415, etag=True))
def create_tag(body: Annotated[TagCreate, Body()]):
    return versioned(tags.create_tag(principal(), body), 201)


lambda_handler = handler(app)
