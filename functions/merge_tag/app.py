"""POST /tags/{tag_id}/merge — move every attachment to `into`, delete the tag, keep its name as an alias."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from tags_core.domain import merge
from tags_core.domain.models import MergeRequest
from tags_core.http.params import TagIdPath
from tags_core.http.request import principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import ok, responses
from tags_core.http.schemas import MergeEnvelope

app = build_app()


@app.post("/tags/<tag_id>/merge", operation_id="merge_tag", summary="Merge a tag into another", tags=["Tags"],
          responses=responses(200, MergeEnvelope, 404, 409, 413, 415))
def merge_tag(tag_id: TagIdPath, body: Annotated[MergeRequest, Body()], dry_run: Annotated[bool, Query()] = False):
    return ok(merge.merge_tag(principal(), tag_id, body.into, dry_run=dry_run))


lambda_handler = handler(app)
