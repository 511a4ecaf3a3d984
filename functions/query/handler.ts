/** Query flow: GET routes answer straight from DynamoDB; analytics follow after the response. */
// First: registers the after-response extension during Init (a top-level await there).
import '../shared/after-response.ts';
import * as v from 'valibot';
import { httpFunction, type ApiRequest } from '../shared/http/http-function.ts';
import { notFound } from '../shared/http/errors.ts';
import { parseWith, pathParameter, queryParameters } from '../shared/http/request.ts';
import { getCollectionStats, getItem, listItems } from '../shared/items/repository.ts';


const FILTER_PREFIX = 'filter.';
const MAX_FILTERS = 10;

const listQuerySchema = v.object({
  limit: v.optional(v.pipe(v.string(), v.regex(/^\d{1,3}$/, 'must be a whole number from 1 to 100'), v.transform(Number), v.minValue(1, 'must be at least 1'), v.maxValue(100, 'must be at most 100')), '25'),
  cursor: v.optional(v.pipe(v.string(), v.maxLength(2048, 'is too long'))),
  sort: v.optional(v.picklist(['id', 'createdAt', 'updatedAt'], 'must be one of id, createdAt, updatedAt'), 'id'),
  order: v.optional(v.picklist(['asc', 'desc'], 'must be asc or desc'), 'asc'),
});

const filterFieldSchema = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{1,64}$/, 'field names match [A-Za-z0-9_.-]{1,64}'));

async function getOne(request: ApiRequest) {
  const { tenant } = request.caller();
  const collection = pathParameter(request.event, 'collection');
  const id = pathParameter(request.event, 'id');
  request.analytics.collection = collection;
  const item = await getItem({ tenant, collection, id });
  if (!item) throw notFound(`no item ${id} in ${collection}`);
  return { statusCode: 200, body: item, headers: { etag: `"${item.version}"` } };
}

async function list(request: ApiRequest) {
  const { tenant } = request.caller();
  const collection = pathParameter(request.event, 'collection');
  const query = queryParameters(request.event, ['limit', 'cursor', 'sort', 'order'], [FILTER_PREFIX]);
  const { limit, cursor, sort, order } = parseWith(listQuerySchema, { limit: query.limit, cursor: query.cursor, sort: query.sort, order: query.order }, 'query');
  const filters: Record<string, string> = {};
  for (const [key, value] of Object.entries(query)) {
    if (!key.startsWith(FILTER_PREFIX)) continue;
    filters[parseWith(filterFieldSchema, key.slice(FILTER_PREFIX.length), `query.${key}`)] = value;
  }
  if (Object.keys(filters).length > MAX_FILTERS) parseWith(v.never(`at most ${MAX_FILTERS} filters`), 'filters', 'query');

  const page = await listItems(tenant, collection, { limit, sort, order, ...(cursor ? { cursor } : {}), filters });
  Object.assign(request.analytics, { collection, resultCount: page.items.length, itemsEvaluated: page.evaluated, filterCount: Object.keys(filters).length, sort, order });
  return { statusCode: 200, body: { items: page.items, nextCursor: page.nextCursor } };
}

async function stats(request: ApiRequest) {
  const { tenant } = request.caller();
  const collection = pathParameter(request.event, 'collection');
  request.analytics.collection = collection;
  return { statusCode: 200, body: await getCollectionStats(tenant, collection) };
}

export const handler = httpFunction({
  source: 'event-flows.query',
  routes: {
    'GET /health': { type: 'HEALTH_CHECK', action: 'EXECUTE', category: 'SYSTEM_EVENT', countOnly: 'HealthChecks', handle: async () => ({ statusCode: 200, body: { status: 'ok' } }) },
    'GET /items/{collection}/{id}': { type: 'ITEM_GET', action: 'EXECUTE', category: 'QUERY', handle: getOne },
    'GET /items/{collection}': { type: 'ITEM_LIST', action: 'EXECUTE', category: 'QUERY', handle: list },
    'GET /collections/{collection}/stats': { type: 'COLLECTION_STATS', action: 'EXECUTE', category: 'QUERY', handle: stats },
  },
});
