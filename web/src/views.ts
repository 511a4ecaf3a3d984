/**
 * The dashboard's views. Each reads what it shows through the typed client (client/) and
 * returns the element to display; numbers are written with ./format.ts.
 */
import { ok, type ApiClient, type Schemas } from '../../client/index.ts';
import { lineChart, type Point } from './chart.ts';
import { h, stat, table } from './dom.ts';
import { count, eventType, minutes, ms, percent, time } from './format.ts';
import { lastMinutes, type TimeRange } from './range.ts';

export const viewNames = { overview: 'Overview', errors: 'Errors', sessions: 'Sessions', funnels: 'Funnels', system: 'Queues & imports' } as const;
export type ViewName = keyof typeof viewNames;

export const categories: Array<Schemas['Category']> = ['USER_ACTION', 'QUERY', 'AUTHENTICATION', 'SYSTEM_EVENT'];

export interface ViewContext {
  api: ApiClient;
  range: TimeRange;
  /** The overview's filter; undefined: every category. */
  category: Schemas['Category'] | undefined;
}

function section(title: string, ...children: Array<Node | false | undefined>): HTMLElement {
  return h('section', { class: 'panel' }, h('h2', {}, title), ...children);
}

// ---------------------------------------------------------------------------------------
// Overview: throughput, failure rate and p95 over time

async function series({ api, range, category }: ViewContext, metric: 'count' | 'errors' | 'p95'): Promise<Point[]> {
  const query = { metric, interval: range.interval, from: range.from, to: range.to, ...(category && { category }) };
  return ok(await api.GET('/analytics/timeseries', { params: { query } })).points;
}

/** Failures ÷ requests per bucket; no value where there were no requests. */
export function failureRate(counts: Point[], errors: Point[]): Point[] {
  return counts.map((point, i) => ({ t: point.t, value: point.value ? (errors[i]?.value ?? 0) / point.value : null }));
}

