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
4. A map whose key is the empty string ({"M": {"": {"S": "x"}}}) is stored, but answered
   with that entry's value merged into the map itself ({"M": {"S": "x"}}): the response
   serializer treats an empty member name as "no name". Reads of such an item break the SDK,
   and a snapshot of it cannot be written back. We serialize the entry under its own name.

Everything else is moto as pinned in requirements.txt.

Usage: python moto_server.py [--exit-with-parent] -H HOST -p PORT
  --exit-with-parent  end when the process that started us is gone (a runtime killed with
                      SIGKILL must not leave an emulator holding the port)
"""

import copy
import os
import sys
import threading
import time

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.core.serialize import BaseJSONSerializer
from moto.core.utils import unix_time
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


def _is_message_valid_based_on_retention_period(self, queue_name, message):
    retention_seconds = int(self.get_queue(queue_name).message_retention_period)
    return retention_seconds + message.sent_timestamp / 1000 > unix_time()


SQSBackend.is_message_valid_based_on_retention_period = _is_message_valid_based_on_retention_period


_original_serialize_type_map = BaseJSONSerializer._serialize_type_map


def _serialize_type_map(self, serialized, value, shape, key):
    if not isinstance(value, dict) or "" not in value:
        return _original_serialize_type_map(self, serialized, value, shape, key)
    others = {k: v for k, v in value.items() if k != ""}
    _original_serialize_type_map(self, serialized, others, shape, key)
    map_obj = serialized[self.get_serialized_name(shape, key)]
    holder = self.MAP_TYPE()
    self._serialize(holder, value[""], shape.value, "empty-key")  # any non-empty name: read back below
    if holder:
        map_obj[""] = next(iter(holder.values()))


BaseJSONSerializer._serialize_type_map = _serialize_type_map


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
