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
9. cognito-idp invokes no Lambda triggers. Cognito invokes a user pool's LambdaConfig
   functions: pre authentication before a password sign-in is checked, pre token generation
   before tokens are issued (V2_0: one event for both tokens, whose
   claimsAndScopeOverrideDetails adds, overrides and suppresses claims and adds or suppresses
   access-token scopes), post authentication after a sign-in, post confirmation after a
   sign-up (or a forgotten password) is confirmed; a trigger that fails fails the operation
   (UserLambdaValidationException). We do the same for the password and refresh flows of
   InitiateAuth/AdminInitiateAuth and for (Admin)ConfirmSignUp/ConfirmForgotPassword. moto
   runs no functions: whoever runs one registers where it is invoked (the Lambda Invoke API,
   POST {endpoint}/2015-03-31/functions/{arn}/invocations) with
   POST /_event-flows/lambda-endpoints {"functionArn", "endpoint"} (the local runtime does,
   scripts/local/cognito.ts); a trigger whose function nobody registered fails the sign-in.
10. Every user pool signs with the same key pair (moto ships it, private key included) under
   the key id "dummy", so a token of one pool verifies with any pool's JWKS. Cognito gives each
   pool its own keys: we generate one RSA key per pool, sign its tokens with it (the header
   names its `kid`) and serve it at /<pool>/.well-known/jwks.json (404 for an unknown pool).

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
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.cognitoidp import models as cognito_models
from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUserPool, cognitoidp_backends
from moto.cognitoidp.responses import CognitoIdpJsonWebKeyResponse
from moto.cognitoidp import urls as cognito_urls
from moto.core.exceptions import JsonRESTError
from joserfc import jwk as joserfc_jwk, jwt as joserfc_jwt
import urllib.error
import urllib.parse
import urllib.request
import uuid
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


# 10. One signing key per user pool, named by its kid in every token and in the pool's JWKS.

_original_user_pool_init = CognitoIdpUserPool.__init__


def _user_pool_init(self, *args, **kwargs):
    _original_user_pool_init(self, *args, **kwargs)
    self.json_web_key = joserfc_jwk.RSAKey.generate_key(2048, parameters={"kid": str(uuid.uuid4()), "alg": "RS256", "use": "sig"}, private=True)


CognitoIdpUserPool.__init__ = _user_pool_init


class _JwtSignedWithKeyId:
    """joserfc's jwt module for moto's cognito-idp, whose encode() names the signing key's kid."""

    def __getattr__(self, name):
        return getattr(joserfc_jwt, name)

    @staticmethod
    def encode(header, claims, key, *args, **kwargs):
        return joserfc_jwt.encode({**header, "kid": key.kid}, claims, key, *args, **kwargs)


cognito_models.jwt = _JwtSignedWithKeyId()


def _user_pool(pool_id):
    for account_backends in cognitoidp_backends.values():
        for region, backend in account_backends.items():
            if region != "global" and pool_id in backend.user_pools:
                return backend.user_pools[pool_id]
    return None


def _serve_json_web_key(request, full_url, headers):
    pool_id = urllib.parse.urlparse(full_url).path.strip("/").split("/")[0]
    pool = _user_pool(pool_id)
    if pool is None:
        return 404, {"Content-Type": "application/json"}, json.dumps({"message": f"User pool {pool_id} does not exist."})
    return 200, {"Content-Type": "application/json"}, json.dumps({"keys": [pool.json_web_key.as_dict(private=False)]})


CognitoIdpJsonWebKeyResponse.serve_json_web_key = staticmethod(_serve_json_web_key)
cognito_urls.url_paths["{0}/(?P<user_pool_id>[^/]+)/.well-known/jwks.json$"] = _serve_json_web_key


# 9. The user pool's Lambda triggers, invoked where Cognito invokes them.

TRIGGER_TIMEOUT_SECONDS = 5  # Cognito waits 5 s for a trigger
REGISTRATION_PATH = "/_event-flows/lambda-endpoints"
_lambda_endpoints = {}  # function ARN -> the Lambda API endpoint that invokes it

# Claims a pre-token-generation response cannot add, override or suppress: Cognito keeps its own.
RESERVED_CLAIMS = frozenset({
    "acr", "amr", "at_hash", "aud", "auth_time", "azp", "c_hash", "client_id", "cognito:groups",
    "cognito:preferred_role", "cognito:roles", "cognito:username", "device_key", "event_id", "exp",
    "iat", "identities", "iss", "jti", "nbf", "nonce", "origin_jti", "scope", "sub", "token_use", "username",
})


class _UserLambdaValidation(JsonRESTError):
    def __init__(self, message):
        super().__init__("UserLambdaValidationException", message)


_original_dispatch = DomainDispatcherApplication.__call__


