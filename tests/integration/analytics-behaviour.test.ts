/**
 * Feature usage, sessions and funnels on generated traffic: seeded users act in bursts over
 * two days (across midnight), the real processor stores the events in shuffled batches, and
 * each answer is compared with what the test works out from the generated events (minute
 * resolution, the routes' documented unit). The funnel's depth per user is found by brute
 * force over every combination, not by the route's greedy walk.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { handler as analyticsApi } from '../../functions/analytics-api/handler.ts';
import { drainAfterResponseTasks } from '../../functions/shared/after-response.ts';
import { buildAnalyticsEvent, type AnalyticsEvent } from '../../functions/shared/analytics/event.ts';
import { setAwsClients } from '../../functions/shared/aws-clients.ts';
import { analyticsGet, nearestRank, processShuffled, seeded } from '../support/generated-traffic.ts';
import { apiEvent, lambdaContext, type Claims } from '../support/invoke.ts';
import { provisionTestStack, region } from '../support/stack.ts';

const MINUTE = 60_000;
const DAY = 86_400_000;
const tenant = `beh-${randomUUID().slice(0, 8)}`;
const admin: Claims = { sub: 'root', tenant, scope: 'admin' };
/** Two whole days ending at yesterday's end. */
const start = Math.floor(Date.now() / DAY) * DAY - 2 * DAY;
const end = start + 2 * DAY;
const TYPES = ['SIGN_UP', 'ITEM_PUT', 'ITEM_GET', 'CHECKOUT'] as const;

const seed = Number(process.env.BEHAVIOUR_SEED ?? Date.now() % 1_000_000);
const random = seeded(seed);
const pick = <T,>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;

interface Generated {
  event: AnalyticsEvent;
  userId?: string;
  type: string;
  at: number;
}

function generate(): Generated[] {
  const out: Generated[] = [];
  const add = (type: string, at: number, userId?: string) => {
    const event = buildAnalyticsEvent({
      type,
      action: 'EXECUTE',
      category: 'USER_ACTION',
      source: 'event-flows.generated',
      status: 'SUCCESS',
      ...(userId ? { userId } : {}),
      requestId: randomUUID(),
      timestamp: new Date(at),
      context: { functionName: 'analytics-api', functionVersion: '$LATEST', memoryLimitInMB: '512', getRemainingTimeInMillis: () => 5000 },
      properties: { tenant, n: out.length },
    });
    out.push({ event, ...(userId ? { userId } : {}), type, at });
  };
  for (let u = 0; u < 25; u++) {
    const userId = `user-${u}`;
    // A few bursts per user; one user's burst straddles midnight.
    const bursts = 1 + Math.floor(random() * 4);
    for (let b = 0; b < bursts; b++) {
      let at = u === 0 && b === 0 ? start + DAY - 10 * MINUTE : start + Math.floor(random() * (end - start - 3 * 3_600_000));
      const events = 1 + Math.floor(random() * 8);
      for (let e = 0; e < events; e++) {
        add(pick(TYPES), at, userId);
        at += Math.floor(random() * 25 * MINUTE);
      }
    }
  }
  for (let i = 0; i < 15; i++) add(pick(TYPES), start + Math.floor(random() * (end - start)));
  return out.filter((g) => g.at < end);
}

const get = (route: string, query: Record<string, string>, claims: Claims = admin) => analyticsGet(route, query, claims);

const minuteOf = (ms: number) => Math.floor(ms / MINUTE);
let traffic: Generated[];
const range = { from: new Date(start).toISOString(), to: new Date(end).toISOString() };

beforeAll(async () => {
  await provisionTestStack();
  setAwsClients({});
  traffic = generate();
  await processShuffled(traffic.map((g) => g.event), random);
}, 120_000);

