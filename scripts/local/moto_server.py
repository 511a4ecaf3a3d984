"""moto server with defects of moto 5.2 patched, for the local stack and tests.

1. TransactWriteItems backs up *every table it touches* with copy.deepcopy before it
   starts, so each transaction costs time and memory in proportion to the whole table
   (an analytics table of a few thousand events made transactions take seconds and the
   process grow past 17 GB). We back up only the items the transaction touches.
2. The server handles requests on threads, and a failed transaction restores its backup
   over the live table, erasing writes that other requests committed meanwhile. We run
   DynamoDB operations one at a time under one lock, as the real service's per-item
   isolation makes them appear to.
3. SQS ReceiveMessage checks each candidate message's retention by computing *all* the
   queue's attributes, which counts every message: a receive costs O(messages²), and a
   queue of a few thousand messages drains at a few messages a second. We read the
   retention period directly.
4. TransactWriteItems ignores ClientRequestToken. DynamoDB makes a transaction with a token
   idempotent for 10 minutes after it completes: the same token with the same request
   succeeds again without writing anything (the SDK resends a request whose answer was
   lost, and the functions rely on that), the same token with another request is an
   IdempotentParameterMismatchException. A transaction that failed is not remembered.
5. The response serializer walks every attribute value through the API model, trying each
   of its ten type members under several aliases: most of the time of a Query or Scan that
   returns many items, and CPU every other request waits for. It also treats an empty member
   name as "no name", so a map whose key is the empty string ({"M": {"": {"S": "x"}}}) was
   answered merged into the map ({"M": {"S": "x"}}): reads of such an item broke the SDK and
   its snapshot could not be written back. Attribute values are serialized directly.
6. Every Query and Scan page starts from the whole table, sorted (Table.all_items), and the
   sort compares moto's attribute objects, which convert their values on each comparison: a
   Query of one partition costs O(n log n) slow comparisons in the table's size n, and a
   full Scan, one such sort per page. On a table of a few thousand items (the analytics
   table after a fuzz run) reads took seconds and held the lock everyone waits on. A Query
   of the table reads its partition only; a Query of an index filters the table unsorted
   (it sorts its matches itself); the sorts compare plain values, converted once per item.
7. Item sizes are counted without DynamoDB's overheads (a list or map costs its elements
   only, a number its characters), so items DynamoDB refuses as over 400 KB are stored.
   We count as the DynamoDB guide's "Item sizes and formats" page does: 3 bytes per list or
   map plus 1 per element, numbers by significant digits in pairs from the decimal point
   (functions/shared/dynamo-size.ts counts the same way).
8. EventBridge delivers to an SQS target (no input transformer) an event without its
   `account` field; AWS delivers the whole event, `account` included (the analytics
   processor trusts a tenant only in its own account's events). We add `account`.

Everything else is moto as pinned in requirements.txt.

Usage: python moto_server.py [--exit-with-parent] -H HOST -p PORT
  --exit-with-parent  end when the process that started us is gone (a runtime killed with
                      SIGKILL must not leave an emulator holding the port)
"""

import base64
import copy
import json
import os
import sys
import threading
import time

from moto.dynamodb import models as dynamodb_models
from moto.core.responses import ActionResult
from moto.dynamodb.exceptions import DynamodbException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.utilities import bytesize
from moto.dynamodb.models.table import Table
from moto.core.serialize import BaseJSONSerializer
from moto.core.utils import unix_time
from moto.dynamodb.responses import DynamoHandler
from moto.events.utils import EventTemplateParser
from moto.server import main
from moto.sqs.models import SQSBackend

_lock = threading.RLock()


class _TableAwareCopy:
    """copy.deepcopy for moto's DynamoDB module that leaves whole tables alone."""

    def __getattr__(self, name):
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value, memo=None):
        if isinstance(value, Table):
            return value  # the transaction's own rollback is item-level, below
        return copy.deepcopy(value, memo)


dynamodb_models.copy = _TableAwareCopy()