def _dispatch(self, environ, start_response):
    if environ.get("PATH_INFO") != REGISTRATION_PATH:
        return _original_dispatch(self, environ, start_response)
    try:
        body = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)) or b"{}")
        arn, endpoint = body["functionArn"], body["endpoint"]
        if environ.get("REQUEST_METHOD") != "POST" or not isinstance(arn, str) or not isinstance(endpoint, str) or not endpoint.startswith("http"):
            raise ValueError(arn)
    except (ValueError, KeyError, TypeError):
        start_response("400 Bad Request", [("Content-Type", "application/json")])
        return [b'{"message":"POST {\\"functionArn\\": \\"arn:aws:lambda:...\\", \\"endpoint\\": \\"http://...\\"}"}']
    _lambda_endpoints[arn] = endpoint.rstrip("/")
    start_response("204 No Content", [])
    return [b""]


DomainDispatcherApplication.__call__ = _dispatch


def _trigger(pool, name):
    """The ARN and event version of the pool's trigger `name`, or (None, None)."""
    config = pool.extended_config.get("LambdaConfig") or {}
    if name == "PreTokenGeneration":
        versioned = config.get("PreTokenGenerationConfig") or {}
        if versioned.get("LambdaArn"):
            return versioned["LambdaArn"], {"V1_0": "1", "V2_0": "2", "V3_0": "3"}.get(versioned.get("LambdaVersion"), "1")
    return config.get(name), "1"


def _invoke_trigger(name, arn, event):
    """Invokes a trigger through its registered Lambda API; returns what the function returned."""
    endpoint = _lambda_endpoints.get(arn)
    if endpoint is None:
        raise _UserLambdaValidation(f"{name} failed with error no function is registered at {REGISTRATION_PATH} for {arn}.")
    request = urllib.request.Request(
        f"{endpoint}/2015-03-31/functions/{urllib.parse.quote(arn, safe='')}/invocations",
        data=json.dumps(event).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TRIGGER_TIMEOUT_SECONDS) as response:
            payload, function_error = response.read(), response.headers.get("X-Amz-Function-Error")
    except (OSError, urllib.error.URLError) as error:
        raise _UserLambdaValidation(f"{name} failed with error {error}.")
    try:
        answer = json.loads(payload or b"null")
    except ValueError:
        answer = None
    if function_error:
        message = answer.get("errorMessage") if isinstance(answer, dict) else None
        raise _UserLambdaValidation(f"{name} failed with error {message or function_error}.")
    if not isinstance(answer, dict):
        raise _UserLambdaValidation(f"{name} failed with error the function returned no event.")
    return answer


def _trigger_event(pool, trigger_source, user, client_id, version, request):
    attributes = {attribute["Name"]: attribute["Value"] for attribute in user.attributes}
    attributes["cognito:user_status"] = getattr(user.status, "value", user.status)
    return {
        "version": version,
        "triggerSource": trigger_source,
        "region": pool.region,
        "userPoolId": pool.id,
        "userName": user.username,
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": client_id},
        "request": {"userAttributes": attributes, **request},
        "response": {},
    }


def _run_trigger(pool, name, trigger_source, user, client_id, request=None):
    arn, version = _trigger(pool, name)
    if arn is None or user is None:
        return None
    return _invoke_trigger(name, arn, _trigger_event(pool, trigger_source, user, client_id, version, request or {}))


def _apply_claims(claims, generation):
    for name, value in (generation.get("claimsToAddOrOverride") or {}).items():
        if name not in RESERVED_CLAIMS:
            claims[name] = value
    for name in generation.get("claimsToSuppress") or []:
        if name not in RESERVED_CLAIMS:
            claims.pop(name, None)


