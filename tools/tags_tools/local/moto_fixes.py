"""The only code of this project that reaches into moto's internals: what makes moto's DynamoDB behave like DynamoDB
under sustained use, for the local server (`tags-local`, `tags-dynamodb`) and the benchmark.

Unpatched, moto 5.2 collapses after a few hundred writes (measured: 9.1 GB and 1.27 s per write after 300 object
writes through `make run`):

1. Transactions. `transact_write_items` deep-copies every table it touches, items and stream records included,
   so that it can roll back: each transaction costs O(everything ever written). Here a transaction saves only the
   items it names (and the stream's length) and restores those when it is cancelled: O(items in the transaction).
   What it does otherwise stays moto's own code: conditions, ReturnValuesOnConditionCheckFailure, the cancellation
   reasons in the order of the actions.
2. The stream. moto keeps every stream record forever, and its shard iterators too (two new ones per GetRecords).
   Here a record is trimmed once every reader of the shard has had it and it is older than `delivered_retention`
   seconds, and any record after DynamoDB's own 24 hours. A reader is a chain of iterators, each the
   NextShardIterator of the one before; one not heard from for `READER_IDLE` seconds no longer holds records back
   (a slow reader keeps what it has not read; one that left does not pin the stream). A read of a position that
   was trimmed raises TrimmedDataAccessException and an iterator older than 15 minutes ExpiredIteratorException,
   as on DynamoDB: never a silent gap. Sequence numbers stay what they were (the shard's starting number moves
   with the trim).
3. Time to live. DynamoDB deletes items whose TTL attribute is in the past (with a REMOVE stream record); moto never
   does, so rate-limit windows and idempotency records pile up and every index Query (which moto answers by reading
   the whole table) slows down. `sweep_expired` deletes them; the local server calls it every few seconds. Each
   write files the item's expiry in a heap, so a sweep reads only the items that are due (a scan of every item
   took ~11 ms per 10,000 under the server's lock, every 5 s: ~1 s at a million items).
4. Answers. moto serializes a result by walking the service model member by member (~35 ms for a page of 20 items;
   ~2 ms per stream record, so a GetRecords of 100 records held the server for ~200 ms, and a consumer that fell
   behind read bigger batches that held it longer). DynamoDB's results and stream records are already wire-format
   JSON, so they are dumped directly (timestamps as epoch seconds, as the wire format has them).
5. Instance tracking. Every moto model object is appended to a class-wide list when it is created (for moto's
   dashboard) and never removed: every item version ever written, every copy an update or a transaction makes,
   every stream record and shard iterator stays in memory for the life of the process (measured: 7,285 Item
   objects held for 1,310 items in the table after 1,500 requests). Items, stream records and shard iterators are
   not tracked here (moto's dashboard still lists tables).
6. Query. moto answers every Query by sorting every item of the table (DynamoType comparisons in Python) and then
   filtering: each Query costs O(n log n) in the table's size (measured: 14 ms at 1,500 items, 34 ms at 2,000).
   DynamoDB reads one partition. Here a Query on the table reads only its partition, and a Query on a global
   secondary index only the items filed under its hash value: moto keeps no index and filtered every item of the
   table (2 ms per 1,000 items, under the server's lock: as history entries filled the table, every request waited
   longer). Each put and update files the item under the index hash values it carries; a query drops the keys whose
   item has moved on or gone. Neither reading a missing item nor deleting the last item of a partition leaves the
   partition behind as an empty entry (moto's item map is a defaultdict: every GetItem of a missing partition added
   one, for good).
7. Client request tokens. DynamoDB answers a TransactWriteItems repeated with the same ClientRequestToken within
   10 minutes as a success without applying it again (the SDK repeats a transaction after a timeout), and a token
   reused with other actions with IdempotentParameterMismatchException; moto ignores the token and applies the
   repeat, whose conditions then fail against the first one's writes. Here tokens are honoured as DynamoDB does.
8. Per-request bookkeeping. moto's server lists its own package directory (a listdir and ~150 stats) on every
   request to recognise the service it is for, and reads the handler class's methods with `inspect.getmembers`
   on every call: together ~8 % of the server's time under load. Both answers never change while the process
   runs, so they are read once.
9. Items in memory. moto holds each item as a dict of `DynamoType` objects whose attribute names and string values
   are the new strings of the request that wrote it: 3.8 KB of RSS per history entry of 13 attributes (20,000
   written one request at a time). Here each stored item's attribute names, and its string values up to 64
   characters (tenant, kind, ids, names, actions), are shared with every other item that has them (`sys.intern`:
   a string no item uses any more is freed): 2.2 KB per entry.

`apply()` installs all of it, once per process, and refuses (UnsupportedMoto) a moto version it was not checked
against or whose internals are not the shape it expects: a new moto fails loudly here instead of being silently
wrong. Tests (tests/infra/test_embedded_dynamodb.py) prove the DynamoDB semantics on the embedded server.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import heapq
import inspect
import itertools
import json
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

__all__ = ["CHECKED_MOTO_VERSIONS", "UnsupportedMoto", "apply", "stats", "sweep_expired", "trim", "untracked"]

CHECKED_MOTO_VERSIONS = ("5.2.5",)
STREAM_RETENTION = 24 * 3600.0  # DynamoDB Streams keep a record for 24 hours
ITERATOR_LIFETIME = 15 * 60.0  # a shard iterator expires 15 minutes after it is returned
ITERATOR_SWEEP_EVERY = 256  # iterators handed out between two sweeps of the expired ones

_lock = threading.Lock()
_applied: dict[str, float] = {}
READER_IDLE = 60.0  # seconds without a GetRecords after which a stream reader no longer holds records back
TOKEN_LIFETIME = 10 * 60.0  # DynamoDB remembers a transaction's ClientRequestToken for 10 minutes
_readers = itertools.count(1)  # stream readers (chains of shard iterators), numbered as they start
_ttl_order = itertools.count()  # ties in a TTL heap are broken by write order (keys do not compare)
_UNTRACKED = ("Item", "StreamRecord", "ShardIterator")  # moto models created per request (fix 5)
_counters = {"transactions": 0, "items_saved": 0, "rollbacks": 0, "records_trimmed": 0, "iterators_expired": 0,
             "items_expired": 0, "ttl_items_read": 0, "partition_queries": 0, "index_queries": 0, "query_items_read": 0,
             "token_repeats": 0}


class UnsupportedMoto(RuntimeError):
    """moto is not a version these fixes were checked against, or its internals changed."""


def stats() -> dict[str, int]:
    """What the fixes did so far in this process (tests assert on it: what a transaction copied, what was trimmed)."""
    return dict(_counters)


def apply(*, delivered_retention: float = 10.0) -> None:
    """Install the fixes in this process's moto (idempotent; the retention of the last call wins)."""
    with _lock:
        _applied["delivered_retention"] = delivered_retention
        if "installed" in _applied:
            return
        installed = version("moto")
        if installed not in CHECKED_MOTO_VERSIONS:
            raise UnsupportedMoto(
                f"moto {installed} is not one of {', '.join(CHECKED_MOTO_VERSIONS)}, the versions "
                "tools/tags_tools/local/moto_fixes.py was checked against: check the fixes against it, then add it")
        _install()
        _applied["installed"] = 1.0