def _key_of(backend, op_type, op):
    table = backend.get_table(op["TableName"])
    source = op["Item"] if op_type == "Put" else op["Key"]
    key = {table.hash_key_attr: source[table.hash_key_attr]}
    if table.range_key_attr is not None and table.range_key_attr in source:
        key[table.range_key_attr] = source[table.range_key_attr]
    return key


_original_transact_write_items = DynamoDBBackend.transact_write_items


def _transact_write_items(self, transact_items):
    with _lock:
        backups = []
        try:
            for entry in transact_items:
                op_type, op = next(iter(entry.items()))
                if op_type == "ConditionCheck":
                    continue
                key = _key_of(self, op_type, op)
                current = self.get_item(op["TableName"], key)
                backups.append((op["TableName"], key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
        except Exception:
            backups = None  # malformed request: moto's own validation answers it
        try:
            return _original_transact_write_items(self, transact_items)
        except Exception:
            for table_name, key, attributes in reversed(backups or []):
                if attributes is None:
                    self.tables[table_name].delete_item(*self.get_keys_value(self.get_table(table_name), key))
                else:
                    self.tables[table_name].put_item(attributes)
            raise


DynamoDBBackend.transact_write_items = _transact_write_items


IDEMPOTENCY_WINDOW_SECONDS = 600
_completed_tokens = {}  # token -> (fingerprint of the request, when it completed)


class _IdempotentParameterMismatch(DynamodbException):
    def __init__(self):
        super().__init__(
            "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
            "The ClientRequestToken was used before with a different request",
        )


_original_transact_write_handler = DynamoHandler.transact_write_items


def _transact_write_handler(self):
    token = self.body.get("ClientRequestToken")
    if not token:
        return _original_transact_write_handler(self)
    request = {name: value for name, value in self.body.items() if name != "ClientRequestToken"}
    fingerprint = json.dumps(request, sort_keys=True)
    with _lock:
        now = time.time()
        for old in [t for t, (_, at) in _completed_tokens.items() if now - at > IDEMPOTENCY_WINDOW_SECONDS]:
            del _completed_tokens[old]
        seen = _completed_tokens.get(token)
        if seen is not None:
            if seen[0] != fingerprint:
                raise _IdempotentParameterMismatch()
            return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
        result = _original_transact_write_handler(self)  # raises when cancelled: not remembered
        _completed_tokens[token] = (fingerprint, time.time())
        return result


DynamoHandler.transact_write_items = _transact_write_handler


def _number_size(text):
    text = str(text).lower().lstrip("+-")
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    all_digits = whole + fraction
    significant = all_digits.lstrip("0")
    leading_zeros = len(all_digits) - len(significant)
    significant = significant.rstrip("0")
    if not significant:
        return 2
    point_after = len(whole) - leading_zeros + int(exponent or 0)
    pad_left = point_after % 2
    return 1 + (pad_left + len(significant) + 1) // 2


def _dynamo_size(self):
    if self.is_number():
        return _number_size(self.value)
    if self.is_set():
        sub_type = self.type[0]
        return sum(DynamoType({sub_type: v}).size() for v in self.value)
    if self.is_list():
        return 3 + sum(1 + v.size() for v in self.value)
    if self.is_map():
        return 3 + sum(1 + bytesize(k) + DynamoType(v).size() for k, v in self.value.items())
    if isinstance(self.value, bool) or self.type == "NULL":
        return 1
    return bytesize(self.value)


DynamoType.size = _dynamo_size


def _is_message_valid_based_on_retention_period(self, queue_name, message):
    retention_seconds = int(self.get_queue(queue_name).message_retention_period)
    return retention_seconds + message.sent_timestamp / 1000 > unix_time()


SQSBackend.is_message_valid_based_on_retention_period = _is_message_valid_based_on_retention_period


_ATTRIBUTE_TYPES = {"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"}


def _b64(value):
    return base64.b64encode(value).decode("ascii") if isinstance(value, (bytes, bytearray)) else value


def _attribute_value_json(value):
    """An attribute value, {type: value} as the backend hands it over, as DynamoDB JSON."""
    ((kind, inner),) = value.items()
    if kind == "M":
        return {"M": {name: _attribute_value_json(child) for name, child in inner.items()}}
    if kind == "L":
        return {"L": [_attribute_value_json(child) for child in inner]}
    if kind == "B":
        return {"B": _b64(inner)}
    if kind == "BS":
        return {"BS": [_b64(member) for member in inner]}
    return {kind: inner}


_original_serialize_type_structure = BaseJSONSerializer._serialize_type_structure


def _serialize_type_structure(self, serialized, value, shape, key):
    if shape.name == "AttributeValue" and isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _ATTRIBUTE_TYPES:
        # Direct, so an empty map key keeps its name and the cost is one visit per value.
        serialized[self.get_serialized_name(shape, key)] = _attribute_value_json(value)
        return
    _original_serialize_type_structure(self, serialized, value, shape, key)


BaseJSONSerializer._serialize_type_structure = _serialize_type_structure


_partition_query = threading.local()
_INDEX_QUERY = object()  # the hint for a Query of an index: the whole table, unsorted
_original_all_items = Table.all_items


def _all_items(self):
    hint = getattr(_partition_query, "hint", None)
    if hint is not None and hint[0] is self:
        if hint[1] is _INDEX_QUERY:  # it sorts what matches itself
            return [item for hash_set in self.items.values() for item in (hash_set.values() if self.range_key_attr else [hash_set])]
        hash_set = self.items.get(hint[1])  # .get: self.items is a defaultdict
        if hash_set is None:
            return []
        return list(hash_set.values()) if self.range_key_attr else [hash_set]
    items = [item for hash_set in self.items.values() for item in (hash_set.values() if self.range_key_attr else [hash_set])]
    # The order moto's own sort gives (DynamoType compares cast_value), computed once per item.
    if self.range_key_attr:
        return sorted(items, key=lambda x: (x.hash_key.cast_value, x.range_key.cast_value) if x.range_key else (x.hash_key.cast_value,))
    return sorted(items, key=lambda x: x.hash_key.cast_value)


def _query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward, projection_expressions, index_name=None, *args, **kwargs):
    _partition_query.hint = (self, _INDEX_QUERY if index_name else hash_key) if (index_name or hash_key is not None) else None
    try:
        return _original_query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward, projection_expressions, index_name, *args, **kwargs)
    finally:
        _partition_query.hint = None


