"""GET /{kind}/{object_id}/tags/history — who attached and detached which tags on an object, newest first."""

from tags_core.domain import history
from tags_core.http.paging import cursored
from tags_core.http.params import DEFAULT_LIMIT, Cursor, Kind, Limit, ObjectId, object_kind
from tags_core.http.request import principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import responses
from tags_core.http.schemas import HistoryList

app = build_app()


@app.get("/<kind>/<object_id>/tags/history", operation_id="list_object_history",
         summary="An object's tag history", tags=["Tags on objects"], responses=responses(200, HistoryList, 404))
def list_object_history(kind: Kind, object_id: ObjectId, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None):
    of_kind = object_kind(kind)
    return cursored({"history": f"{of_kind}/{object_id}"}, cursor,
                    lambda start: history.object_history(principal(), of_kind, object_id, limit, start))


lambda_handler = handler(app)
