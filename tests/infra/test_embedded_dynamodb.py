"""The embedded DynamoDB that `tags-local` runs (tags_tools/local/dynamodb.py with moto_fixes), over HTTP as the
SDK talks to it: what DynamoDB guarantees still holds with the fixes in, and a transaction's cost does not grow with
the table or its stream (asserted by what it copies, not by time)."""

from __future__ import annotations

import http.client
import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.responses import ActionResult
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType

from tags_tools import template as tpl
from tags_tools.local import moto_fixes
from tags_tools.local.dynamodb import EmbeddedDynamoDB
from tags_tools.local.queue_poller import QueuePoller
from tags_tools.local.stream_poller import StreamPoller, next_wait

REGION = "us-east-1"


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedDynamoDB]:
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            patch.setenv(name, os.environ.get(name) or "testing")
        patch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
        embedded = EmbeddedDynamoDB(sweep_interval=0)
        embedded.start()
        yield embedded
        embedded.stop()


@pytest.fixture
def clients(server: EmbeddedDynamoDB) -> tuple[Any, Any]:
    return (boto3.client("dynamodb", endpoint_url=server.url, region_name=REGION),
            boto3.client("dynamodbstreams", endpoint_url=server.url, region_name=REGION))


@pytest.fixture
def table(clients: tuple[Any, Any]) -> Iterator[str]:
    """The service's table (keys, indexes, stream and TTL from template.yaml), a new one per test."""
    dynamodb, _ = clients
    name = f"embedded-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(TableName=name, **tpl.table_definition())
    dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": tpl.table_ttl_attribute() or "expires_at"})
    yield name
    dynamodb.delete_table(TableName=name)


def key(pk: str, sk: str = "A") -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def item(pk: str, sk: str = "A", **attributes: Any) -> dict[str, Any]:
    return {**key(pk, sk), **{name: {"N": str(v)} if isinstance(v, int) else {"S": v}
                               for name, v in attributes.items()}}


class Stream:
    """The table's stream read from its start with one iterator, as a consumer would."""

    def __init__(self, clients: tuple[Any, Any], table: str) -> None:
        dynamodb, self.streams = clients
        self.arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shard = self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"][0]["ShardId"]
        self.iterator = self.streams.get_shard_iterator(StreamArn=self.arn, ShardId=shard,
                                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    def read(self) -> list[dict[str, Any]]:
        response = self.streams.get_records(ShardIterator=self.iterator)
        self.iterator = response["NextShardIterator"]
        return list(response["Records"])


def changes(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["eventName"], r["dynamodb"]["Keys"]["PK"]["S"]) for r in records]


def put(pk: str, **attributes: Any) -> dict[str, Any]:
    return {"Put": {"TableName": "", "Item": item(pk, **attributes)}}