def _sorted_items(self, hash_key_attrs, range_key_attrs, items):
    # moto's order (DynamoType compares cast_value), with each value converted once per item.
    attrs_to_sort_by = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
    items.sort(key=lambda x: tuple(x.attrs[key].cast_value for key in attrs_to_sort_by))
    return items


_original_query = Table.query
Table.all_items = _all_items
Table.query = _query
Table.sorted_items = _sorted_items


EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = (
    '{"id": "<id>", "time": <time>, "version": "0", "detail-type": "<detail-type>", "source": "<source>", '
    '"account": "<account>", "region": "<region>", "resources": <resources>, "detail": <detail>}'
)


def _serialized(method):
    def run(self, *args, **kwargs):
        with _lock:
            return method(self, *args, **kwargs)

    run.__name__ = method.__name__
    return run


for _name in (
    "put_item", "get_item", "update_item", "delete_item", "query", "scan",
    "batch_get_item", "batch_write_item", "transact_get_items",
    "execute_statement", "execute_transaction", "batch_execute_statement",
    "create_table", "delete_table", "update_table",
):
    if hasattr(DynamoDBBackend, _name):
        setattr(DynamoDBBackend, _name, _serialized(getattr(DynamoDBBackend, _name)))


def _exit_with_parent():
    parent = os.getppid()

    def watch():
        while True:
            if os.getppid() != parent:
                os._exit(0)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True).start()


if __name__ == "__main__":
    if "--exit-with-parent" in sys.argv:
        sys.argv.remove("--exit-with-parent")
        _exit_with_parent()
    sys.argv[0] = "moto_server"
    main()
