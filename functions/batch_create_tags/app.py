"""POST /tags/batch — create up to 100 tags; duplicates and bad items are reported, not fatal."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from tags_core import api, tags
from tags_core.models import BatchCreate, BatchEnvelope

app = api.build_app()


@app.post("/tags/batch", summary="Create tags in bulk", tags=["Tags"],
          responses=api.responses(200, BatchEnvelope, 413, 415))
def batch_create_tags(body: Annotated[BatchCreate, Body()]):
    return api.ok(tags.batch_create(api.principal(), body))


lambda_handler = api.handler(app)
