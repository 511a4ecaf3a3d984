/**
 * A probe function for the after-response order under the real runtime: its handler queues
 * one after-response task whose first act is a *synchronous* HTTP call (a child process)
 * to PROBE_URL. While it runs nothing else in the runtime process can, so the order in
 * which the recording proxy sees that call and the runtime's response POST is the order
 * in which the task started and the response was posted: no clocks involved.
 */
import { execFileSync } from 'node:child_process';
import { afterResponse, withAfterResponse } from '../../../functions/shared/after-response.ts';

function markSynchronously(what: string): void {
  execFileSync(process.execPath, ['-e', 'fetch(process.argv[1], { method: "POST" }).then((r) => r.text())', `${process.env.PROBE_URL}/probe/${what}`]);
}

export const handler = withAfterResponse(async (event: { n: number }, _context: unknown) => {
  afterResponse(async () => markSynchronously(`task-start/${event.n}`));
  // Some I/O first, as a real handler does: the extension's INVOKE has arrived meanwhile.
  await new Promise((resolve) => setTimeout(resolve, 20));
  return { n: event.n };
});
