/**
 * User behaviour (issue 16): feature usage, sessions and funnels, all read from the
 * user-day items the processor keeps (one per user and day: the minutes the user was
 * active with their event counts, and per event type the set of its minutes; see
 * shared/analytics/keys.ts). A request reads one Query per day of its range (paged by
 * DynamoDB's 1 MB), whatever the number of events; times have minute resolution.
 *
 *   GET /analytics/features?from&to                         events and distinct users per event type per day
 *   GET /analytics/sessions?from&to&gapMinutes&userId       sessions (a gap over gapMinutes, default 30, ends one)
 *   GET /analytics/funnels?steps=A,B,C&window=1h&from&to    users reaching each step in order within the window
 */
import * as v from 'valibot';
import { ANALYTICS_SUFFIX } from '../shared/analytics/event.ts';
import { USER_DAY_MINUTE_PREFIX, USER_DAY_TYPE_PREFIX } from '../shared/analytics/keys.ts';
import { TYPE_NAME } from '../shared/analytics/schema.ts';
import { readAggregates, readUserDays } from '../shared/analytics/store.ts';
import { requireAdmin } from '../shared/http/caller.ts';
import { validationFailed } from '../shared/http/errors.ts';
import type { ApiRequest, Route } from '../shared/http/http-function.ts';
import { parseWith, queryParameters, refuseRepeated } from '../shared/http/request.ts';
import { ceilTo, DAY, floorTo, iso, MINUTE, rangeAnswer, timeRange } from './range.ts';

/** Behaviour reads span at most this many days: as many Queries. */
export const MAX_BEHAVIOUR_DAYS = 31;
export const MAX_FUNNEL_STEPS = 10;
export const MAX_USERS_LISTED = 100;
const round3 = (n: number) => Math.round(n * 1000) / 1000;
const withSuffix = (type: string) => (type.endsWith(ANALYTICS_SUFFIX) ? type : `${type}${ANALYTICS_SUFFIX}`);

