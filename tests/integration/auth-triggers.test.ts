/**
 * The Cognito triggers against the emulator: the pre-token-generation (V2) trigger puts the
 * tenant from our membership record (never from user attributes) and the admin scope (from
 * the Cognito group) into the tokens; every trigger records its AUTHENTICATION analytics
 * event after the response; a failing membership lookup never fails the sign-in.
 */
import { randomUUID } from 'node:crypto';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { PreTokenGenerationV2TriggerEvent } from 'aws-lambda';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handler, type CognitoTriggerEvent } from '../../functions/auth-triggers/handler.ts';
import { drainAfterResponseTasks } from '../../functions/shared/after-response.ts';
import { putMembership } from '../../functions/shared/auth/membership.ts';
import { setAwsClients } from '../../functions/shared/aws-clients.ts';
import { clientConfig, type ProvisionedStack } from '../../scripts/local/provision.ts';
import { lambdaContext } from '../support/invoke.ts';
import { awsEndpoint, provisionTestStack, region } from '../support/stack.ts';

let stack: ProvisionedStack;
let sqs: SQSClient;

beforeAll(async () => {
  stack = await provisionTestStack();
  sqs = new SQSClient(clientConfig({ endpoint: awsEndpoint(), region }));
});
beforeEach(() => {
  Object.assign(process.env, stack.environment);
  setAwsClients({});
});

/** A trigger event as Cognito sends it; the user's attributes carry a tenant they wrote themselves. */
function triggerEvent(triggerSource: string, sub: string, groups: string[] = []): CognitoTriggerEvent {
  const base = {
    version: '2',
    region,
    userPoolId: 'us-east-1_pool',
    userName: sub,
    callerContext: { awsSdkVersion: 'aws-sdk-unknown-unknown', clientId: 'client-1' },
    triggerSource,
    request: { userAttributes: { sub, email: `${sub}@example.org`, 'custom:tenant': 'victim-corp' }, groupConfiguration: { groupsToOverride: groups } },
    response: {},
  };
  return base as unknown as CognitoTriggerEvent;
}

async function tokenClaims(sub: string, groups: string[] = [], source = 'TokenGeneration_Authentication') {
  const out = (await handler(triggerEvent(source, sub, groups), lambdaContext('auth-triggers'))) as PreTokenGenerationV2TriggerEvent;
  return out.response.claimsAndScopeOverrideDetails;
}

/** The analytics events the triggers published, from the analytics queue (consumed). */
async function publishedFor(sub: string) {
  await drainAfterResponseTasks();
  const found: Array<Record<string, any>> = []; // any: envelopes are read field by field
  for (let empty = 0; empty < 2; ) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.queueUrl('analytics'), MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    if (Messages.length === 0) empty++;
    else await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: stack.queueUrl('analytics'), Entries: Messages.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle! })) }));
    for (const m of Messages) {
      const envelope = JSON.parse(m.Body!) as { detail: Record<string, any> }; // any: see found
      if (envelope.detail.detail.userId === sub) found.push(envelope.detail);
    }
  }
  return found;
}

describe('pre token generation (V2)', () => {
  it('sets the tenant from our membership record, never from user attributes, and admin only for the admin group', async () => {
    const sub = `u-${randomUUID()}`;
    await putMembership(sub, 'acme');
    const plain = await tokenClaims(sub);
    expect(plain.idTokenGeneration?.claimsToAddOrOverride).toEqual({ tenant: 'acme' });
    expect(plain.accessTokenGeneration).toMatchObject({ claimsToAddOrOverride: { tenant: 'acme' }, scopesToAdd: [] });
    const admin = await tokenClaims(sub, ['readers', 'admin']);
    expect(admin.accessTokenGeneration?.scopesToAdd).toEqual(['admin']);
  });

  it('a user without a membership gets no tenant (suppressed) and no admin scope, even in the admin group', async () => {
    const details = await tokenClaims(`u-${randomUUID()}`, ['admin']);
    expect(details.idTokenGeneration).toEqual({ claimsToAddOrOverride: {}, claimsToSuppress: ['tenant'] });
    expect(details.accessTokenGeneration).toEqual({ claimsToAddOrOverride: {}, claimsToSuppress: ['tenant'], scopesToAdd: [] });
  });

  it('never fails the sign-in: with the table unreachable the tokens go out without a tenant, and the event says FAILURE', async () => {
    const sub = `u-${randomUUID()}`;
    process.env.DATA_TABLE_NAME = `${stack.prefix}-missing-table`;
    const details = await tokenClaims(sub, ['admin'], 'TokenGeneration_RefreshTokens');
    expect(details.accessTokenGeneration).toMatchObject({ claimsToSuppress: ['tenant'], scopesToAdd: [] });
    const [event] = await publishedFor(sub);
    expect(event).toMatchObject({ eventType: 'TOKEN_REFRESHED_ANALYTICS', detail: { metadata: { status: 'FAILURE', errorType: 'DEPENDENCY_UNAVAILABLE' } } });
  });
});

describe('AUTHENTICATION analytics from the triggers', () => {
  it('records login attempts, logins, sign-ups, password resets and token refreshes, with the tenant and no user attributes', async () => {
    const sub = `u-${randomUUID()}`;
    await putMembership(sub, 'acme');
    const sources = ['PreAuthentication_Authentication', 'PostAuthentication_Authentication', 'PostConfirmation_ConfirmSignUp', 'PostConfirmation_ConfirmForgotPassword', 'TokenGeneration_RefreshTokens', 'TokenGeneration_Authentication'];
    for (const source of sources) {
      const out = await handler(triggerEvent(source, sub), lambdaContext('auth-triggers'));
      expect(out.triggerSource).toBe(source);
    }
    const events = await publishedFor(sub);
    expect(events.map((e) => e.detail.type).sort()).toEqual(['LOGIN_ATTEMPTED', 'LOGIN_SUCCEEDED', 'PASSWORD_RESET', 'SIGN_UP_CONFIRMED', 'TOKEN_REFRESHED']);
    for (const event of events) {
      expect(event).toMatchObject({ source: 'event-flows.auth', detail: { userId: sub, metadata: { eventCategory: 'AUTHENTICATION', status: 'SUCCESS', properties: { tenant: 'acme', clientId: 'client-1' } } } });
    }
    const text = JSON.stringify(events);
    expect(text).not.toContain('@example.org');
    expect(text).not.toContain('victim-corp');
  });
});
