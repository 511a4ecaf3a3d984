"""
moto_server with DynamoDB requests serialized (benchmark only).

moto serves requests on threads but its DynamoDB backend is not thread-safe: concurrent
UpdateItem ADDs on one item lose updates, and TransactWriteItems copies and restores whole
tables. The import pipeline updates counters concurrently, so the benchmark runs the
emulator through this wrapper. The same lock belongs in scripts/local/moto.ts.
"""
import sys, threading
from moto.dynamodb.responses import DynamoHandler
_lock = threading.RLock()
_call_action = DynamoHandler.call_action
def _locked(self, *args, **kwargs):
    with _lock:
        return _call_action(self, *args, **kwargs)
DynamoHandler.call_action = _locked
from moto.server import main
sys.exit(main())