function nearestRank(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

/** A user's activity in the range, in epoch minutes. */
interface Activity {
  /** epoch minute → events */
  minutes: Map<number, number>;
  /** event type → its epoch minutes */
  types: Map<string, number[]>;
}

const daysOf = (start: number, end: number) => {
  const days: string[] = [];
  for (let t = floorTo(start, DAY); t < end; t += DAY) days.push(iso(t).slice(0, 10));
  return days;
};

/** Reads the user-day items of every day of [start, end) and keeps the minutes inside the range. */
async function activities(tenant: string, start: number, end: number, onlyUser?: string): Promise<{ users: Map<string, Activity>; reads: number; byDay: Map<string, Record<string, unknown>[]> }> {
  const days = daysOf(start, end);
  const byDay = await readUserDays(tenant, days, onlyUser);
  const users = new Map<string, Activity>();
  const [first, last] = [start / MINUTE, end / MINUTE];
  for (const [day, items] of byDay) {
    const base = Date.parse(`${day}T00:00:00.000Z`) / MINUTE;
    for (const item of items) {
      const userId = String(item.sk);
      const activity = users.get(userId) ?? { minutes: new Map(), types: new Map() };
      for (const [key, value] of Object.entries(item)) {
        if (key.startsWith(USER_DAY_MINUTE_PREFIX) && /^\d+$/.test(key.slice(USER_DAY_MINUTE_PREFIX.length)) && typeof value === 'number') {
          const minute = base + Number(key.slice(USER_DAY_MINUTE_PREFIX.length));
          if (minute >= first && minute < last) activity.minutes.set(minute, value);
        } else if (key.startsWith(USER_DAY_TYPE_PREFIX) && value instanceof Set) {
          const type = key.slice(USER_DAY_TYPE_PREFIX.length);
          const minutes = [...(value as Set<number>)].map((m) => base + Number(m)).filter((m) => m >= first && m < last);
          if (minutes.length > 0) activity.types.set(type, [...(activity.types.get(type) ?? []), ...minutes].sort((a, b) => a - b));
        }
      }
      if (activity.minutes.size > 0) users.set(userId, activity);
    }
  }
  return { users, reads: days.length, byDay };
}

function behaviourRange(request: ApiRequest, extra: string[]) {
  const query = queryParameters(request.event, ['from', 'to', ...extra]);
  const { from, to } = timeRange(query, 7 * DAY, MAX_BEHAVIOUR_DAYS);
  return { query, start: floorTo(from, MINUTE), end: ceilTo(to, MINUTE) };
}

/* ------------------------------------------------------------ features */

async function features(request: ApiRequest) {
  const caller = request.caller();
  requireAdmin(caller);
  // Per day: whole days.
  const { start: from, end: to } = behaviourRange(request, []);
  const start = floorTo(from, DAY);
  const end = ceilTo(to, DAY);
  const [rows, { byDay, reads }] = await Promise.all([readAggregates(caller.tenant, 'HOUR', iso(start), iso(end)), activities(caller.tenant, start, end)]);
  const days = daysOf(start, end).map((day) => {
    const types = new Map<string, { events: number; users: number }>();
    for (const row of rows) {
      if (!row.bucket.startsWith(day)) continue;
      const t = types.get(row.eventType) ?? { events: 0, users: 0 };
      t.events += row.count;
      types.set(row.eventType, t);
    }
    for (const item of byDay.get(day) ?? []) {
      for (const key of Object.keys(item)) {
        if (!key.startsWith(USER_DAY_TYPE_PREFIX)) continue;
        const type = key.slice(USER_DAY_TYPE_PREFIX.length);
        const t = types.get(type) ?? { events: 0, users: 0 };
        t.users++;
        types.set(type, t);
      }
    }
    return { day, types: [...types].sort((a, b) => b[1].events - a[1].events || (a[0] < b[0] ? -1 : 1)).map(([eventType, t]) => ({ eventType, ...t })) };
  });
  return rangeAnswer(caller.tenant, start, end, { reads: reads * 2, days });
}

/* ------------------------------------------------------------ sessions */

const sessionsSchema = v.object({
  gapMinutes: v.optional(v.pipe(v.string(), v.regex(/^\d{1,4}$/, 'must be a whole number of minutes from 1 to 1440'), v.transform(Number), v.minValue(1), v.maxValue(1440, 'must be at most 1440')), '30'),
  userId: v.optional(v.pipe(v.string(), v.regex(/^[^#\s]{1,256}$/, 'must be a user id'))),
});

interface Session {
  start: number;
  end: number;
  events: number;
}

/** A user's sessions: consecutive active minutes no more than gapMinutes apart. */
export function sessionsOf(minutes: Map<number, number>, gapMinutes: number): Session[] {
  const sessions: Session[] = [];
  for (const minute of [...minutes.keys()].sort((a, b) => a - b)) {
    const current = sessions.at(-1);
    if (current && minute - current.end <= gapMinutes) {
      current.end = minute;
      current.events += minutes.get(minute)!;
    } else sessions.push({ start: minute, end: minute, events: minutes.get(minute)! });
  }
  return sessions;
}

async function sessions(request: ApiRequest) {
  const caller = request.caller();
  requireAdmin(caller);
  const { query, start, end } = behaviourRange(request, ['gapMinutes', 'userId']);
  refuseRepeated(request.event, ['userId']);
  const { gapMinutes, userId } = parseWith(sessionsSchema, { gapMinutes: query.gapMinutes, userId: query.userId }, 'query');
  const { users, reads } = await activities(caller.tenant, start, end, userId);
  const all: Array<Session & { userId: string }> = [];
  const perUser = [...users].map(([id, activity]) => {
    const list = sessionsOf(activity.minutes, gapMinutes);
    all.push(...list.map((s) => ({ ...s, userId: id })));
    const events = list.reduce((sum, s) => sum + s.events, 0);
    return { userId: id, sessions: list.length, events, meanDurationMinutes: round3(list.reduce((sum, s) => sum + s.end - s.start, 0) / list.length), list };
  });
  const sessionsPerDay = new Map<string, number>();
  for (const s of all) sessionsPerDay.set(iso(s.start * MINUTE).slice(0, 10), (sessionsPerDay.get(iso(s.start * MINUTE).slice(0, 10)) ?? 0) + 1);
  const durations = all.map((s) => s.end - s.start);
  const events = all.map((s) => s.events);
  return rangeAnswer(caller.tenant, start, end, {
    gapMinutes,
    reads,
    totals: {
      sessions: all.length,
      users: users.size,
      durationMinutes: { p50: nearestRank(durations, 0.5), p95: nearestRank(durations, 0.95), max: durations.length ? Math.max(...durations) : null },
      eventsPerSession: { p50: nearestRank(events, 0.5), p95: nearestRank(events, 0.95), max: events.length ? Math.max(...events) : null },
    },
    perDay: [...sessionsPerDay].sort().map(([day, n]) => ({ day, sessions: n })),
    users: perUser
      .sort((a, b) => b.sessions - a.sessions || (a.userId < b.userId ? -1 : 1))
      .slice(0, MAX_USERS_LISTED)
      .map(({ list, ...user }) => ({
        ...user,
        ...(userId ? { sessionList: list.map((s) => ({ start: iso(s.start * MINUTE), end: iso(s.end * MINUTE), durationMinutes: s.end - s.start, events: s.events })) } : {}),
      })),
  });
}

/* ------------------------------------------------------------ funnels */

const WINDOW = /^(\d{1,4})(m|h|d)$/;
const WINDOW_MINUTES = { m: 1, h: 60, d: 1440 } as const;

const funnelSchema = v.object({
  steps: v.pipe(
    v.string('is required, e.g. steps=SIGN_UP,ITEM_PUT'),
    v.transform((s) => s.split(',')),
    v.check((list) => list.length >= 2 && list.length <= MAX_FUNNEL_STEPS, `must list 2 to ${MAX_FUNNEL_STEPS} event types, comma-separated`),
    v.check((list) => list.every((type) => TYPE_NAME.test(type)), 'each step must match [A-Za-z0-9_.:-]{1,128}'),
  ),
  window: v.optional(
    v.pipe(
      v.string(),
      v.regex(WINDOW, 'must be a number and a unit, e.g. 30m, 1h, 2d'),
      v.transform((w) => Number(w.match(WINDOW)![1]) * WINDOW_MINUTES[w.match(WINDOW)![2] as keyof typeof WINDOW_MINUTES]),
      v.minValue(1, 'must be at least 1m'),
      v.maxValue(7 * 1440, 'must be at most 7d'),
    ),
    '1h',
  ),
});

/**
 * The furthest a user gets: for each time they did the first step, the earliest next step
 * at or after the previous one and within the window from the first; the deepest chain
 * wins, the earliest among equals. Returns the minute of each step reached.
 */
export function funnelPath(stepMinutes: number[][], windowMinutes: number): number[] {
  let best: number[] = [];
  for (const first of stepMinutes[0] ?? []) {
    const path = [first];
    for (let step = 1; step < stepMinutes.length; step++) {
      const next = stepMinutes[step]!.find((m) => m >= path.at(-1)! && m <= first + windowMinutes);
      if (next === undefined) break;
      path.push(next);
    }
    if (path.length > best.length) best = path;
    if (best.length === stepMinutes.length) break;
  }
  return best;
}

async function funnels(request: ApiRequest) {
  const caller = request.caller();
  requireAdmin(caller);
  const { query, start, end } = behaviourRange(request, ['steps', 'window']);
  refuseRepeated(request.event, ['steps']);
  if (query.steps === undefined) throw validationFailed([{ field: 'query.steps', issue: 'is required, e.g. steps=SIGN_UP,ITEM_PUT' }]);
  const { steps: rawSteps, window } = parseWith(funnelSchema, { steps: query.steps, window: query.window }, 'query');
  const steps = rawSteps.map(withSuffix);
  const { users, reads } = await activities(caller.tenant, start, end);
  const reached = steps.map(() => 0);
  const gaps: number[][] = steps.map(() => []);
  for (const activity of users.values()) {
    const path = funnelPath(
      steps.map((type) => activity.types.get(type) ?? []),
      window,
    );
    path.forEach((minute, i) => {
      reached[i]!++;
      if (i > 0) gaps[i]!.push(minute - path[i - 1]!);
    });
  }
  return rangeAnswer(caller.tenant, start, end, {
    windowMinutes: window,
    reads,
    steps: steps.map((eventType, i) => ({
      eventType,
      users: reached[i],
      conversionFromPrevious: i === 0 ? 1 : reached[i - 1] === 0 ? 0 : round3(reached[i]! / reached[i - 1]!),
      conversionFromFirst: reached[0] === 0 ? 0 : round3(reached[i]! / reached[0]!),
      medianMinutesFromPrevious: i === 0 ? null : nearestRank(gaps[i]!, 0.5),
    })),
  });
}

export const behaviourRoutes: Record<string, Route> = {
  'GET /analytics/features': { type: 'ANALYTICS_FEATURES', action: 'EXECUTE', category: 'QUERY', handle: features },
  'GET /analytics/sessions': { type: 'ANALYTICS_SESSIONS', action: 'EXECUTE', category: 'QUERY', handle: sessions },
  'GET /analytics/funnels': { type: 'ANALYTICS_FUNNELS', action: 'EXECUTE', category: 'QUERY', handle: funnels },
};
