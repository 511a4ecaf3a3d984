/**
 * Local sign-in as deployed: a user pool on the emulator whose triggers are our auth-triggers
 * function, run by the local runtime (through its Lambda API) where Cognito runs them; tokens
 * signed with the pool's own key, checked by the local JWT authorizer against the pool's JWKS,
 * issuer and app client.
 */
import { randomUUID } from 'node:crypto';
import { CognitoIdentityProviderClient, InitiateAuthCommand } from '@aws-sdk/client-cognito-identity-provider';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setAwsClients } from '../../functions/shared/aws-clients.ts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connectTriggers, provisionUserPool, runtimeOptionsFor, setUpLocalSignIn, signIn, type LocalUserPool } from '../../scripts/local/cognito.ts';
import { authorize } from '../../scripts/local/jwt.ts';
import { clientConfig, type ProvisionedStack } from '../../scripts/local/provision.ts';
import { startRuntime, type Runtime } from '../../scripts/local/runtime.ts';
import { awsEndpoint, provisionTestStack, region } from '../support/stack.ts';

let stack: ProvisionedStack;
let pool: LocalUserPool;
let runtime: Runtime;
let sqs: SQSClient;

beforeAll(async () => {
  stack = await provisionTestStack();
  pool = await provisionUserPool({ endpoint: awsEndpoint(), region }, stack);
  runtime = await startRuntime({ endpoint: awsEndpoint(), stack, port: 0, pollQueues: false, ...runtimeOptionsFor(pool), log: () => undefined });
  setAwsClients({});
  await connectTriggers(pool, runtime.lambdaEndpoint);
  sqs = new SQSClient(clientConfig({ endpoint: awsEndpoint(), region }));
});
afterAll(async () => {
  await runtime?.stop();
});

