/**
 * How the local stack's slow routes behave after a fuzz-like run (issue 19.6): a bounded
 * loop of mixed, partly malformed requests against a running `npm start`, then the latency
 * of the routes that slowed down, measured again after each round.
 *
 *   npm start -- --reset            (in another terminal)
 *   npx tsx scripts/bench/fuzz-latency.ts [--url http://127.0.0.1:3000] [--rounds 4] [--per-round 500]
 *
 * Prints one line per round: requests so far, then p50/p95/max (ms) of GET /analytics/summary,
 * paging all of one user's events (GET /analytics/users/{id}/events), and POST /imports.
 */
import { parseArgs } from 'node:util';
import { loadOrCreateSigningKeys, mintToken } from '../local/jwt.ts';
import { percentile } from './stats.ts';

const { values } = parseArgs({
  options: { url: { type: 'string', default: 'http://127.0.0.1:3000' }, rounds: { type: 'string', default: '4' }, 'per-round': { type: 'string', default: '500' } },
});
const baseUrl = values.url.replace(/\/$/, '');
const rounds = Number(values.rounds);
const perRound = Number(values['per-round']);
const CONCURRENCY = 4;
const SAMPLES = 8;

const keys = await loadOrCreateSigningKeys();
const tenant = `fuzz${Date.now().toString(36)}`;
const user = await mintToken(keys, { sub: 'fuzz-user', tenant });
const admin = await mintToken(keys, { sub: 'fuzz-admin', tenant, admin: true });

let statuses: Record<number, number> = {};
async function call(method: string, path: string, token: string, body?: string): Promise<{ status: number; ms: number; json: unknown }> {
  const started = performance.now();
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body } : {}),
  });
  const text = await response.text();
  statuses[response.status] = (statuses[response.status] ?? 0) + 1;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, ms: performance.now() - started, json };
}

/** One fuzz-like request: the mix the issue's fuzzer sent (valid, malformed and awkward inputs on every route). */
function fuzzRequest(n: number): Promise<unknown> {
  const awkward = [{ n: 1e300 }, { '': 1 }, { s: '\ud800' }, { [`${'a'.repeat(194)}\u{1F600}`]: 1 }, { ok: n }, [1, 2]];
  const data = awkward[n % awkward.length];
  switch (n % 8) {
    case 0:
      return call('PUT', `/items/things/i${n % 300}`, user, JSON.stringify(data));
    case 1:
      return call('GET', `/items/things?limit=${1 + (n % 50)}&sort=${['id', 'createdAt', 'updatedAt'][n % 3]}`, user);
    case 2:
      return call('POST', '/events', user, JSON.stringify({ events: [{ action: 'CLICK', type: 'BUTTON_CLICK', properties: n % 2 ? { ok: n } : data }] }));
    case 3:
      return call('POST', '/imports', admin, JSON.stringify({ collection: 'imported', items: [{ id: `x${n}`, data: { n } }, { id: `y${n}`, data }] }));
    case 4:
      return call('GET', `/items/things/i${n % 300}`, user);
    case 5:
      return call('GET', `/analytics/summary`, admin);
    case 6:
      return call('PATCH', `/items/things/i${n % 300}`, user, '{"n":2}');
    default:
      return call('GET', `/analytics/users/fuzz-user/events?limit=200`, admin);
  }
}

async function fuzzRound(from: number): Promise<void> {
  let next = from;
  const end = from + perRound;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < end) await fuzzRequest(next++);
    }),
  );
}

/** Pages all of the fuzz user's events; the time of the whole walk. */
async function pageUserEvents(): Promise<number> {
  const started = performance.now();
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const answer = await call('GET', `/analytics/users/fuzz-user/events?limit=50${cursor ? `&cursor=${cursor}` : ''}`, admin);
    cursor = (answer.json as { nextCursor?: string | null } | undefined)?.nextCursor ?? null;
    if (!cursor) break;
  }
  return performance.now() - started;
}

const show = (samples: number[]) => `${percentile(samples, 50).toFixed(0)}/${percentile(samples, 95).toFixed(0)}/${Math.max(...samples).toFixed(0)}`;

console.log(`fuzz-latency against ${baseUrl}: ${rounds} rounds of ${perRound} requests, ${CONCURRENCY} at a time; then ${SAMPLES} samples per route (p50/p95/max ms)`);
console.log('requests | summary | user events (all pages) | POST /imports | statuses of the round');
for (let round = 1; round <= rounds; round++) {
  statuses = {};
  await fuzzRound((round - 1) * perRound);
  const roundStatuses = statuses;
  const summary: number[] = [];
  const userEvents: number[] = [];
  const imports: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    summary.push((await call('GET', '/analytics/summary', admin)).ms);
    userEvents.push(await pageUserEvents());
    imports.push((await call('POST', '/imports', admin, JSON.stringify({ collection: 'timed', items: [{ id: `t${round}-${i}`, data: { i } }] }))).ms);
  }
  console.log(`${round * perRound} | ${show(summary)} | ${show(userEvents)} | ${show(imports)} | ${JSON.stringify(roundStatuses)}`);
}
