/**
 * The scale simulation (scripts/bench/scale.ts) on a small scale: the real analytics
 * processor over the unsharded layout, offered twice what its hottest partition takes,
 * through the capacity proxy on a simulated clock. The model must find that partition, the
 * simulation must saturate near it with throttles, and every event must end stored once.
 * Likewise the real import worker into one collection, on one key (as before item shards)
 * and spread over the default 32.
 */
import { describe, expect, it } from 'vitest';
import { simulateAnalytics, simulateImport } from '../../scripts/bench/scale.ts';
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

  const importWindow = { warmUpSeconds: 0.4, measuredSeconds: 1, burstSeconds: 0.4 };
  it('saturates a one-key collection’s import near the modelled 500 items/s, throttled, every item written once', async () => {
    const run = await simulateImport(awsEndpoint(), [2000], importWindow, 490, 1);
    // Items are < 1 KB: 2 units each in the batch's transaction, all on the collection's one key.
    expect(run.model.hottest_partition).toEqual({ key: expect.stringMatching(/^data\|TENANT#<tenant>#COLLECTION#c1000$/), units_per_operation: expect.closeTo(2, 1) });
    expect(run.model.ceiling_per_s).toBeGreaterThan(450);
    expect(run.model.ceiling_per_s).toBeLessThanOrEqual(500);
    const [point] = run.points;
    expect(point!.throughput_per_s).toBeLessThanOrEqual(600);
    expect(point!.throttles_per_s).toBeGreaterThan(0);
    // simulateImport throws unless every item is in the collection once, at version 1.
    expect(point!.stored).toBe(point!.operations);
  }, 300_000);

  it('imports 4× that rate into a collection spread over its item shards without a throttle', async () => {
    const run = await simulateImport(awsEndpoint(), [2000], importWindow, 490);
    expect(run.model.ceiling_per_s).toBeGreaterThan(10_000);
    const [point] = run.points;
    // A window holds whole 98-item messages: written/s is coarse.
    expect(point!.throughput_per_s).toBeGreaterThan(1800);
    expect(point!.throttles_per_s).toBe(0);
    expect(point!.stored).toBe(point!.operations);
  }, 300_000);
});
