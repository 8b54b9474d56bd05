"""GET /bulk-jobs/{job_id} — a bulk job's status, progress and failed objects."""

from tags_core.domain import bulk
from tags_core.http.params import BulkJobIdPath
from tags_core.http.request import principal
from tags_core.http.resolver import build_app, handler
from tags_core.http.responses import ok, responses
from tags_core.http.schemas import BulkJobEnvelope

app = build_app()


@app.get("/bulk-jobs/<job_id>", operation_id="get_bulk_job", summary="Get a bulk job", tags=["Tags on objects"],
         responses=responses(200, BulkJobEnvelope, 404))
def get_bulk_job(job_id: BulkJobIdPath):
    return ok(bulk.get_job(principal(), job_id))


lambda_handler = handler(app)