describe(`user behaviour routes (seed ${seed})`, () => {
  it('are admin-only', async () => {
    for (const route of ['GET /analytics/features', 'GET /analytics/sessions', 'GET /analytics/funnels']) {
      expect((await get(route, { ...range, steps: 'A,B' }, { sub: 'alice', tenant, scope: 'items' })).statusCode).toBe(403);
    }
  });

  it('features: events and distinct users per event type per day', async () => {
    const res = await get('GET /analytics/features', range);
    expect(res.statusCode).toBe(200);
    expect(res.body.reads).toBe(4);
    const expected = [0, 1].map((d) => {
      const day = new Date(start + d * DAY).toISOString().slice(0, 10);
      const mine = traffic.filter((g) => new Date(g.at).toISOString().startsWith(day));
      const types = [...new Set(mine.map((g) => g.type))].map((type) => ({
        eventType: `${type}_ANALYTICS`,
        events: mine.filter((g) => g.type === type).length,
        users: new Set(mine.filter((g) => g.type === type && g.userId).map((g) => g.userId)).size,
      }));
      return { day, types: types.sort((a, b) => b.events - a.events || (a.eventType < b.eventType ? -1 : 1)) };
    });
    expect(res.body.days).toEqual(expected);
  });

  it.each([30, 10])('sessions with a %i-minute gap: count, per day, duration and events per session', async (gap) => {
    const res = await get('GET /analytics/sessions', { ...range, gapMinutes: String(gap) });
    expect(res.statusCode).toBe(200);
    const sessions: Array<{ start: number; end: number; events: number; userId: string }> = [];
    for (const userId of new Set(traffic.filter((g) => g.userId).map((g) => g.userId!))) {
      const minutes = traffic.filter((g) => g.userId === userId).map((g) => minuteOf(g.at)).sort((a, b) => a - b);
      let current: (typeof sessions)[number] | undefined;
      for (const m of minutes) {
        if (current && m - current.end <= gap) {
          current.end = m;
          current.events++;
        } else sessions.push((current = { start: m, end: m, events: 1, userId }));
      }
    }
    expect(res.body.totals.sessions).toBe(sessions.length);
    expect(res.body.totals.users).toBe(new Set(sessions.map((s) => s.userId)).size);
    expect(res.body.totals.durationMinutes.p50).toBe(nearestRank(sessions.map((s) => s.end - s.start), 0.5));
    expect(res.body.totals.durationMinutes.p95).toBe(nearestRank(sessions.map((s) => s.end - s.start), 0.95));
    expect(res.body.totals.eventsPerSession.p95).toBe(nearestRank(sessions.map((s) => s.events), 0.95));
    const perDay = new Map<string, number>();
    for (const s of sessions) perDay.set(new Date(s.start * MINUTE).toISOString().slice(0, 10), (perDay.get(new Date(s.start * MINUTE).toISOString().slice(0, 10)) ?? 0) + 1);
    expect(res.body.perDay).toEqual([...perDay].sort().map(([day, n]) => ({ day, sessions: n })));
    // One user's list, including the session across midnight.
    const one = await get('GET /analytics/sessions', { ...range, gapMinutes: String(gap), userId: 'user-0' });
    const mine = sessions.filter((s) => s.userId === 'user-0').sort((a, b) => a.start - b.start);
    expect(one.body.reads).toBe(2);
    expect(one.body.users[0].sessionList).toEqual(mine.map((s) => ({ start: new Date(s.start * MINUTE).toISOString(), end: new Date(s.end * MINUTE).toISOString(), durationMinutes: s.end - s.start, events: s.events })));
  });

  it('funnels: users reaching each step in order within the window, conversion and median time between steps', async () => {
    const steps = ['SIGN_UP', 'ITEM_PUT', 'CHECKOUT'];
    const windowMinutes = 60;
    const res = await get('GET /analytics/funnels', { ...range, steps: steps.join(','), window: '1h' });
    expect(res.statusCode).toBe(200);
    expect(res.body.reads).toBe(2);
    const reached = [0, 0, 0];
    const gaps: number[][] = [[], [], []];
    for (const userId of new Set(traffic.filter((g) => g.userId).map((g) => g.userId!))) {
      const times = steps.map((type) => [...new Set(traffic.filter((g) => g.userId === userId && g.type === type).map((g) => minuteOf(g.at)))].sort((a, b) => a - b));
      // Brute force: the deepest k with t1 <= t2 <= ... <= tk, tk <= t1 + window.
      const chains = (depth: number, prefix: number[]): number[][] =>
        depth === steps.length ? [prefix] : [prefix, ...times[depth]!.filter((t) => (prefix.length === 0 || (t >= prefix.at(-1)! && t <= prefix[0]! + windowMinutes))).flatMap((t) => chains(depth + 1, [...prefix, t]))];
      const all = chains(0, []).filter((c) => c.length > 0);
      const depth = Math.max(0, ...all.map((c) => c.length));
      for (let i = 0; i < depth; i++) reached[i]!++;
      // Times between steps: the earliest start that reaches that depth, then the earliest next step each time.
      const chosen = all.filter((c) => c.length === depth).sort((a, b) => a.reduce((s, t, i) => s || t - b[i]!, 0))[0];
      chosen?.forEach((t, i) => i > 0 && gaps[i]!.push(t - chosen[i - 1]!));
    }
    expect(res.body.steps).toEqual(
      steps.map((type, i) => ({
        eventType: `${type}_ANALYTICS`,
        users: reached[i],
        conversionFromPrevious: i === 0 ? 1 : reached[i - 1] === 0 ? 0 : Math.round((reached[i]! / reached[i - 1]!) * 1000) / 1000,
        conversionFromFirst: reached[0] === 0 ? 0 : Math.round((reached[i]! / reached[0]!) * 1000) / 1000,
        medianMinutesFromPrevious: i === 0 ? null : nearestRank(gaps[i]!, 0.5),
      })),
    );
    expect(reached[0]).toBeGreaterThan(0);
  });

  it('refuse bad funnel and session parameters with a 400 naming the field', async () => {
    const queries: Array<Record<string, string>> = [{ steps: 'ONLY_ONE' }, { steps: 'A,B', window: '1w' }, { steps: 'A,B', window: '8d' }, {}];
    for (const query of queries) {
      const res = await get('GET /analytics/funnels', { ...range, ...query });
      expect(res.statusCode).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
    expect((await get('GET /analytics/sessions', { ...range, gapMinutes: '0' })).statusCode).toBe(400);
    expect((await get('GET /analytics/sessions', { from: new Date(end - 40 * DAY).toISOString(), to: range.to })).statusCode).toBe(400);
  });

  it('refuse a repeated steps or userId (API Gateway would join the values with a comma into one valid-looking value)', async () => {
    for (const [route, name, joined] of [
      ['GET /analytics/funnels', 'steps', 'SIGN_UP,ITEM_PUT'],
      ['GET /analytics/sessions', 'userId', 'alice,bob'],
    ] as const) {
      const [first, second] = joined.split(',');
      const event = apiEvent({ routeKey: route, path: route.split(' ')[1]!, claims: admin, query: { ...range, [name]: joined } });
      // As API Gateway delivers `?name=first&name=second`.
      event.rawQueryString = `${new URLSearchParams(range)}&${name}=${first}&${name}=${second}`;
      const result = await analyticsApi(event, lambdaContext('analytics-api'));
      await drainAfterResponseTasks();
      expect(result.statusCode).toBe(400);
      expect(JSON.parse(result.body ?? 'null').error.details).toEqual([{ field: `query.${name}`, issue: 'must be given once' }]);
    }
  });
});