# --- 1. transactions ----------------------------------------------------------------------------------------------

class _TablesAreNotCopied:
    """Stands in for the `copy` module inside moto.dynamodb.models: moto's own whole-table backup becomes a no-op
    (the wrapper below backs up the touched items instead); every other deepcopy there is the real one."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table  # noqa: PLC0415

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _touched(backend: Any, transact_items: list[dict[str, Any]]) -> Iterator[tuple[Any, Any, Any]]:
    """(table, hash key, range key) of every action that names a key of an existing table."""
    for entry in transact_items:
        for op in entry.values():
            table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            if table is None:
                continue
            source = op.get("Key") or op.get("Item") or {}
            keys = {name: source[name] for name in (table.hash_key_attr, table.range_key_attr) if name in source}
            try:
                yield (table, *backend.get_keys_value(table, keys))
            except Exception:  # noqa: S112 - a malformed key: moto's own code refuses it, nothing to save
                continue


def _restore(table: Any, hash_key: Any, range_key: Any, saved: Any) -> None:
    if range_key is None:
        if saved is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = saved
        return
    partition = table.items[hash_key]
    if saved is None:
        partition.pop(range_key, None)
        if not partition:
            table.items.pop(hash_key, None)
    else:
        partition[range_key] = saved
    if saved is not None:
        _file(table, saved)


def _wrap_transactions(original: Any) -> Any:
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        saved = [(table, hk, rk, copy.deepcopy(table.get_item(hk, rk))) for table, hk, rk in
                 _touched(self, transact_items)]
        shards = {id(table.stream_shard): (table.stream_shard, _next_sequence(table.stream_shard))
                  for table, *_ in saved if table.stream_shard is not None}
        _counters["transactions"] += 1
        _counters["items_saved"] += len(saved)
        try:
            return original(self, transact_items)
        except Exception:
            _counters["rollbacks"] += 1
            for table, hash_key, range_key, item in reversed(saved):
                _restore(table, hash_key, range_key, item)
            for shard, next_sequence in shards.values():  # the records of the cancelled writes go too
                del shard.items[max(0, next_sequence - shard.starting_sequence_number):]
            raise

    return transact_write_items


# --- 2. the stream ------------------------------------------------------------------------------------------------

def _next_sequence(shard: Any) -> int:
    return int(shard.starting_sequence_number) + len(shard.items)


def _epoch(moment: Any) -> float:
    """Epoch seconds of a moto timestamp: moto's datetimes are naive and in UTC (never the machine's time zone)."""
    if isinstance(moment, datetime):
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return float(moment)


def _record_age(record: Any, now: float) -> float:
    return now - _epoch(record.record["dynamodb"]["ApproximateCreationDateTime"])


def trim(shard: Any, now: float | None = None) -> int:
    """Drop the records at the head of the shard that every reader has had and that are older than the retention,
    or older than DynamoDB's 24 hours. Returns how many."""
    now = time.time() if now is None else now
    delivered_upto = _read_by_all(shard)
    retention = _applied.get("delivered_retention", 10.0)
    count = 0
    for record in shard.items:
        age = _record_age(record, now)
        sequence = int(shard.starting_sequence_number) + count
        if age > STREAM_RETENTION or (sequence < delivered_upto and age > retention):
            count += 1
        else:
            break
    if count:
        del shard.items[:count]
        shard.starting_sequence_number += count
        _counters["records_trimmed"] += count
    return count


