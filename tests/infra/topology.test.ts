/**
 * scripts/local/topology.ts reads terraform/modules/event-flows/topology.json, the one
 * topology Terraform and the local stack share, and refuses an entry that names something the
 * JSON does not declare (a queue's consumer, a rule's bus or queue, a route's function or auth).
 */
import { describe, expect, it } from 'vitest';
import declared from '../../terraform/modules/event-flows/topology.json' with { type: 'json' };
import { readTopology, functions, routes } from '../../scripts/local/topology.ts';

describe('topology.json through topology.ts', () => {
  it('declares the functions and routes the stack serves', () => {
    expect(Object.keys(functions)).toEqual(Object.keys(declared.functions));
    expect(routes['GET /health']).toEqual({ function: 'query', auth: 'none', throttle: { burstLimit: 10, rateLimit: 5 } });
    expect(functions.import.timeoutSeconds).toBe(declared.functions.import.timeout_seconds);
  });

  it.each([
    ['a queue consumer', (t: typeof declared) => (t.queues.import.consumer = 'importer'), /queue import names the function "importer"/],
    ['a rule bus', (t: typeof declared) => ((t.rules['app-to-app-events'] as { bus: string }).bus = 'audit'), /rule app-to-app-events names the bus "audit"/],
    ['a rule target queue', (t: typeof declared) => ((t.rules['analytics-to-processor'] as { target_queue: string }).target_queue = 'metrics'), /names the queue "metrics"/],
    ['a route function', (t: typeof declared) => (t.routes['POST /events'].function = 'events'), /route POST \/events names the function "events"/],
    ['a route auth mode', (t: typeof declared) => (t.routes['GET /health'].auth = 'public'), /names the auth mode "public"/],
  ])('refuses %s that is not declared', (_what, edit, message) => {
    const broken = structuredClone(declared);
    edit(broken);
    expect(() => readTopology(broken)).toThrow(message);
  });
});