async function call(method: string, path: string, token: string, body?: unknown) {
  const response = await fetch(`${runtime.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, text, json: text ? (JSON.parse(text) as unknown) : undefined };
}

/** The AUTHENTICATION analytics events the triggers published for `sub` (consumed from the analytics queue). */
async function authEventsOf(sub: string): Promise<string[]> {
  const types: string[] = [];
  for (let empty = 0; empty < 2; ) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.queueUrl('analytics'), MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    if (Messages.length === 0) empty++;
    else await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: stack.queueUrl('analytics'), Entries: Messages.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle! })) }));
    for (const message of Messages) {
      // The EventBridge envelope around our analytics envelope around the AnalyticsEvent.
      const event = (JSON.parse(message.Body!) as { detail: { detail: { type?: string; userId?: string; metadata?: { eventCategory?: string } } } }).detail.detail;
      if (event.userId === sub && event.metadata?.eventCategory === 'AUTHENTICATION') types.push(event.type ?? '');
    }
  }
  return types.sort();
}

describe('the local user pool', () => {
  it('issues tokens the pool signed with its own key, whose tenant and scope come from our pre-token-generation trigger', async () => {
    const alice = await signIn(pool, { user: `alice-${randomUUID().slice(0, 8)}`, tenant: 'acme' });
    const access = decodeJwt(alice.accessToken);
    expect(access).toMatchObject({ iss: pool.issuer, client_id: pool.clientId, token_use: 'access', sub: alice.sub, tenant: 'acme' });
    expect(String(access.scope).split(' ')).not.toContain('admin');
    expect(decodeJwt(alice.idToken)).toMatchObject({ iss: pool.issuer, aud: pool.clientId, tenant: 'acme' });
    const jwks = (await (await fetch(pool.jwksUri)).json()) as { keys: Array<{ kid: string }> };
    expect(jwks.keys.map((k) => k.kid)).toEqual([decodeProtectedHeader(alice.accessToken).kid]);

    // The API takes it: the tenant from the trigger scopes the write.
    const written = await call('PUT', '/items/notes/n1', alice.accessToken, { text: 'hello' });
    expect(written.status, written.text).toBe(201);
    expect(await call('GET', '/analytics/users/x/events', alice.accessToken)).toMatchObject({ status: 403, json: { message: 'Forbidden' } });
  });

  it('gives members of the group admin the admin scope, and a user without a membership no tenant (403)', async () => {
    const root = await signIn(pool, { user: `root-${randomUUID().slice(0, 8)}`, tenant: 'acme', admin: true });
    expect(String(decodeJwt(root.accessToken).scope).split(' ')).toContain('admin');
    const read = await call('GET', `/analytics/users/${root.sub}/events`, root.accessToken);
    expect(read.status, read.text).toBe(200);

    // The same user, taken out of admin and into another tenant: the next sign-in says so.
    const demoted = await signIn(pool, { user: 'root-demoted', tenant: 'globex', admin: true });
    const again = await signIn(pool, { user: 'root-demoted', tenant: 'initech', admin: false });
    expect(again.sub).toBe(demoted.sub);
    expect(decodeJwt(again.accessToken)).toMatchObject({ tenant: 'initech' });
    expect(String(decodeJwt(again.accessToken).scope).split(' ')).not.toContain('admin');
  });

  it('runs post confirmation on sign-up, pre and post authentication on sign-in, and pre token generation on refresh: the AUTHENTICATION events', async () => {
    const user = `carol-${randomUUID().slice(0, 8)}`;
    const carol = await signIn(pool, { user, tenant: 'acme' });
    const cognito = new CognitoIdentityProviderClient(clientConfig({ endpoint: awsEndpoint(), region }));
    const refreshed = await cognito.send(new InitiateAuthCommand({ ClientId: pool.clientId, AuthFlow: 'REFRESH_TOKEN_AUTH', AuthParameters: { REFRESH_TOKEN: carol.refreshToken } }));
    expect(decodeJwt(refreshed.AuthenticationResult!.AccessToken!)).toMatchObject({ sub: carol.sub, tenant: 'acme' });
    await runtime.stop(); // drains the after-response tasks that publish the events
    runtime = await startRuntime({ endpoint: awsEndpoint(), stack, port: 0, pollQueues: false, ...runtimeOptionsFor(pool), log: () => undefined });
    await connectTriggers(pool, runtime.lambdaEndpoint);
    expect(await authEventsOf(carol.sub)).toEqual(['LOGIN_ATTEMPTED', 'LOGIN_SUCCEEDED', 'SIGN_UP_CONFIRMED', 'TOKEN_REFRESHED']);
  });

  it('refuses tokens of another pool, of another app client, and the pool’s tokens checked against another pool’s JWKS', async () => {
    const otherPool = await provisionUserPool({ endpoint: awsEndpoint(), region }, stack, { poolName: `${stack.prefix}-other-users` });
    expect(otherPool.userPoolId).not.toBe(pool.userPoolId);
    // Both pools invoke the stack's one trigger function: pointed where nobody answers, it cannot run, and a sign-up fails as Cognito's does.
    try {
      await connectTriggers(otherPool, runtime.lambdaEndpoint.replace(/:\d+$/, ':1'));
      await expect(signIn(otherPool, { user: 'mallory', tenant: 'acme' })).rejects.toThrow(/PostConfirmation failed with error/);
    } finally {
      await connectTriggers(otherPool, runtime.lambdaEndpoint);
    }
    const foreign = await signIn(otherPool, { user: 'mallory', tenant: 'acme', admin: true });
    expect(await call('GET', '/items/notes', foreign.accessToken)).toMatchObject({ status: 401, json: { message: 'Unauthorized' } });

    const otherClient = await provisionUserPool({ endpoint: awsEndpoint(), region }, stack, { clientName: 'another-app' });
    expect(otherClient.userPoolId).toBe(pool.userPoolId);
    expect(otherClient.clientId).not.toBe(pool.clientId);
    const viaOtherClient = await signIn(otherClient, { user: 'dave', tenant: 'acme' });
    expect(await call('GET', '/items/notes', viaOtherClient.accessToken)).toMatchObject({ status: 401 });

    const own = await signIn(pool, { user: 'erin', tenant: 'acme' });
    expect(await authorize({ jwksUri: pool.jwksUri, issuer: pool.issuer, audience: [pool.clientId] }, `Bearer ${own.accessToken}`)).toMatchObject({ ok: true });
    // Each pool has its own key: the other pool's JWKS does not verify this pool's token.
    expect(await authorize({ jwksUri: otherPool.jwksUri, issuer: pool.issuer, audience: [pool.clientId] }, `Bearer ${own.accessToken}`)).toMatchObject({ ok: false });
  });

  it('serves POST /local/token: a sign-in for a user, tenant and admin flag; 400 with a machine-readable body otherwise', async () => {
    const ok = await fetch(`${runtime.url}/local/token`, { method: 'POST', body: JSON.stringify({ user: 'frank', tenant: 'acme', admin: true }) });
    expect(ok.status).toBe(200);
    const tokens = (await ok.json()) as { accessToken: string; sub: string; tokenType: string };
    expect(tokens.tokenType).toBe('Bearer');
    expect(decodeJwt(tokens.accessToken)).toMatchObject({ iss: pool.issuer, sub: tokens.sub, tenant: 'acme' });
    for (const body of ['{', '{"user":"frank"}', '{"user":"frank","tenant":"_system"}', '{"user":"a b","tenant":"acme"}', '{"user":"frank","tenant":"acme","scope":"admin"}']) {
      const refused = await fetch(`${runtime.url}/local/token`, { method: 'POST', body });
      expect(refused.status, body).toBe(400);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toMatch(/^(INVALID_JSON|VALIDATION_FAILED)$/);
    }
  });

  it('falls back to self-signed tokens on an emulator that runs no user pool triggers (npm start -- --endpoint)', async () => {
    const elsewhere = createServer((req, res) => {
      req.resume();
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
      const fallback = await setUpLocalSignIn({ endpoint, region }, stack);
      expect(fallback.description).toMatch(/self-signed/);
      const answer = await fallback.runtimeOptions.localEndpoints!['POST /local/token']!(Buffer.from('{"user":"gina","tenant":"acme","admin":true}'));
      expect(answer.statusCode).toBe(200);
      const { accessToken } = JSON.parse(answer.body.toString('utf8')) as { accessToken: string };
      const { publicKey, issuer, audience } = fallback.runtimeOptions;
      expect(await authorize({ publicKey: publicKey!, issuer: issuer!, audience: audience! }, `Bearer ${accessToken}`)).toMatchObject({ ok: true, authorizer: { claims: { sub: 'gina', tenant: 'acme' } } });

      // Ours runs them: the stack's pool.
      const ours = await setUpLocalSignIn({ endpoint: awsEndpoint(), region }, stack);
      expect(ours.runtimeOptions).toMatchObject({ jwksUri: pool.jwksUri, issuer: pool.issuer });
    } finally {
      elsewhere.close();
    }
  });
});
