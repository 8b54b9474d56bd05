"""GET /tags/{tag_id}/objects — the objects carrying a tag, cursor paginated."""



from tags_core.domain import attachments
from tags_core.http.paging import cursored
from tags_core.http.params import DEFAULT_LIMIT, Cursor, KindFilter, Limit, TagIdPath, object_kind
from tags_core.http.request import principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import responses
from tags_core.http.schemas import TaggedObjectList

app = build_app()


@app.get("/tags/<tag_id>/objects", operation_id="list_tag_objects",
         summary="List the objects carrying a tag", tags=["Tags on objects"],
         responses=responses(200, TaggedObjectList, 404))
def list_tag_objects(
    tag_id: TagIdPath,
    kind: KindFilter = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
):
    of_kind = object_kind(kind) if kind else None
    return cursored({"tag": tag_id, "kind": of_kind}, cursor,
                    lambda start: attachments.list_tag_objects(principal(), tag_id, of_kind, limit, start))


lambda_handler = handler(app)