export async function overview(context: ViewContext): Promise<HTMLElement> {
  const { api, range, category } = context;
  const [summary, counts, errors, p95] = await Promise.all([
    api.GET('/analytics/summary', { params: { query: { from: range.from, to: range.to, ...(category && { category }) } } }).then(ok),
    series(context, 'count'),
    series(context, 'errors'),
    series(context, 'p95'),
  ]);
  const totals = summary.totals;
  const per = range.interval === 'minute' ? 'minute' : 'hour';
  return h(
    'div',
    { class: 'view' },
    h(
      'div',
      { class: 'stats', 'data-panel': 'totals' },
      stat('count', 'Events', count(totals.count)),
      stat('failures', 'Failures', count(totals.failures)),
      stat('errorRate', 'Failure rate', percent(totals.errorRate)),
      stat('p95', 'p95 duration', ms(totals.duration.p95)),
      stat('p99', 'p99 duration', ms(totals.duration.p99)),
    ),
    section(`Throughput (events per ${per})`, lineChart('throughput', counts, count)),
    section(`Failure rate (per ${per})`, lineChart('failure-rate', failureRate(counts, errors), percent)),
    section(`p95 duration (per ${per})`, lineChart('p95', p95, ms)),
    section(
      'By event type',
      table(
        'event-types',
        ['Event type', 'Events', 'Failures', 'Failure rate', 'p95'],
        summary.byEventType.map((row) => [eventType(row.eventType), count(row.count), count(row.failures), percent(row.errorRate), ms(row.duration.p95)]),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------
// Errors: the top patterns

export async function errors({ api, range }: ViewContext): Promise<HTMLElement> {
  const answer = ok(await api.GET('/analytics/errors', { params: { query: { from: range.from, to: range.to, limit: 10 } } }));
  return h(
    'div',
    { class: 'view' },
    section(
      'Top error patterns',
      table(
        'error-patterns',
        ['Event type', 'Error type', 'Count', 'First seen', 'Last seen', 'Trend', 'Latest request'],
        answer.patterns.map((p) => [eventType(p.eventType), p.errorType, count(p.count), time(p.firstSeen), time(p.lastSeen), p.trend.direction, p.samples[0]?.requestId ?? '']),
        'No failures in this range.',
      ),
    ),
    section(
      'Recovery',
      table(
        'recovery',
        ['Event type', 'Failures', 'First failure', 'Recovered at', 'Time to recover'],
        answer.recovery.map((r) => [eventType(r.eventType), count(r.failures), time(r.firstFailure), time(r.recoveredAt), r.recoveryMs === null ? 'not yet' : ms(r.recoveryMs)]),
        'Nothing failed.',
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------
// Sessions

export async function sessions({ api, range }: ViewContext): Promise<HTMLElement> {
  // Sessions read at most 31 days; the picker's longest range is 7.
  const answer = ok(await api.GET('/analytics/sessions', { params: { query: { from: range.from, to: range.to } } }));
  const t = answer.totals;
  return h(
    'div',
    { class: 'view' },
    h(
      'div',
      { class: 'stats', 'data-panel': 'session-totals' },
      stat('sessions', 'Sessions', count(t.sessions)),
      stat('users', 'Users', count(t.users)),
      stat('duration-p50', 'Duration p50', minutes(t.durationMinutes.p50)),
      stat('duration-p95', 'Duration p95', minutes(t.durationMinutes.p95)),
      stat('events-p50', 'Events per session p50', count(t.eventsPerSession.p50)),
    ),
    section(`Sessions per day (a gap of ${answer.gapMinutes} minutes ends one)`, table('sessions-per-day', ['Day', 'Sessions'], answer.perDay.map((d) => [d.day, count(d.sessions)]))),
    section('Users', table('session-users', ['User', 'Sessions', 'Events', 'Mean duration'], answer.users.map((u) => [u.userId, count(u.sessions), count(u.events), minutes(u.meanDurationMinutes)]))),
  );
}

// ---------------------------------------------------------------------------------------
// Funnels: the builder keeps its steps across refreshes

const funnel = { steps: ['', ''], window: '1h' };
const windows = ['30m', '1h', '6h', '1d', '7d'];

export async function funnels({ api, range }: ViewContext): Promise<HTMLElement> {
  const summary = ok(await api.GET('/analytics/summary', { params: { query: { from: range.from, to: range.to } } }));
  const known = h('datalist', { id: 'event-types' }, ...summary.byEventType.map((row) => h('option', { value: eventType(row.eventType) })));
  const result = h('div', { 'data-panel': 'funnel-result' });
  const stepList = h('ol', { class: 'steps' });

  const run = async () => {
    const steps = funnel.steps.map((step) => step.trim()).filter(Boolean);
    if (steps.length < 2) {
      result.replaceChildren(h('p', { class: 'muted' }, 'Name at least two steps.'));
      return;
    }
    result.replaceChildren(h('p', { class: 'muted' }, 'Counting…'));
    const response = await api.GET('/analytics/funnels', { params: { query: { steps: steps.join(','), window: funnel.window, from: range.from, to: range.to } } });
    if (!response.response.ok) {
      result.replaceChildren(h('p', { class: 'error' }, (response.error as { error?: { message?: string } } | undefined)?.error?.message ?? `HTTP ${response.response.status}`));
      return;
    }
    result.replaceChildren(funnelResult(ok(response)));
  };

  const drawSteps = () => {
    stepList.replaceChildren(
      ...funnel.steps.map((step, i) =>
        h(
          'li',
          {},
          h('input', { list: 'event-types', value: step, placeholder: 'EVENT_TYPE', 'aria-label': `step ${i + 1}`, 'data-step': i, oninput: (e: Event) => (funnel.steps[i] = (e.target as HTMLInputElement).value) }),
          funnel.steps.length > 2 && h('button', { type: 'button', class: 'link', 'aria-label': `remove step ${i + 1}`, onclick: () => (funnel.steps.splice(i, 1), drawSteps()) }, '×'),
        ),
      ),
    );
  };
  drawSteps();

  const form = h(
    'form',
    {
      class: 'funnel-form',
      onsubmit: (e: Event) => {
        e.preventDefault();
        void run();
      },
    },
    stepList,
    h('button', { type: 'button', class: 'link', disabled: funnel.steps.length >= 10, onclick: () => (funnel.steps.length < 10 && funnel.steps.push(''), drawSteps()) }, '+ step'),
    h('label', {}, 'within ', h('select', { 'data-control': 'window', onchange: (e: Event) => (funnel.window = (e.target as HTMLSelectElement).value) }, ...windows.map((w) => h('option', { value: w, selected: w === funnel.window }, w))), ' of the first step'),
    h('button', { type: 'submit', 'data-control': 'run-funnel' }, 'Count'),
  );
  if (funnel.steps.filter((step) => step.trim()).length >= 2) await run();
  return h('div', { class: 'view' }, section('Funnel', known, form, result));
}

function funnelResult(answer: Schemas['AnalyticsFunnel']): HTMLElement {
  const first = answer.steps[0]?.users || 1;
  return h(
    'div',
    {},
    h(
      'ol',
      { class: 'funnel', 'data-table': 'funnel-steps' },
      ...answer.steps.map((step) =>
        h(
          'li',
          { 'data-users': step.users },
          h('span', { class: 'name' }, eventType(step.eventType)),
          h('progress', { max: first, value: step.users }),
          h('span', { class: 'users' }, `${count(step.users)} ${step.users === 1 ? 'user' : 'users'}`),
          h('span', { class: 'muted' }, `${percent(step.conversionFromFirst)} of the first step, median ${minutes(step.medianMinutesFromPrevious)} after the previous`),
        ),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------
// Queues and DLQs, processing health, import progress

export async function system({ api, range }: ViewContext): Promise<HTMLElement> {
  const [health, imports] = await Promise.all([
    // The health route reads at most one day.
    api.GET('/analytics/health', { params: { query: lastMinutes(range, 1440) } }).then(ok),
    api.GET('/analytics/imports', { params: { query: { from: range.from, to: range.to } } }).then(ok),
  ]);
  return h(
    'div',
    { class: 'view' },
    h(
      'div',
      { class: 'stats', 'data-panel': 'health' },
      stat('peak', 'Peak per minute', count(health.totals.peakPerMinute)),
      stat('lag-p50', 'Processing lag p50', ms(health.processingLagMs.p50)),
      stat('lag-p95', 'Processing lag p95', ms(health.processingLagMs.p95)),
    ),
    section(
      'Queues (the whole system)',
      table(
        'queues',
        ['Queue', 'Visible', 'In flight', 'Delayed'],
        health.queues.map((q) => [h('span', { class: q.queue.endsWith('dlq') && (q.visible ?? 0) > 0 ? 'alert' : '' }, q.queue), count(q.visible), count(q.inFlight), q.error ? q.error : count(q.delayed)]),
      ),
    ),
    section(
      'Imports',
      table(
        'imports',
        ['Import', 'Collection', 'Started', 'Status', 'Progress', 'Succeeded', 'Failed', 'Rejected'],
        imports.imports.map((i) => {
          const accepted = i.counts.accepted ?? 0;
          const done = (i.counts.succeeded ?? 0) + (i.counts.failed ?? 0);
          return [i.importId, i.collection ?? '', time(i.startedAt), i.status, h('progress', { max: accepted || 1, value: Math.min(done, accepted) }), count(i.counts.succeeded ?? 0), count(i.counts.failed ?? 0), count(i.counts.rejected ?? 0)];
        }),
      ),
    ),
  );
}

export const views: Record<ViewName, (context: ViewContext) => Promise<HTMLElement>> = { overview, errors, sessions, funnels, system };
