"""DynamoDB for the benchmark: moto's server in a process of its own, and the template's table in it."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from typing import Any

from tags_tools import template as tpl
from tags_tools.bench.common import EVENT_BUS, REGION

# The local server's DynamoDB (tags_tools/local/dynamodb.py): moto with the fixes of moto_fixes (a transaction copies
# only the items it names, results are dumped as the JSON they already are), so that a write's cost does not grow
# with the table and the benchmark fits in minutes; what DynamoDB calls do and answer stays moto's.
MOTO_CHILD = r"""
import json, sys
from tags_tools.local.dynamodb import EmbeddedDynamoDB
server = EmbeddedDynamoDB(sweep_interval=0)
server.start()
print(server.url, flush=True)
for line in sys.stdin:  # "seed <table> <file of JSON items>": bulk loading without HTTP; EOF: the end
    _, table, path = line.split()
    with open(path) as f:
        server.put_items(table, json.load(f))
    print("seeded", flush=True)
server.stop()
"""


class MotoProcess:
    def __init__(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter
            [sys.executable, "-c", MOTO_CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"})
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http"):
            self.stop()
            raise RuntimeError("moto server did not start")

    def seed(self, table: str, items: list[dict[str, Any]]) -> None:
        """Put items straight into moto's backend (what BatchWriteItem does, without 1,600 HTTP requests)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(items, handle)
        try:
            self.process.stdin.write(f"seed {table} {handle.name}\n")
            self.process.stdin.flush()
            if self.process.stdout.readline().strip() != "seeded":
                raise RuntimeError("moto did not seed")
        finally:
            os.unlink(handle.name)

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            with contextlib.suppress(OSError):
                self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def create_table(endpoint: str, name: str) -> None:
    """The template's table without its stream (nothing reads it here; moto's stream bookkeeping slows writes)."""
    import boto3  # noqa: PLC0415

    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
    definition = tpl.table_definition()
    definition.pop("StreamSpecification", None)
    client.create_table(TableName=name, **definition)
    ttl = tpl.table_ttl_attribute()
    if ttl:
        client.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl})
    with contextlib.suppress(Exception):  # the bus the stream processor publishes to (once per moto)
        boto3.client("events", endpoint_url=endpoint, region_name=REGION).create_event_bus(Name=EVENT_BUS)

