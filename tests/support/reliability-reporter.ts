/**
 * vitest reporter for `npm run test:reliability`: at the end of the run, adds up the tallies
 * the reliability files published (test meta `reliability`, see ./reliability-harness.ts),
 * prints one table and writes it to .local/reliability/last-run.json (gitignored), from
 * which docs/RELIABILITY.md's figures are copied.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';
import { formatTally, newTally, type ReliabilityTally } from './reliability-harness.ts';

export default class ReliabilityReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const rows: ReliabilityTally[] = [];
    let failedTests = 0;
    let passedTests = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'failed') failedTests++;
        if (state === 'passed') passedTests++;
        const tally = test.meta().reliability;
        if (tally) rows.push(tally);
      }
    }
    if (rows.length === 0) return;
    rows.sort((a, b) => a.file.localeCompare(b.file));
    const total = newTally('TOTAL');
    for (const row of rows) {
      total.casesTried += row.casesTried;
      total.faultsInjected += row.faultsInjected;
      total.requestsMade += row.requestsMade;
      total.itemsLost += row.itemsLost;
      total.eventsLost += row.eventsLost;
      total.unauthorisedSucceeded += row.unauthorisedSucceeded;
    }
    const table = formatTally([...rows, total]);
    const mode = process.env.RELIABILITY_FULL === '1' ? 'full' : 'quick';
    console.log(`\nReliability summary (${mode} run; ${passedTests} tests passed, ${failedTests} failed)\n${table}\n`);
    const dir = join(process.cwd(), '.local', 'reliability');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'last-run.json'), JSON.stringify({ at: new Date().toISOString(), mode, passedTests, failedTests, rows, total }, null, 2));
  }
}
