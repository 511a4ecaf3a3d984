/**
 * The scale simulation (scripts/bench/scale.ts) on a small scale: the real analytics
 * processor over the unsharded layout, offered twice what its hottest partition takes,
 * through the capacity proxy on a simulated clock. The model must find that partition, the
 * simulation must saturate near it with throttles, and every event must end stored once.
 */
import { describe, expect, it } from 'vitest';
import { simulateAnalytics } from '../../scripts/bench/scale.ts';
import { awsEndpoint } from '../support/stack.ts';

describe('the scale simulation', () => {
  it('saturates one tenant’s unsharded analytics near the modelled 500 events/s, throttled, nothing lost', async () => {
    const run = await simulateAnalytics(awsEndpoint(), 'unsharded', [1000], { warmUpSeconds: 0.05, measuredSeconds: 0.3, burstSeconds: 0.05 }, 100);
    // Events are < 1 KB: 2 units each in the transaction, all on the tenant's day's EVENT partition.
    expect(run.model.hottest_partition).toEqual({ key: expect.stringMatching(/^analytics\|EVENT#<tenant>#<day>$/), units_per_operation: 2 });
    expect(run.model.ceiling_per_s).toBe(500);
    const [point] = run.points;
    expect(point!.offered_per_s).toBe(1000);
    expect(point!.throughput_per_s).toBeGreaterThan(400);
    expect(point!.throughput_per_s).toBeLessThanOrEqual(550);
    expect(point!.throttles_per_s).toBeGreaterThan(0);
    // simulateAnalytics throws unless every event is stored once and counted once in the aggregates.
    expect(point!.stored).toBe(point!.operations);
  }, 300_000);
});