def on(table: str, actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for action in actions:
        next(iter(action.values()))["TableName"] = table
    return actions


def test_a_cancelled_transaction_changes_no_item_and_adds_no_stream_record(clients: tuple[Any, Any],
                                                                           table: str) -> None:
    dynamodb, _ = clients
    dynamodb.put_item(TableName=table, Item=item("a", n=1))
    stream = Stream(clients, table)
    assert changes(stream.read()) == [("INSERT", "a")]

    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(TransactItems=on(table, [
            {"Update": {"TableName": "", "Key": key("a"), "UpdateExpression": "SET n = n + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            put("b", n=2),
            {"Delete": {"TableName": "", "Key": key("c")}},
            {"ConditionCheck": {"TableName": "", "Key": key("missing"), "ConditionExpression": "attribute_exists(PK)"}},
        ]))

    error = cancelled.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in error["CancellationReasons"]] == ["None", "None", "None", "ConditionalCheckFailed"]
    assert dynamodb.get_item(TableName=table, Key=key("a"))["Item"]["n"] == {"N": "1"}
    assert "Item" not in dynamodb.get_item(TableName=table, Key=key("b"))
    assert stream.read() == []
    dynamodb.put_item(TableName=table, Item=item("d"))
    assert changes(stream.read()) == [("INSERT", "d")]  # and the sequence goes on where it was


def test_a_committed_transaction_adds_exactly_its_records_in_order(clients: tuple[Any, Any], table: str) -> None:
    dynamodb, _ = clients
    for pk in ("old", "gone"):
        dynamodb.put_item(TableName=table, Item=item(pk, n=1))
    stream = Stream(clients, table)
    before = stream.read()

    dynamodb.transact_write_items(TransactItems=on(table, [
        put("new", n=1),
        {"Update": {"TableName": "", "Key": key("old"), "UpdateExpression": "SET n = :two",
                    "ExpressionAttributeValues": {":two": {"N": "2"}}}},
        {"Delete": {"TableName": "", "Key": key("gone")}},
    ]))

    records = stream.read()
    assert changes(records) == [("INSERT", "new"), ("MODIFY", "old"), ("REMOVE", "gone")]
    modified = records[1]["dynamodb"]
    assert (modified["OldImage"]["n"], modified["NewImage"]["n"]) == ({"N": "1"}, {"N": "2"})
    sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in before + records]
    assert sequence == sorted(sequence) and len(set(sequence)) == len(sequence)


def test_conditions_answer_as_dynamodb_does(clients: tuple[Any, Any], table: str) -> None:
    dynamodb, _ = clients
    dynamodb.put_item(TableName=table, Item=item("a", name="first"))

    with pytest.raises(ClientError) as failed:
        dynamodb.put_item(TableName=table, Item=item("a", name="second"),
                          ConditionExpression="attribute_not_exists(PK)", ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert failed.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert failed.value.response["Item"]["name"] == {"S": "first"}

    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(TransactItems=on(table, [
            put("b"),
            {"Put": {"TableName": "", "Item": item("a", name="third"),
                     "ConditionExpression": "attribute_not_exists(PK)",
                     "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        ]))
    reasons = cancelled.value.response["CancellationReasons"]
    assert reasons[0] == {"Code": "None"}
    assert reasons[1]["Code"] == "ConditionalCheckFailed" and reasons[1]["Item"]["name"] == {"S": "first"}
    assert dynamodb.get_item(TableName=table, Key=key("a"))["Item"]["name"] == {"S": "first"}


def test_a_transaction_copies_only_the_items_it_names_however_large_the_table_and_stream(
        server: EmbeddedDynamoDB, clients: tuple[Any, Any], table: str) -> None:
    dynamodb, _ = clients

    def copied_by_one_transaction(number: int) -> int:
        before = moto_fixes.stats()["items_saved"]
        dynamodb.transact_write_items(TransactItems=on(table, [put(f"t{number}"), put(f"u{number}")]))
        return moto_fixes.stats()["items_saved"] - before

    small = copied_by_one_transaction(0)
    server.put_items(table, [item(f"bulk-{i}", n=i) for i in range(3000)])
    for number in range(1, 301):  # with the bulk load, 3,602 stream records, none read yet
        dynamodb.transact_write_items(TransactItems=on(table, [put(f"x{number}"), put(f"y{number}")]))
    large = copied_by_one_transaction(1)
    tables = dynamodb_backends["123456789012"][REGION].tables
    same_table = tables[table]
    with pytest.raises(ClientError):  # moto rolls back by putting its copy of the table in place: none was made
        dynamodb.transact_write_items(TransactItems=on(table, [put("z"), {"ConditionCheck": {
            "TableName": "", "Key": key("missing"), "ConditionExpression": "attribute_exists(PK)"}}]))

    assert small == large == 2
    assert tables[table] is same_table and len(same_table.stream_shard.items) == 3604
    assert moto_fixes.untracked() == {"Item": 0, "StreamRecord": 0, "ShardIterator": 0}


def test_a_query_reads_its_partition_only_and_answers_as_before(server: EmbeddedDynamoDB, clients: tuple[Any, Any],
                                                                table: str) -> None:
    dynamodb, _ = clients
    server.put_items(table, [item(f"other-{i}", n=i) for i in range(2000)])
    for sk in ("c", "a", "d", "b"):
        dynamodb.put_item(TableName=table, Item=item("mine", sk, GSI1PK="by-name", GSI1SK=f"name-{sk}"))
    dynamodb.delete_item(TableName=table, Key=key("mine", "d"))

    def query(**extra: Any) -> tuple[list[str], int, dict[str, Any]]:
        before = moto_fixes.stats()["query_items_read"]
        answer = dynamodb.query(TableName=table, KeyConditionExpression="PK = :pk AND SK > :after",
                                ExpressionAttributeValues={":pk": {"S": "mine"}, ":after": {"S": "a"}}, **extra)
        return ([i["SK"]["S"] for i in answer["Items"]], moto_fixes.stats()["query_items_read"] - before,
                answer.get("LastEvaluatedKey", {}))

    assert query() == (["b", "c"], 3, {})
    assert query(ScanIndexForward=False) == (["c", "b"], 3, {})
    first, _, last_key = query(Limit=1)
    assert (first, query(Limit=1, ExclusiveStartKey=last_key)[0]) == (["b"], ["c"])
    by_name = dynamodb.query(TableName=table, IndexName="GSI1", KeyConditionExpression="GSI1PK = :p",
                             ExpressionAttributeValues={":p": {"S": "by-name"}}, ScanIndexForward=False)
    assert [i["SK"]["S"] for i in by_name["Items"]] == ["c", "b", "a"]
    for sk in ("a", "b", "c"):
        dynamodb.delete_item(TableName=table, Key=key("mine", sk))
    assert "Item" not in dynamodb.get_item(TableName=table, Key=key("never-written"))
    partitions = {k.value for k in dynamodb_backends["123456789012"][REGION].tables[table].items}
    assert not {"mine", "never-written"} & partitions and len(partitions) == 2000  # no empty partition left behind


def test_an_index_query_reads_only_the_items_under_its_hash_value_whatever_moved_them(
        server: EmbeddedDynamoDB, clients: tuple[Any, Any], table: str) -> None:
    """Every way an item gets, changes or loses an index key (put, update, transaction, cancelled transaction,
    batch write, delete) is seen by the next index query, which reads only the items filed under its value."""
    dynamodb, _ = clients
    server.put_items(table, [item(f"other-{i}", GSI1PK="elsewhere", GSI1SK=str(i)) for i in range(2000)])

    def by_name() -> tuple[list[str], int]:
        before = moto_fixes.stats()["query_items_read"]
        answer = dynamodb.query(TableName=table, IndexName="GSI1", KeyConditionExpression="GSI1PK = :p",
                                ExpressionAttributeValues={":p": {"S": "by-name"}})
        return [i["PK"]["S"] for i in answer["Items"]], moto_fixes.stats()["query_items_read"] - before

    assert by_name() == ([], 0)
    dynamodb.put_item(TableName=table, Item=item("a", GSI1PK="by-name", GSI1SK="1"))
    dynamodb.put_item(TableName=table, Item=item("b", GSI1PK="elsewhere", GSI1SK="2"))
    dynamodb.update_item(TableName=table, Key=key("b"), UpdateExpression="SET GSI1PK = :p",
                         ExpressionAttributeValues={":p": {"S": "by-name"}})
    assert by_name() == (["a", "b"], 2)
    dynamodb.transact_write_items(TransactItems=on(table, [
        {"Update": {"TableName": "", "Key": key("a"), "UpdateExpression": "SET GSI1PK = :p",
                    "ExpressionAttributeValues": {":p": {"S": "elsewhere"}}}},
        put("c", GSI1PK="by-name", GSI1SK="3")]))
    assert by_name() == (["b", "c"], 2)
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(TransactItems=on(table, [
            {"Update": {"TableName": "", "Key": key("b"), "UpdateExpression": "SET GSI1PK = :p",
                        "ExpressionAttributeValues": {":p": {"S": "elsewhere"}}}},
            {"Delete": {"TableName": "", "Key": key("c")}},
            {"ConditionCheck": {"TableName": "", "Key": key("a"), "ConditionExpression": "attribute_not_exists(PK)"}}]))
    assert by_name() == (["b", "c"], 2)  # the cancelled transaction moved nothing
    dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item("d", GSI1PK="by-name", GSI1SK="4")}},
                                                    {"DeleteRequest": {"Key": key("b")}}]})
    assert by_name() == (["c", "d"], 2)
    filed = dynamodb_backends["123456789012"][REGION].tables[table].tags_indexes["GSI1"]
    assert sorted(k[0].value for k in filed[DynamoType({"S": "by-name"})]) == ["c", "d"]  # moved and gone: dropped
    everything = dynamodb.query(TableName=table, IndexName="GSI1", KeyConditionExpression="GSI1PK = :p",
                                ExpressionAttributeValues={":p": {"S": "elsewhere"}}, Select="COUNT")
    assert everything["Count"] == 2001  # the 2,000 and a


def test_a_transaction_repeated_with_its_client_request_token_is_not_applied_twice(clients: tuple[Any, Any],
                                                                                   table: str) -> None:
    dynamodb, _ = clients
    actions = on(table, [{"Put": {"TableName": "", "Item": item("once", n=1),
                                  "ConditionExpression": "attribute_not_exists(PK)"}}])
    stream = Stream(clients, table)
    dynamodb.transact_write_items(TransactItems=actions, ClientRequestToken="retry-after-timeout")
    dynamodb.transact_write_items(TransactItems=actions, ClientRequestToken="retry-after-timeout")  # the SDK's retry
    assert changes(stream.read()) == [("INSERT", "once")]

    with pytest.raises(ClientError) as mismatch:
        dynamodb.transact_write_items(TransactItems=on(table, [put("other")]), ClientRequestToken="retry-after-timeout")
    assert mismatch.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    with pytest.raises(ClientError) as fresh:  # a new token is a new transaction: its condition fails
        dynamodb.transact_write_items(TransactItems=actions, ClientRequestToken="another-request")
    assert fresh.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert stream.read() == []


def test_delivered_records_are_trimmed_and_reading_a_trimmed_position_is_an_error(
        server: EmbeddedDynamoDB, clients: tuple[Any, Any], table: str) -> None:
    dynamodb, streams = clients
    for pk in ("a", "b", "c"):
        dynamodb.put_item(TableName=table, Item=item(pk))
    stream = Stream(clients, table)
    shard_id = streams.describe_stream(StreamArn=stream.arn)["StreamDescription"]["Shards"][0]["ShardId"]
    from_start = streams.get_shard_iterator(StreamArn=stream.arn, ShardId=shard_id,
                                            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert len(stream.read()) == 3
    dynamodb.put_item(TableName=table, Item=item("d"))  # not delivered yet

    moto_fixes.apply(delivered_retention=0)
    try:
        assert changes(stream.read()) == [("INSERT", "d")]  # trims the three delivered before answering
    finally:
        moto_fixes.apply(delivered_retention=10)

    with pytest.raises(ClientError) as trimmed:
        streams.get_records(ShardIterator=from_start)
    assert trimmed.value.response["Error"]["Code"] == "TrimmedDataAccessException"
    oldest = streams.get_shard_iterator(StreamArn=stream.arn, ShardId=shard_id,
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert changes(streams.get_records(ShardIterator=oldest)["Records"]) == [("INSERT", "d")]



def test_a_record_stays_until_every_active_reader_has_had_it(clients: tuple[Any, Any], table: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Two consumers of one stream: the fast one's reads trim only what the slow one has read too; a reader that
    stopped reading (READER_IDLE) no longer holds records back."""
    dynamodb, _ = clients
    fast, slow = Stream(clients, table), Stream(clients, table)
    dynamodb.put_item(TableName=table, Item=item("a"))
    assert changes(fast.read()) == changes(slow.read()) == [("INSERT", "a")]  # both are readers now
    for pk in ("b", "c"):
        dynamodb.put_item(TableName=table, Item=item(pk))
    moto_fixes.apply(delivered_retention=0)
    try:
        assert changes(fast.read()) == [("INSERT", "b"), ("INSERT", "c")]
        dynamodb.put_item(TableName=table, Item=item("d"))
        assert changes(fast.read()) == [("INSERT", "d")]  # trims "a" (both had it), not "b" and "c"
        assert changes(slow.read()) == [("INSERT", "b"), ("INSERT", "c"), ("INSERT", "d")]

        dynamodb.put_item(TableName=table, Item=item("e"))
        monkeypatch.setattr(moto_fixes, "READER_IDLE", -1.0)  # the slow reader stopped reading long ago
        assert changes(fast.read()) == [("INSERT", "e")]
        fast.read()  # trims "e", which the slow reader never had
        with pytest.raises(ClientError) as trimmed:
            slow.read()
        assert trimmed.value.response["Error"]["Code"] == "TrimmedDataAccessException"
    finally:
        moto_fixes.apply(delivered_retention=10)

def test_a_stream_read_is_dumped_as_json_not_walked_through_moto_s_serializer(
        clients: tuple[Any, Any], table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's serializer took ~2 ms a record and held the server meanwhile (200 ms for a read of 100)."""
    dynamodb, _ = clients
    for pk in ("a", "b"):
        dynamodb.put_item(TableName=table, Item=item(pk, note="x"))
    stream = Stream(clients, table)
    walked: list[str] = []
    original = ActionResult.execute_result
    monkeypatch.setattr(ActionResult, "execute_result",
                        lambda self, context: walked.append(type(self).__name__) or original(self, context))

    records = stream.read()

    assert walked == []
    assert changes(records) == [("INSERT", "a"), ("INSERT", "b")]
    assert records[0]["dynamodb"]["NewImage"] == item("a", note="x")
    created = records[0]["dynamodb"]["ApproximateCreationDateTime"]
    assert abs(created.timestamp() - time.time()) < 60  # UTC epoch seconds on the wire


def test_record_ages_do_not_depend_on_the_machine_s_time_zone(
        clients: tuple[Any, Any], table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto dates records with naive UTC datetimes; read as local time, west of UTC a record looked hours younger
    (delivered records were kept for hours), east of UTC hours older."""
    dynamodb, _ = clients
    shard = dynamodb_backends["123456789012"][REGION].tables[table].stream_shard
    for zone in ("America/Los_Angeles", "Pacific/Kiritimati"):  # UTC-8 (or -7), UTC+14
        monkeypatch.setenv("TZ", zone)
        time.tzset()
        try:
            dynamodb.put_item(TableName=table, Item=item(zone))
            assert moto_fixes.trim(shard, now=time.time() + 23 * 3600) == 0
            assert moto_fixes.trim(shard, now=time.time() + 25 * 3600) == 1
        finally:
            monkeypatch.delenv("TZ")
            time.tzset()


def test_undelivered_records_are_kept_for_24_hours(server: EmbeddedDynamoDB, clients: tuple[Any, Any],
                                                    table: str) -> None:
    dynamodb, _ = clients
    dynamodb.put_item(TableName=table, Item=item("a"))
    shard = dynamodb_backends["123456789012"][REGION].tables[table].stream_shard
    assert moto_fixes.trim(shard, now=time.time() + 23 * 3600) == 0
    assert moto_fixes.trim(shard, now=time.time() + 25 * 3600) == 1


def test_an_old_iterator_expires(clients: tuple[Any, Any], table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    dynamodb, _ = clients
    dynamodb.put_item(TableName=table, Item=item("a"))
    stream = Stream(clients, table)
    monkeypatch.setattr(moto_fixes, "ITERATOR_LIFETIME", -1.0)
    with pytest.raises(ClientError) as expired:
        stream.read()
    assert expired.value.response["Error"]["Code"] == "ExpiredIteratorException"


def test_the_stream_poller_says_when_records_were_trimmed_before_it_read_them(
        clients: tuple[Any, Any], table: str, server: EmbeddedDynamoDB) -> None:
    dynamodb, _ = clients
    handled: list[str] = []
    poller = StreamPoller(table, lambda event, _: handled.extend(changes(event["Records"])) or {},
                          endpoint_url=server.url, region=REGION)
    dynamodb.put_item(TableName=table, Item=item("a"))
    poller.poll()
    dynamodb.put_item(TableName=table, Item=item("b"))
    dynamodb.put_item(TableName=table, Item=item("c"))
    shard = dynamodb_backends["123456789012"][REGION].tables[table].stream_shard
    assert moto_fixes.trim(shard, now=time.time() + 25 * 3600) == 3  # b and c never read

    dynamodb.put_item(TableName=table, Item=item("d"))
    poller.poll()
    assert handled == [("INSERT", "a"), ("INSERT", "d")]
    assert poller.status()["lost"] == 1


def test_expired_items_are_deleted_with_a_remove_record(server: EmbeddedDynamoDB, clients: tuple[Any, Any],
                                                       table: str) -> None:
    dynamodb, _ = clients
    attribute = tpl.table_ttl_attribute() or "expires_at"
    dynamodb.put_item(TableName=table, Item={**item("past"), attribute: {"N": str(int(time.time()) - 5)}})
    dynamodb.put_item(TableName=table, Item={**item("future"), attribute: {"N": str(int(time.time()) + 3600)}})
    dynamodb.put_item(TableName=table, Item=item("forever"))
    stream = Stream(clients, table)
    stream.read()

    assert server.sweep() >= 1
    remaining = {i["PK"]["S"] for i in dynamodb.scan(TableName=table)["Items"]}
    assert remaining == {"future", "forever"}
    assert changes(stream.read()) == [("REMOVE", "past")]


def test_a_sweep_reads_only_the_items_that_are_due_however_large_the_table(
        server: EmbeddedDynamoDB, clients: tuple[Any, Any], table: str) -> None:
    """Each write files its item's expiry; a sweep pops what is due and reads each such item again, so one that
    was rewritten with a later TTL, or without one, stays (asserted by what the sweep read, not by time)."""
    dynamodb, _ = clients
    attribute = tpl.table_ttl_attribute() or "expires_at"
    now = int(time.time())
    server.put_items(table, [item(f"kept-{n}") for n in range(1000)]
                     + [{**item(f"later-{n}"), attribute: {"N": str(now + 3600)}} for n in range(500)])
    server.sweep()  # the first sweep files what the table already holds
    for pk in ("due-1", "due-2", "renewed", "untimed"):
        dynamodb.put_item(TableName=table, Item={**item(pk), attribute: {"N": str(now - 5)}})
    dynamodb.update_item(TableName=table, Key=key("renewed"), UpdateExpression="SET #t = :t",
                         ExpressionAttributeNames={"#t": attribute},
                         ExpressionAttributeValues={":t": {"N": str(now + 3600)}})
    dynamodb.update_item(TableName=table, Key=key("untimed"), UpdateExpression="REMOVE #t",
                         ExpressionAttributeNames={"#t": attribute})
    read_before = moto_fixes.stats()["ttl_items_read"]

    assert server.sweep() == 2

    assert moto_fixes.stats()["ttl_items_read"] - read_before == 4  # the four filed as due, not the 1,504 others
    gone = {pk for pk in ("due-1", "due-2", "renewed", "untimed")
            if "Item" not in dynamodb.get_item(TableName=table, Key=key(pk))}
    assert gone == {"due-1", "due-2"}
    assert dynamodb.scan(TableName=table, Select="COUNT")["Count"] == 1502


def test_every_attribute_type_reads_back_as_written_and_streamed(clients: tuple[Any, Any], table: str) -> None:
    dynamodb, _ = clients
    written = {**key("types"), "s": {"S": "é ✓ \"quoted\""}, "n": {"N": "-12.5"}, "b": {"B": b"\x00\xffbytes"},
               "t": {"BOOL": True}, "z": {"NULL": True}, "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["1", "2"]},
               "bs": {"BS": [b"\x01", b"\x02"]}, "l": {"L": [{"S": "one"}, {"N": "2"}]},
               "m": {"M": {"inner": {"L": [{"BOOL": False}]}}}}
    stream = Stream(clients, table)
    dynamodb.put_item(TableName=table, Item=written)

    read = dynamodb.get_item(TableName=table, Key=key("types"))["Item"]
    queried = dynamodb.query(TableName=table, KeyConditionExpression="PK = :pk",
                             ExpressionAttributeValues={":pk": {"S": "types"}})["Items"]
    streamed = stream.read()[0]["dynamodb"]["NewImage"]
    normalised = {**written, "ss": {"SS": sorted(written["ss"]["SS"])}}
    for got in (read, queried[0], streamed):
        assert {**got, "ss": {"SS": sorted(got["ss"]["SS"])}, "ns": {"NS": sorted(got["ns"]["NS"])},
                "bs": {"BS": sorted(got["bs"]["BS"])}} == normalised



def test_items_share_their_attribute_names_and_short_values_instead_of_holding_copies(
        clients: tuple[Any, Any], table: str) -> None:
    """Each request's JSON makes new strings; stored items keep one copy of a name or short value between them
    (written, then updated: both paths), and what reads back is what was written."""
    dynamodb, _ = clients
    long_text = "x" * (moto_fixes.SHARED_UP_TO + 1)
    tag_map = {"tags": {"M": {"tag-1": {"S": "red"}}}}
    for pk in ("one", "two"):
        dynamodb.put_item(TableName=table, Item={**item(pk, tenant="t-1", note=long_text), **tag_map})
        dynamodb.update_item(TableName=table, Key=key(pk), UpdateExpression="SET kind = :k",
                             ExpressionAttributeValues={":k": {"S": "conversation"}})
    stored = dynamodb_backends["123456789012"][REGION].tables[table].items
    one, two = (stored[DynamoType({"S": pk})][DynamoType({"S": "A"})] for pk in ("one", "two"))

    def name(it: Any, wanted: str) -> str:
        return next(n for n in it.attrs if n == wanted)

    for attribute in ("tenant", "kind", "tags"):
        assert name(one, attribute) is name(two, attribute)
    assert one.attrs["tenant"].value is two.attrs["tenant"].value
    assert one.attrs["kind"].value is two.attrs["kind"].value
    assert one.attrs["tags"].value["tag-1"].value is two.attrs["tags"].value["tag-1"].value
    assert one.attrs["note"].value is not two.attrs["note"].value  # long values stay each item's own
    assert dynamodb.get_item(TableName=table, Key=key("two"))["Item"] == {
        **item("two", tenant="t-1", note=long_text), **tag_map, "kind": {"S": "conversation"}}

def test_a_moto_it_was_not_checked_against_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto_fixes, "_applied", {})
    monkeypatch.setattr(moto_fixes, "version", lambda _name: "99.0.0")
    with pytest.raises(moto_fixes.UnsupportedMoto, match=r"moto 99\.0\.0 is not one of 5\.2\.5"):
        moto_fixes.apply()


def test_an_idle_command_queue_is_not_polled_in_a_loop(server: EmbeddedDynamoDB) -> None:
    """Every receive is a request to the embedded server: an empty queue is asked ever less often (up to every
    2 s), never in a tight loop (that took a whole core and slowed every request)."""
    poller = QueuePoller(lambda event, _: {"batchItemFailures": []}, endpoint_url=server.url, region=REGION)
    receives: list[float] = []
    poller.sqs.meta.events.register("before-call.sqs.ReceiveMessage", lambda **_: receives.append(time.monotonic()))
    poller.start()
    try:
        time.sleep(1.5)
    finally:
        poller.stop()
    assert 1 <= len(receives) <= 6  # 0.2, 0.3, 0.45, 0.68 s apart...
    assert [next_wait(False, w) for w in (0.2, 1.5, 2.0)] == [pytest.approx(0.3), 2.0, 2.0]
    assert next_wait(True, 2.0) == 0.2  # messages: back to the shortest pause


def test_many_calls_share_one_connection_as_the_sdk_s_do_with_dynamodb(server: EmbeddedDynamoDB) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.connect()
    first_socket = connection.sock
    for _ in range(3):
        connection.request("POST", "/", body="{}", headers={
            "X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0",
            "Authorization": "AWS4-HMAC-SHA256 Credential=k/20260101/us-east-1/dynamodb/aws4_request, "
                             "SignedHeaders=host, Signature=0"})
        response = connection.getresponse()
        assert response.status == 200
        assert "TableNames" in json.loads(response.read())
    assert connection.sock is first_socket
