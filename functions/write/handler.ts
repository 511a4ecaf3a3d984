/** Write flow: change DynamoDB, answer, then publish the domain event and analytics. */
// First: registers the after-response extension during Init (a top-level await there).
import '../shared/after-response.ts';
import { httpFunction, type ApiRequest } from '../shared/http/http-function.ts';
import { validationFailed } from '../shared/http/errors.ts';
import { ifMatchVersion, jsonObjectBody, pathParameter } from '../shared/http/request.ts';
import { publishItemEvent } from '../shared/events/domain-events.ts';
import { checkItemSize, MAX_ITEM_DATA_BYTES } from '../shared/items/item.ts';
import { deleteItem, patchItem, putItem, type ItemAddress } from '../shared/items/repository.ts';
import { itemDataProblems } from '../shared/items/validate.ts';

function addressOf(request: ApiRequest): ItemAddress {
  const { tenant } = request.caller();
  const address = { tenant, collection: pathParameter(request.event, 'collection'), id: pathParameter(request.event, 'id') };
  request.analytics.collection = address.collection;
  return address;
}

/** Data DynamoDB can store, within its item size limit as DynamoDB counts it; a 400 or 413 otherwise, before any write. */
function checkStorable(address: ItemAddress, data: Record<string, unknown>): void {
  const problems = itemDataProblems(data);
  if (problems.length > 0) throw validationFailed(problems);
  checkItemSize(address.tenant, address, data);
}

async function put(request: ApiRequest) {
  const address = addressOf(request);
  const expectedVersion = ifMatchVersion(request.event);
  const data = jsonObjectBody(request.event, MAX_ITEM_DATA_BYTES);
  checkStorable(address, data);
  const { item, created } = await putItem(address, data, expectedVersion);
  publishItemEvent(created ? 'ItemCreated' : 'ItemUpdated', { ...address, version: item.version, at: item.updatedAt, actor: request.caller().userId });
  request.analytics.created = created;
  return { statusCode: created ? 201 : 200, body: item, headers: { etag: `"${item.version}"` } };
}

async function patch(request: ApiRequest) {
  const address = addressOf(request);
  const expectedVersion = ifMatchVersion(request.event);
  const changes = jsonObjectBody(request.event, MAX_ITEM_DATA_BYTES);
  const item = await patchItem(address, changes, expectedVersion, (merged) => checkStorable(address, merged));
  publishItemEvent('ItemUpdated', { ...address, version: item.version, at: item.updatedAt, actor: request.caller().userId });
  return { statusCode: 200, body: item, headers: { etag: `"${item.version}"` } };
}

async function remove(request: ApiRequest) {
  const address = addressOf(request);
  const deleted = await deleteItem(address, ifMatchVersion(request.event));
  publishItemEvent('ItemDeleted', { ...address, version: deleted.version, at: new Date().toISOString(), actor: request.caller().userId });
  return { statusCode: 204 };
}

export const handler = httpFunction({
  source: 'event-flows.write',
  routes: {
    'PUT /items/{collection}/{id}': { type: 'ITEM_PUT', action: 'WRITE', category: 'USER_ACTION', handle: put },
    'PATCH /items/{collection}/{id}': { type: 'ITEM_PATCH', action: 'WRITE', category: 'USER_ACTION', handle: patch },
    'DELETE /items/{collection}/{id}': { type: 'ITEM_DELETE', action: 'DELETE', category: 'USER_ACTION', handle: remove },
  },
});