def _read_by_all(shard: Any) -> int:
    """The first sequence number some active reader has not had yet (with none active: the furthest any read)."""
    readers: dict[int, tuple[int, float]] = getattr(shard, "tags_readers", {})
    oldest = time.monotonic() - READER_IDLE
    for gone in [reader for reader, (_, seen) in readers.items() if seen < oldest]:
        del readers[gone]
    if readers:
        return min(position for position, _ in readers.values())
    return int(getattr(shard, "tags_delivered_upto", 0))


def _error(code: str, message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError  # noqa: PLC0415

    return JsonRESTError(code, message)


def _shard_get(self: Any, start: int, quantity: int) -> list[dict[str, Any]]:
    trim(self)
    offset = start - int(self.starting_sequence_number)
    if offset < 0:
        raise _error("TrimmedDataAccessException",
                     f"Records before sequence number {self.starting_sequence_number} have been trimmed.")
    records = [record.to_json() for record in self.items[offset:offset + quantity]]
    if records:
        self.tags_delivered_upto = max(getattr(self, "tags_delivered_upto", 0), start + len(records))
    return records


def _wrap_iterator_init(original: Any) -> Any:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.tags_created = time.monotonic()
        backend = self.streams_backend
        handed_out = getattr(backend, "tags_handed_out", 0) + 1
        backend.tags_handed_out = handed_out
        if handed_out % ITERATOR_SWEEP_EVERY == 0:
            _expire_iterators(backend)

    return __init__


def _expire_iterators(backend: Any) -> None:
    oldest = time.monotonic() - ITERATOR_LIFETIME
    expired = [arn for arn, it in backend.shard_iterators.items() if getattr(it, "tags_created", 0) < oldest]
    for arn in expired:
        del backend.shard_iterators[arn]
    _counters["iterators_expired"] += len(expired)


def _wrap_get_records(original: Any) -> Any:
    def get_records(self: Any, iterator_arn: str, limit: int) -> dict[str, Any]:
        iterator = self.shard_iterators.get(iterator_arn)
        if iterator is None or getattr(iterator, "tags_created", 0) < time.monotonic() - ITERATOR_LIFETIME:
            self.shard_iterators.pop(iterator_arn, None)
            raise _error("ExpiredIteratorException", "Iterator expired. The iterator was created over 15 "
                         "minutes ago, or is not one this stream handed out.")
        result: dict[str, Any] = original(self, iterator_arn, limit)
        following = self.shard_iterators.get(result.get("NextShardIterator"))
        reader = getattr(iterator, "tags_reader", None) or next(_readers)
        shard = iterator.stream_shard
        if following is not None:
            following.tags_reader = reader  # the chain goes on: the same reader
            readers = shard.__dict__.setdefault("tags_readers", {})
            readers[reader] = (int(following.sequence_number), time.monotonic())
        return result

    return get_records


# --- 3. time to live ----------------------------------------------------------------------------------------------

def sweep_expired(now: float | None = None) -> int:
    """Delete every item whose TTL attribute is a number of epoch seconds in the past, in every table of every
    account and region of this process's moto, as DynamoDB's TTL does (a REMOVE stream record each). Returns how
    many."""
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415

    now = time.time() if now is None else now
    deleted = 0
    for account in list(dynamodb_backends.values()):
        for backend in list(account.values()):
            for table in list(backend.tables.values()):
                deleted += _sweep_table(table, now)
    _counters["items_expired"] += deleted
    return deleted


def _ttl_attribute(table: Any) -> str | None:
    spec = getattr(table, "ttl", None) or {}
    return spec.get("AttributeName") if spec.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") else None


def _expiry(item: Any, attribute: str) -> float | None:
    value = item.attrs.get(attribute)
    if value is None or value.type != "N":
        return None
    try:
        return float(value.value)
    except ValueError:
        return None


def _ttl_heap(table: Any, attribute: str) -> list[tuple[float, int, Any, Any]]:
    """The table's (expiry, order, hash key, range key) heap for `attribute`; built from the whole table the first
    time (or when the TTL attribute changed), then kept by every write (file_expiry)."""
    kept = getattr(table, "tags_ttl", None)
    if kept is not None and kept[0] == attribute:
        heap: list[tuple[float, int, Any, Any]] = kept[1]
        return heap
    heap = []
    table.tags_ttl = (attribute, heap)
    for partition in list(table.items.values()):
        for item in _items_of(table, partition):
            file_expiry(table, item)
    return heap


def file_expiry(table: Any, item: Any) -> None:
    """Note when `item` (just written) expires. Entries are never updated: a later write adds its own, and the
    sweep reads the item again before deleting it."""
    kept = getattr(table, "tags_ttl", None)
    if kept is None:
        return  # built from the whole table on the first sweep
    expires = _expiry(item, kept[0])
    if expires is not None:
        heapq.heappush(kept[1], (expires, next(_ttl_order), item.hash_key, item.range_key))


def _sweep_table(table: Any, now: float) -> int:
    """Pop the entries that are due; delete each item whose TTL, read again now, has passed."""
    attribute = _ttl_attribute(table)
    if not attribute:
        return 0
    heap = _ttl_heap(table, attribute)
    deleted = 0
    while heap and heap[0][0] < now:
        _, _, hash_key, range_key = heapq.heappop(heap)
        _counters["ttl_items_read"] += 1
        item = _stored(table, hash_key, range_key)
        expires = None if item is None else _expiry(item, attribute)
        if expires is not None and expires < now:  # not rewritten since with a later TTL, nor gone
            table.delete_item(hash_key, range_key)
            deleted += 1
    return deleted


# --- 4. answers ---------------------------------------------------------------------------------------------------

def _json_answer(body: str) -> tuple[int, dict[str, str], str]:
    return 200, {"Content-Type": "application/x-amz-json-1.0"}, body


def _wrap_execute_result(original: Any) -> Any:
    def execute_result(self: Any, context: Any) -> Any:
        try:
            body = json.dumps(self.result)
        except TypeError:  # datetimes (table descriptions): moto's own serializer
            return original(self, context)
        return _json_answer(body)

    return execute_result


def _wire(value: Any) -> Any:
    """What json.dumps cannot write itself, as the wire format has it: binary as base64, timestamps as epoch."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return _epoch(value)
    raise TypeError(f"{type(value).__name__} is not a DynamoDB wire value")


def _stream_records_answer(result_class: type) -> Any:
    """DynamoDBStreamsHandler.get_records: moto's backend call, its records dumped as JSON directly."""
    class _StreamRecords(result_class):
        def execute_result(self, context: Any) -> Any:
            return _json_answer(json.dumps(self.result, default=_wire))

    def get_records(handler: Any) -> Any:
        limit = handler._get_param("Limit")
        return _StreamRecords(handler.backend.get_records(handler._get_param("ShardIterator"),
                                                          1000 if limit is None else limit))

    return get_records


# --- 5. instance tracking ---------------------------------------------------------------------------------------

def _new_untracked(cls: type, *args: Any, **kwargs: Any) -> Any:
    return object.__new__(cls)


def untracked() -> dict[str, int]:
    """How many instances of the per-request models moto holds in its tracking lists (0 once fixed)."""
    from moto.core.model_instances import model_data  # noqa: PLC0415

    models = {**model_data["dynamodb"], **model_data["dynamodbstreams"]}
    return {name: len(getattr(models[name], "instances_tracked", ())) for name in _UNTRACKED}


def _stop_tracking() -> None:
    """Their own `__new__` (BaseModel's appends to the tracking list); it outlives moto's resets of the lists."""
    from moto.core.common_models import BaseModel  # noqa: PLC0415
    from moto.core.model_instances import model_data  # noqa: PLC0415

    models = {**model_data["dynamodb"], **model_data["dynamodbstreams"]}
    for name in _UNTRACKED:
        model: Any = models.get(name)
        if model is None or model.__new__ is not BaseModel.__new__:
            raise UnsupportedMoto(f"moto's {name} is not created by BaseModel.__new__ any more: check moto_fixes.py")
        model.__new__ = staticmethod(_new_untracked)
        model.instances_tracked = []


# --- 6. query ------------------------------------------------------------------------------------------------------

def _stored(table: Any, hash_key: Any, range_key: Any) -> Any:
    """The item the table holds under these keys now, or None."""
    partition = table.items.get(hash_key)
    return partition.get(range_key) if isinstance(partition, dict) else partition


def _items_of(table: Any, partition: Any) -> list[Any]:
    if partition is None:
        return []
    return list(partition.values()) if table.range_key_attr else [partition]


def _wrap_query(original: Any) -> Any:
    signature = inspect.signature(original)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = signature.bind(self, *args, **kwargs).arguments
        hash_key, index_name = call.get("hash_key"), call.get("index_name")
        if index_name is None and hash_key is not None:
            candidates = _items_of(self, self.items.get(hash_key))
            _counters["partition_queries"] += 1
        elif (indexed := _index_candidates(self, index_name, hash_key, call.get("hash_key_conditions"))) is not None:
            candidates = indexed  # moto sorts the index's matches itself: the table's own order is not needed
            _counters["index_queries"] += 1
        else:
            candidates = [item for partition in list(self.items.values()) for item in _items_of(self, partition)]
        _counters["query_items_read"] += len(candidates)
        self.all_items = lambda: candidates  # what moto's query reads, for this call only (requests are serialized)
        try:
            return original(self, *args, **kwargs)
        finally:
            del self.all_items

    return query


def _hash_attributes(table: Any) -> dict[str, str]:
    """Each global secondary index with a single hash key attribute → that attribute (read once per table)."""
    attributes: dict[str, str] | None = getattr(table, "tags_index_attributes", None)
    if attributes is None:
        attributes = table.tags_index_attributes = {}
        for index in table.global_indexes:
            hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
            if len(hashes) == 1:
                attributes[index.name] = hashes[0]
    return attributes


def _index_map(table: Any) -> dict[str, dict[Any, set[tuple[Any, Any]]]]:
    indexes: dict[str, dict[Any, set[tuple[Any, Any]]]] | None = getattr(table, "tags_indexes", None)
    if indexes is None:  # first use: every item the table already holds
        indexes = table.tags_indexes = {}
        for partition in list(table.items.values()):
            for item in _items_of(table, partition):
                index_item(table, item)
    return indexes


def index_item(table: Any, item: Any) -> None:
    """Note `item` under each GSI hash value it carries now. The sets may keep keys whose item has moved on or gone
    (a query drops them when it finds so); they never miss one: every write goes through here."""
    indexes = getattr(table, "tags_indexes", None)
    if indexes is None:
        return  # built from the whole table on its first index query
    key = (item.hash_key, item.range_key)
    for index_name, attribute in _hash_attributes(table).items():
        value = item.attrs.get(attribute)
        if value is not None:
            indexes.setdefault(index_name, {}).setdefault(value, set()).add(key)


def _index_candidates(table: Any, index_name: str | None, hash_key: Any, conditions: Any) -> list[Any] | None:
    """The items that carry `hash_key` as the index's hash value now (None: not a single-attribute GSI query)."""
    if not index_name or hash_key is None or (conditions and len(conditions) != 1):
        return None
    attribute = _hash_attributes(table).get(index_name)
    if attribute is None:
        return None
    keys = _index_map(table).setdefault(index_name, {}).get(hash_key, set())
    found, stale = [], []
    for hash_value, range_value in keys:
        item = _stored(table, hash_value, range_value)
        if item is not None and item.attrs.get(attribute) == hash_key:
            found.append(item)
        else:
            stale.append((hash_value, range_value))
    keys.difference_update(stale)
    return found


def _file(table: Any, item: Any) -> None:
    """What every write (put, update, a rolled-back item restored) files: the item under its index hash values
    (fix 6) and its expiry for the TTL sweep (fix 3)."""
    index_item(table, item)
    file_expiry(table, item)


def _wrap_put_item(original: Any) -> Any:
    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = share_strings(original(self, *args, **kwargs))
        _file(self, item)
        return item

    return put_item


def _wrap_update_item(original: Any) -> Any:
    def update_item(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        item = original(self, table_name, *args, **kwargs)
        if item is not None:
            _file(self.get_table(table_name), share_strings(item))
        return item

    return update_item


def _wrap_get_item(original: Any) -> Any:
    def get_item(self: Any, hash_key: Any, range_key: Any = None, *args: Any, **kwargs: Any) -> Any:
        if range_key and hash_key not in self.items:  # moto's lookup would add an empty partition (a defaultdict)
            return None
        return original(self, hash_key, range_key, *args, **kwargs)

    return get_item


def _wrap_delete_item(original: Any) -> Any:
    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        try:
            return original(self, hash_key, range_key)
        finally:
            if range_key is not None and not self.items.get(hash_key, True):
                self.items.pop(hash_key, None)

    return delete_item


# --- 7. client request tokens --------------------------------------------------------------------------------

def _wrap_transact_handler(original: Any) -> Any:
    def transact_write_items(self: Any) -> Any:
        token = self.body.get("ClientRequestToken")
        if not token:
            return original(self)
        now = time.monotonic()
        # Kept on the backend: a moto reset (a new backend, as between tests) forgets them, as a new DynamoDB would.
        # In the order they were seen (a dict keeps insertion order), so the expired ones are dropped from the front
        # without reading the others: ~30 transactions a second keep ~18,000 tokens for their 10 minutes.
        tokens: dict[str, tuple[bytes, float]] = self.dynamodb_backend.__dict__.setdefault("tags_tokens", {})
        while tokens:
            oldest = next(iter(tokens))
            if tokens[oldest][1] >= now - TOKEN_LIFETIME:
                break
            del tokens[oldest]
        # A digest of the actions, not their JSON (a kilobyte or more per transaction, kept 10 minutes).
        fingerprint = hashlib.sha256(json.dumps(self.body.get("TransactItems"), sort_keys=True).encode()).digest()
        seen = tokens.get(token)
        if seen is not None:
            if seen[0] != fingerprint:
                raise _error("com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                                    "The request uses the same client token as a previous, but non-identical, "
                                    "request.")
            _counters["token_repeats"] += 1
            from moto.core.responses import ActionResult  # noqa: PLC0415

            return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
        result = original(self)
        tokens[token] = (fingerprint, now)
        return result

    return transact_write_items


# --- 9. items in memory ------------------------------------------------------------------------------------------

SHARED_UP_TO = 64  # string values up to this many characters are shared between items


def share_strings(item: Any) -> Any:
    """`item` (just stored), its attribute names and short string values replaced by the shared copies."""
    attrs = item.attrs
    shared = {sys.intern(name): _shared(value) for name, value in attrs.items()}
    attrs.clear()
    dict.update(attrs, shared)  # not moto's __setitem__, which re-measures the whole item per attribute
    for key in (item.hash_key, item.range_key):
        if key is not None:
            _shared(key)
    return item


def _shared(value: Any) -> Any:
    kind, raw = value.type, value.value
    value.type = sys.intern(kind)
    if kind in ("S", "N"):
        if len(raw) <= SHARED_UP_TO:
            value.value = sys.intern(raw)
    elif kind == "M":
        value.value = {sys.intern(name): _shared(member) for name, member in raw.items()}
    elif kind == "L":
        for member in raw:
            _shared(member)
    elif kind in ("SS", "NS"):
        value.value = [sys.intern(member) if len(member) <= SHARED_UP_TO else member for member in raw]
    return value


# --- installing ---------------------------------------------------------------------------------------------------

def _require(owner: Any, name: str) -> Any:
    value = getattr(owner, name, None)
    if value is None:
        raise UnsupportedMoto(f"moto's {getattr(owner, '__name__', owner)}.{name} is gone: check moto_fixes.py")
    return value


def _install() -> None:
    from moto.core.responses import ActionResult  # noqa: PLC0415
    from moto.dynamodb import models  # noqa: PLC0415
    from moto.dynamodb.models.table import StreamShard, Table  # noqa: PLC0415
    from moto.dynamodb.responses import DynamoHandler, DynamoResult  # noqa: PLC0415
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator  # noqa: PLC0415
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler  # noqa: PLC0415

    if _require(models, "copy") is not copy:
        raise UnsupportedMoto("moto.dynamodb.models no longer backs up tables with copy.deepcopy")
    checked: tuple[tuple[Any, str], ...] = (
        (StreamShard, "get"), (StreamShard, "add"), (Table, "get_item"), (Table, "delete_item"), (Table, "query"),
        (Table, "all_items"), (Table, "put_item"), (models.DynamoDBBackend, "update_item"),
        (DynamoDBStreamsBackend, "get_records"), (DynamoDBStreamsHandler, "get_records"),
        (DynamoDBStreamsHandler, "_get_param"), (models.DynamoDBBackend, "transact_write_items"),
        (DynamoResult, "execute_result"), (DynamoHandler, "transact_write_items"))
    for owner, name in checked:
        _require(owner, name)
    patches: tuple[tuple[Any, str, Any], ...] = (
        (models, "copy", _TablesAreNotCopied),
        (models.DynamoDBBackend, "transact_write_items",
         _wrap_transactions(models.DynamoDBBackend.transact_write_items)),
        (StreamShard, "get", _shard_get),
        (Table, "query", _wrap_query(Table.query)),
        (Table, "put_item", _wrap_put_item(Table.put_item)),
        (models.DynamoDBBackend, "update_item", _wrap_update_item(models.DynamoDBBackend.update_item)),
        (Table, "get_item", _wrap_get_item(Table.get_item)),
        (Table, "delete_item", _wrap_delete_item(Table.delete_item)),
        (ShardIterator, "__init__", _wrap_iterator_init(ShardIterator.__init__)),
        (DynamoDBStreamsBackend, "get_records", _wrap_get_records(DynamoDBStreamsBackend.get_records)),
        (DynamoResult, "execute_result", _wrap_execute_result(DynamoResult.execute_result)),
        (DynamoDBStreamsHandler, "get_records", _stream_records_answer(ActionResult)),
        (DynamoHandler, "transact_write_items", _wrap_transact_handler(DynamoHandler.transact_write_items)))
    for owner, name, replacement in patches:
        setattr(owner, name, replacement)
    _read_once()
    _stop_tracking()


def _read_once() -> None:
    """Fix 8: moto's package listing and each handler class's method names, read once per process."""
    from moto import backends  # noqa: PLC0415
    from moto.core import responses  # noqa: PLC0415

    modules = tuple(_require(backends, "list_of_moto_modules")())
    backends.list_of_moto_modules = lambda: modules
    responses.method_names_from_class = functools.cache(_require(responses, "method_names_from_class"))