def _customise_tokens(pool, result, trigger_source):
    """Pre token generation: the trigger's answer applied to the tokens moto issued, re-signed."""
    issued = result.get("AuthenticationResult") if isinstance(result, dict) else None
    if not issued or pool.access_tokens.get(issued.get("AccessToken")) is None:
        return
    arn, version = _trigger(pool, "PreTokenGeneration")
    if arn is None:
        return
    client_id, username = pool.access_tokens[issued["AccessToken"]]
    user = pool._get_user(username)
    access = dict(joserfc_jwt.decode(issued["AccessToken"], pool.json_web_key).claims)
    identity = dict(joserfc_jwt.decode(issued["IdToken"], pool.json_web_key).claims)
    groups = sorted(group.group_name for group in user.groups)
    scopes = access.get("scope", "").split()
    group_configuration = {"groupsToOverride": groups, "iamRolesToOverride": [], "preferredRole": None}
    if version == "1":
        answer = _invoke_trigger("PreTokenGeneration", arn, _trigger_event(pool, trigger_source, user, client_id, version, {"groupConfiguration": group_configuration}))
        details = (answer.get("response") or {}).get("claimsOverrideDetails") or {}
        _apply_claims(identity, details)
        overrides = {"idTokenGeneration": None, "accessTokenGeneration": None, "groupOverrideDetails": details.get("groupOverrideDetails")}
    else:
        event = _trigger_event(pool, trigger_source, user, client_id, version, {"groupConfiguration": group_configuration, "scopes": scopes})
        event["response"] = {"claimsAndScopeOverrideDetails": None}
        answer = _invoke_trigger("PreTokenGeneration", arn, event)
        overrides = (answer.get("response") or {}).get("claimsAndScopeOverrideDetails") or {}
        _apply_claims(identity, overrides.get("idTokenGeneration") or {})
        access_generation = overrides.get("accessTokenGeneration") or {}
        _apply_claims(access, access_generation)
        suppressed = set(access_generation.get("scopesToSuppress") or [])
        for scope in access_generation.get("scopesToAdd") or []:
            if scope not in scopes:
                scopes.append(scope)
        access["scope"] = " ".join(scope for scope in scopes if scope not in suppressed)
    group_override = (overrides.get("groupOverrideDetails") or {}).get("groupsToOverride")
    if group_override is not None:
        for claims in (identity, access):
            claims.pop("cognito:groups", None)
            if group_override:
                claims["cognito:groups"] = list(group_override)
    header = {"alg": "RS256"}
    new_access = cognito_models.jwt.encode(header, access, pool.json_web_key)
    new_identity = cognito_models.jwt.encode(header, identity, pool.json_web_key)
    pool.access_tokens[new_access] = pool.access_tokens.pop(issued["AccessToken"])
    pool.id_tokens[new_identity] = pool.id_tokens.pop(issued["IdToken"], (client_id, username))
    issued["AccessToken"], issued["IdToken"] = new_access, new_identity


def _pool_of_client(backend, client_id):
    return next((pool for pool in backend.user_pools.values() if client_id in pool.clients), None)


def _signed_in(backend, pool, client_id, auth_flow, auth_parameters, password_flows, sign_in):
    """One sign-in with the triggers Cognito runs around it."""
    password_flow = auth_flow in password_flows
    user = pool._get_user(auth_parameters.get("USERNAME", "")) if pool is not None and password_flow else None
    if user is not None:
        _run_trigger(pool, "PreAuthentication", "PreAuthentication_Authentication", user, client_id, {"validationData": {}, "userNotFound": False})
    result = sign_in()
    if pool is not None and isinstance(result, dict) and "AuthenticationResult" in result:
        _customise_tokens(pool, result, "TokenGeneration_Authentication" if password_flow else "TokenGeneration_RefreshTokens")
        if user is not None:
            _run_trigger(pool, "PostAuthentication", "PostAuthentication_Authentication", user, client_id, {"newDeviceUsed": False, "clientMetadata": {}})
    return result


_original_initiate_auth = CognitoIdpBackend.initiate_auth
_original_admin_initiate_auth = CognitoIdpBackend.admin_initiate_auth


def _initiate_auth(self, client_id, auth_flow, auth_parameters):
    return _signed_in(self, _pool_of_client(self, client_id), client_id, auth_flow, auth_parameters or {}, ("USER_PASSWORD_AUTH",),
                      lambda: _original_initiate_auth(self, client_id, auth_flow, auth_parameters))


def _admin_initiate_auth(self, user_pool_id, client_id, auth_flow, auth_parameters):
    return _signed_in(self, self.user_pools.get(user_pool_id), client_id, auth_flow, auth_parameters or {}, ("ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"),
                      lambda: _original_admin_initiate_auth(self, user_pool_id, client_id, auth_flow, auth_parameters))


CognitoIdpBackend.initiate_auth = _initiate_auth
CognitoIdpBackend.admin_initiate_auth = _admin_initiate_auth


def _confirmed(original, trigger_source, pool_of, username_of):
    def run(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        pool, client_id = pool_of(self, *args)
        if pool is not None:
            _run_trigger(pool, "PostConfirmation", trigger_source, pool._get_user(username_of(*args)), client_id, {"clientMetadata": {}})
        return result

    run.__name__ = original.__name__
    return run


CognitoIdpBackend.admin_confirm_sign_up = _confirmed(
    CognitoIdpBackend.admin_confirm_sign_up, "PostConfirmation_ConfirmSignUp",
    lambda backend, user_pool_id, *_: (backend.user_pools.get(user_pool_id), "CLIENT_ID_NOT_APPLICABLE"), lambda _pool_id, username, *_: username)
CognitoIdpBackend.confirm_sign_up = _confirmed(
    CognitoIdpBackend.confirm_sign_up, "PostConfirmation_ConfirmSignUp",
    lambda backend, client_id, *_: (_pool_of_client(backend, client_id), client_id), lambda _client_id, username, *_: username)
CognitoIdpBackend.confirm_forgot_password = _confirmed(
    CognitoIdpBackend.confirm_forgot_password, "PostConfirmation_ConfirmForgotPassword",
    lambda backend, client_id, *_: (_pool_of_client(backend, client_id), client_id), lambda _client_id, username, *_: username)


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
