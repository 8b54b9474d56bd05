"""POST /tags/batch — create up to 100 tags; duplicates and bad items are reported, not fatal."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body

from tags_core.domain import tags
from tags_core.domain.models import BatchCreate
from tags_core.http.request import principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import ok, responses
from tags_core.http.schemas import BatchEnvelope

app = build_app()


@app.post("/tags/batch", operation_id="batch_create_tags", summary="Create tags in bulk", tags=["Tags"],
          responses=responses(200, BatchEnvelope, 413, 415))
def batch_create_tags(body: Annotated[BatchCreate, Body()]):
    return ok(tags.batch_create(principal(), body))


lambda_handler = handler(app)
