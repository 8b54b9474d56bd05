"""A tenant in one table, seeded through the repository's own item builders, and the events it sends: REST proxy
events for its write key, a command queue message, a table stream record."""

from __future__ import annotations

import hashlib
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from tags_tools.apigw_events import rest_event
from tags_tools.bench.common import REGION, TENANT
from tags_tools.bench.service import Service


@dataclass
class State:
    """A tenant in one table and what the operations work on."""

    service: Service
    tenant: str = TENANT
    key: str = ""
    key_id: str = ""
    tags: list[dict[str, Any]] = field(default_factory=list)  # base tags: [0] get, [1..3] attach, ...
    groups: list[dict[str, Any]] = field(default_factory=list)
    pools: dict[str, list[Any]] = field(default_factory=dict)

    # - seeding through the repository's own item builders (BatchWriteItem, untimed) -

    def principal(self) -> Any:
        from tags_core.domain.identity import Principal  # noqa: PLC0415

        return Principal(tenant=self.tenant, role="write", key_id=self.key_id or "seed")

    def tag_records(self, names: list[str], *, vary: bool = False) -> list[dict[str, Any]]:
        """Tags shaped exactly as the service creates them. `vary`: types and applies_to spread out."""
        from tags_core.domain import tags  # noqa: PLC0415
        from tags_core.domain.models import TagCreate  # noqa: PLC0415

        records = []
        for i, name in enumerate(names):
            data: dict[str, Any] = {"name": name}
            if vary:
                data["type"] = ("tag", "goal", "miss")[i % 3]
                data["applies_to"] = {"conversation": True, "customer": i % 4 != 3, "comment": True}
            records.append(tags._new_record(self.principal(), TagCreate.model_validate(data)))
        return records

    def seed_tags(self, names: list[str], *, vary: bool = False, archived: bool = False) -> list[dict[str, Any]]:
        from tags_core.clock import now_iso as rfc3339_now  # noqa: PLC0415
        from tags_core.store import keys  # noqa: PLC0415

        def name_lock(tenant: str, tag: dict[str, Any]) -> dict[str, Any]:
            return keys.tag_name_item(tenant, tag["id"], tag["name"])

        records = self.tag_records(names, vary=vary)
        for record in records if archived else []:
            record["archived_at"] = record["updated_at"] = rfc3339_now()
        return self._seed(records, (keys.tag_item, name_lock), "tag_count")

    def seed_bulk_jobs(self, n: int) -> list[str]:
        """n finished bulk jobs of two objects each (their status items, as the service writes them)."""
        from tags_core.clock import now_iso as rfc3339_now  # noqa: PLC0415
        from tags_core.ids import new_id  # noqa: PLC0415
        from tags_core.store import keys  # noqa: PLC0415

        now, expires = rfc3339_now(), int(time.time()) + 86_400
        jobs: list[dict[str, Any]] = [
            {"id": new_id(), "kind": "conversations", "actor": self.key_id, "add": [self.tags[0]["id"]],
             "remove": [], "create_missing": False, "replace_in_group": False, "total": 2, "changed": 2,
             "unchanged": 0, "failed": 0, "processed": 2, "created_at": now, "updated_at": now, "finished_at": now}
            for _ in range(n)]
        self._batch_write([keys.bulk_job_item(self.tenant, job, expires) for job in jobs])
        return [str(job["id"]) for job in jobs]

    def seed_groups(self, names: list[str]) -> list[dict[str, Any]]:
        from tags_core.clock import now_iso as rfc3339_now  # noqa: PLC0415
        from tags_core.ids import new_id  # noqa: PLC0415
        from tags_core.names import slugify  # noqa: PLC0415
        from tags_core.store import keys  # noqa: PLC0415

        now = rfc3339_now()
        groups = [{"id": new_id(), "name": n, "name_slug": slugify(n), "description": None, "tag_count": 0,
                   "version": 1, "created_at": now, "updated_at": now, "updated_by": self.key_id} for n in names]
        return self._seed(groups, (keys.group_item, keys.group_name_item), "group_count")

    def _seed(self, records: list[dict[str, Any]], makers: tuple[Callable[[str, dict[str, Any]], Any], ...],
              counter: str) -> list[dict[str, Any]]:
        """Each record's items (the record and its name lock) straight into moto, and the tenant's counter."""
        self._batch_write([make(self.tenant, record) for record in records for make in makers])
        self._add_count(counter, len(records))
        return records

    def seed_tag_sets(self, kind: str, object_ids: list[str], tag_ids: list[str]) -> None:
        """Objects carrying `tag_ids`, committed like the service does (usage counts move with the set)."""
        from tags_core.clock import now_iso as rfc3339_now  # noqa: PLC0415
        from tags_core.store.tag_sets import Stamp  # noqa: PLC0415

        repo = self.service.repository()
        for object_id in object_ids:
            now = rfc3339_now()
            repo.write_tag_set(self.tenant, kind, object_id, old_version=0, tags=dict.fromkeys(tag_ids, now),
                               added=list(tag_ids), removed=[], created=[], stamp=Stamp(self.key_id),
                               rate_limit=None)

    def seed_reverse(self, tag_id: str, kind: str, object_ids: list[str]) -> None:
        from tags_core.clock import now_iso as rfc3339_now  # noqa: PLC0415

        repo = self.service.repository()
        for object_id in object_ids:
            repo.write_reverse_entries(self.tenant, kind, object_id, added={tag_id: rfc3339_now()}, removed=[])

    def _batch_write(self, items: list[dict[str, Any]]) -> None:
        self.service.seed(self.service.table, items)

    def _add_count(self, attribute: str, n: int) -> None:
        from tags_core.store.keys import meta_key  # noqa: PLC0415

        self.service.repository()._call(
            "update_item", TableName=self.service.table, Key=meta_key(self.tenant),
            UpdateExpression=f"ADD {attribute} :n", ExpressionAttributeValues={":n": {"N": str(n)}})

    def seed_base(self, label: str) -> None:
        """The tenant, a write key, a few tags and groups, an object with tags, reverse index entries."""
        from tags_core.domain import accounts as auth  # noqa: PLC0415

        auth.create_tenant("Bench", tenant_id=self.tenant)
        self.key_id, self.key = auth.create_api_key(self.tenant, "write", "bench")
        self.tags = self.seed_tags([f"{label} base tag {i:02d}" for i in range(12)])
        self.groups = self.seed_groups([f"{label} base group {i:02d}" for i in range(6)])
        self.seed_tag_sets("conversation", ["base-object"], [t["id"] for t in self.tags[:3]])
        self.seed_reverse(self.tags[0]["id"], "conversation", [f"reverse-{i:03d}" for i in range(30)])

    # - events -

    def event(self, method: str, resource: str, params: dict[str, str] | None = None, *,
              query: dict[str, str] | None = None, body: Any = None, headers: dict[str, str] | None = None
              ) -> dict[str, Any]:
        """A REST proxy event as API Gateway sends it for this tenant's write key."""
        path = resource
        for name, value in (params or {}).items():
            path = path.replace("{" + name + "}", quote(value, safe=""))
        all_headers = {
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate, br",
            "Authorization": f"Bearer {self.key}",
            "CloudFront-Forwarded-Proto": "https",
            "Host": "tagslocal1.execute-api.us-east-1.amazonaws.com",
            "User-Agent": "tags-bench/1.0",
            "X-Amzn-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}",
            "X-Forwarded-For": "203.0.113.10",
            "X-Forwarded-Port": "443",
            "X-Forwarded-Proto": "https",
        }
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        return rest_event(method, path, resource=resource, path_parameters=params, headers=all_headers,
                          query=query, body=None if body is None else json.dumps(body),
                          authorizer={"tenant": self.tenant, "role": "write", "key_id": self.key_id},
                          principal_id=self.key_id)

    def sqs_event(self, body: dict[str, Any]) -> dict[str, Any]:
        """One message of the command queue, as Lambda's SQS event source delivers it."""
        text = json.dumps(body)
        now_ms = str(int(time.time() * 1000))
        return {"Records": [{
            "messageId": str(uuid.uuid4()), "receiptHandle": uuid.uuid4().hex, "body": text,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": now_ms, "SenderId": "AIDABENCH",
                           "ApproximateFirstReceiveTimestamp": now_ms},
            "messageAttributes": {}, "md5OfBody": hashlib.md5(text.encode()).hexdigest(),  # noqa: S324 - SQS's own
            "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:tags-commands",
            "awsRegion": REGION,
        }]}

    def stream_event(self, object_id: str) -> dict[str, Any]:
        """One INSERT of an object's tag set, as Lambda's DynamoDB stream event source delivers it."""
        from tags_core.clock import now_iso as rfc3339_now  # noqa: PLC0415
        from tags_core.store import codec as db  # noqa: PLC0415
        from tags_core.store.keys import tag_set_key  # noqa: PLC0415

        keys = tag_set_key(self.tenant, "conversation", object_id)
        image = {**keys, **db.to_item({"item_type": "tag_set", "tenant": self.tenant, "kind": "conversation",
                                       "object_id": object_id, "tags": {self.tags[0]["id"]: rfc3339_now()},
                                       "version": 1, "updated_at": rfc3339_now(), "updated_by": self.key_id})}
        return {"Records": [{
            "eventID": uuid.uuid4().hex, "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": {"ApproximateCreationDateTime": int(time.time()), "Keys": keys, "NewImage": image,
                         "SequenceNumber": str(random.randrange(10**20, 10**21)),  # noqa: S311
                         "SizeBytes": len(json.dumps(image)), "StreamViewType": "NEW_AND_OLD_IMAGES"},
            "eventSourceARN": f"arn:aws:dynamodb:{REGION}:123456789012:table/{self.service.table}/stream/2026-01-01T"
                              "00:00:00.000",
        }]}

