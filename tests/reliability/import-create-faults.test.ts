/**
 * POST /imports with items when the data store fails after the job was created (issue 19.2):
 * the caller is never left with a job it was not told about. A job no chunk was listed on is
 * deleted; one whose chunk was listed is named in the 503, and sending the chunk again
 * (chunkId "initial") finishes what was started.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureConsole, directClients, http, newTally, publishTally, scanAll, startStackBehindFaultProxy } from '../support/reliability-harness.ts';

const tally = newTally('import-create-faults');
const quiet = captureConsole();
let faulty: Awaited<ReturnType<typeof startStackBehindFaultProxy>>;
let admin: string;
beforeAll(async () => {
  faulty = await startStackBehindFaultProxy({ pollQueues: false });
  admin = await faulty.local.token({ sub: 'importer', tenant: 'creates', admin: true });
});
afterAll(async () => {
  quiet.restore();
  await faulty?.stop();
});
const local = () => faulty.local;
const proxy = () => faulty.proxy;

const jobsOfTenant = async () =>
  (await scanAll(directClients(local().emulator).dynamo, local().stack.tableName('data')))
    .filter((r) => r.sk === 'JOB' && String(r.pk).startsWith('TENANT#creates#IMPORT#'))
    .map((r) => r.importId as string);

/** The DynamoDB writes of a create, in order: the job, the chunk, listing it on the job, marking it queued. */
const WRITE = /^DynamoDB_20120810\.(PutItem|UpdateItem|TransactWriteItems)$/;
const body = JSON.stringify({ collection: 'faulty', items: [{ id: 'a', data: { n: 1 } }, { id: 'b', data: { n: 2 } }] });

describe('POST /imports with items, failing after the job was created', () => {
  it('when its chunk cannot be recorded: 503, and no job is left behind', async () => {
    const before = await jobsOfTenant();
    let writes = 0;
    // The first write (the job) goes through; every later one (the chunk) fails; deletes pass.
    proxy().setRules([{ target: (operation) => WRITE.test(operation) && ++writes > 1, fault: { kind: 'status500' } }]);
    tally.casesTried++;
    tally.requestsMade++;
    const answer = await http(local().baseUrl, 'POST', '/imports', { token: admin, body });
    proxy().clearRules();
    expect(answer.status, answer.text).toBe(503);
    expect(await jobsOfTenant()).toEqual(before);
  });

  it('when its chunk was recorded but not marked queued: 503 naming the job, and sending the chunk again completes it', async () => {
    const before = new Set(await jobsOfTenant());
    let writes = 0;
    // The job, the chunk and listing the chunk on the job (three writes) go through; marking it queued fails.
    proxy().setRules([{ target: (operation) => WRITE.test(operation) && ++writes > 3, fault: { kind: 'status500' } }]);
    tally.casesTried++;
    tally.requestsMade++;
    const answer = await http(local().baseUrl, 'POST', '/imports', { token: admin, body });
    proxy().clearRules();
    expect(answer.status, answer.text).toBe(503);
    const left = (await jobsOfTenant()).filter((id) => !before.has(id));
    expect(left).toHaveLength(1);
    const details = (answer.json as { error: { details?: Array<{ field?: string; issue: string }> } }).error.details ?? [];
    expect(details).toEqual([{ field: 'importId', issue: expect.stringContaining(left[0]!) }]);
    tally.requestsMade += 2;
    const again = await http(local().baseUrl, 'POST', `/imports/${left[0]}/items`, { token: admin, body: JSON.stringify({ chunkId: 'initial', items: JSON.parse(body).items }) });
    expect(again.status, again.text).toBe(202);
    expect(again.json).toMatchObject({ chunkId: 'initial', accepted: 2, replayed: true });
    const commit = await http(local().baseUrl, 'POST', `/imports/${left[0]}/commit`, { token: admin });
    expect(commit.status, commit.text).toBe(202);
  });

  it('publishes the tally', (context) => {
    quiet.restore();
    publishTally(context, tally);
  });
});
