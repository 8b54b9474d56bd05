"""POST /tags/{tag_id}/merge — move every attachment to `into`, delete the tag, keep its name as an alias."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from tags_core import api, merge
from tags_core.models import MergeEnvelope, MergeRequest

app = api.build_app()


@app.post("/tags/<tag_id>/merge", summary="Merge a tag into another", tags=["Tags"],
          responses=api.responses(200, MergeEnvelope, 404, 409, 413, 415))
def merge_tag(tag_id: str, body: Annotated[MergeRequest, Body()], dry_run: Annotated[bool, Query()] = False):
    return api.ok(merge.merge_tag(api.principal(), tag_id, body.into, dry_run=dry_run))


lambda_handler = api.handler(app)
