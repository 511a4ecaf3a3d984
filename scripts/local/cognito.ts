/**
 * The local user pool: sign-in as deployed (docs/AUTH.md), on the emulator's cognito-idp.
 *
 * - `provisionUserPool`: a pool per stack prefix (`<prefix>-users`) whose triggers are the
 *   stack's auth-triggers function, configured as terraform/modules/http-api does (pre and post
 *   authentication, post confirmation, pre token generation V2_0), the group `admin`, and an app
 *   client. moto invokes the triggers through the runtime's Lambda API once
 *   `connectTriggers` has told it where (scripts/local/moto_server.py, patch 9), and signs
 *   each pool's tokens with the pool's own key (patch 10).
 * - `signIn`: what an operator and the user do in the deployed system, in one call: the user
 *   signs up (first time: post confirmation runs), is put into a tenant (our membership item)
 *   and into or out of `admin`, and signs in (pre authentication, pre token generation, post
 *   authentication run). The tokens are the pool's: the tenant and the `admin` scope come from
 *   the trigger, never from the request.
 * - `localTokenEndpoint`: `POST /local/token` on the local API, for `npm run token` and
 *   browsers (the dashboard).
 *
 * Differences from the deployed pool, all of the emulator: users sign in with the admin
 * password flow (moto has no real SRP), the user name is the name given (the deployed pool
 * signs in by e-mail), and tokens live an hour (moto ignores the client's token validity).
 */
import { randomBytes } from 'node:crypto';
import {
  AdminAddUserToGroupCommand,
  AdminConfirmSignUpCommand,
  AdminGetUserCommand,
  AdminInitiateAuthCommand,
  AdminRemoveUserFromGroupCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  CreateGroupCommand,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
  GroupExistsException,
  ListUserPoolClientsCommand,
  ListUserPoolsCommand,
  SignUpCommand,
  UserNotFoundException,
} from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as v from 'valibot';
import { ADMIN_GROUP } from '../../functions/auth-triggers/handler.ts';
import { membershipKey } from '../../functions/shared/auth/membership.ts';
import { TENANT_PATTERN } from '../../functions/shared/http/caller.ts';
import type { HttpResult } from './http-api.ts';
import { defaultAudience, defaultIssuer, loadOrCreateSigningKeys, mintToken } from './jwt.ts';
import { localAccountId, localRegion } from './lambda-context.ts';
import { clientConfig, type AwsTarget, type ProvisionedStack } from './provision.ts';
import type { Runtime, RuntimeOptions } from './runtime.ts';

/** Where moto learns which Lambda API invokes a function (scripts/local/moto_server.py, patch 9). */
export const TRIGGER_REGISTRATION_PATH = '/_event-flows/lambda-endpoints';
const appClientName = 'front-end';

export interface LocalUserPool {
  endpoint: string;
  userPoolId: string;
  clientId: string;
  /** The tokens' `iss`, as Cognito writes it (the JWT authorizer's issuer). */
  issuer: string;
  /** The pool's JWKS on the emulator (Cognito serves it at `{issuer}/.well-known/jwks.json`). */
  jwksUri: string;
  /** The stack's data table, which holds the tenant memberships the trigger reads. */
  dataTable: string;
  /** The auth-triggers function the pool invokes. */
  triggerArn: string;
}

export function triggerFunctionArn(prefix: string): string {
  return `arn:aws:lambda:${localRegion}:${localAccountId}:function:${prefix}-auth-triggers`;
}

function cognitoClient(endpoint: string): CognitoIdentityProviderClient {
  return new CognitoIdentityProviderClient(clientConfig({ endpoint, region: localRegion }));
}

/** The stack's user pool, created on first use (found by name afterwards). */
export async function provisionUserPool(
  target: AwsTarget,
  stack: Pick<ProvisionedStack, 'prefix' | 'tableName'>,
  /** Another pool or app client of the same stack (tests of tokens from elsewhere). */
  options: { poolName?: string; clientName?: string } = {},
): Promise<LocalUserPool> {
  const cognito = cognitoClient(target.endpoint);
  const poolName = options.poolName ?? `${stack.prefix}-users`;
  const triggerArn = triggerFunctionArn(stack.prefix);
  let userPoolId: string | undefined;
  for (let token: string | undefined, first = true; first || token; first = false) {
    const page = await cognito.send(new ListUserPoolsCommand({ MaxResults: 60, ...(token ? { NextToken: token } : {}) }));
    userPoolId ??= page.UserPools?.find((pool) => pool.Name === poolName)?.Id;
    token = page.NextToken;
  }
  if (!userPoolId) {
    const created = await cognito.send(
      new CreateUserPoolCommand({
        PoolName: poolName,
        UserPoolTier: 'ESSENTIALS',
        LambdaConfig: {
          PreAuthentication: triggerArn,
          PostAuthentication: triggerArn,
          PostConfirmation: triggerArn,
          PreTokenGenerationConfig: { LambdaArn: triggerArn, LambdaVersion: 'V2_0' },
        },
      }),
    );
    userPoolId = created.UserPool?.Id;
    if (!userPoolId) throw new Error(`the emulator created no user pool ${poolName}`);
  }
  const clientName = options.clientName ?? appClientName;
  const clients = await cognito.send(new ListUserPoolClientsCommand({ UserPoolId: userPoolId, MaxResults: 60 }));
  let clientId = clients.UserPoolClients?.find((client) => client.ClientName === clientName)?.ClientId;
  if (!clientId) {
    const created = await cognito.send(
      new CreateUserPoolClientCommand({
        UserPoolId: userPoolId,
        ClientName: clientName,
        GenerateSecret: false,
        ExplicitAuthFlows: ['ALLOW_ADMIN_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'],
        // As deployed: no attribute a user can write decides a tenant or a role.
        ReadAttributes: ['email', 'email_verified', 'name'],
        WriteAttributes: ['email', 'name'],
      }),
    );
    clientId = created.UserPoolClient?.ClientId;
    if (!clientId) throw new Error(`the emulator created no app client for ${poolName}`);
  }
  try {
    await cognito.send(new CreateGroupCommand({ UserPoolId: userPoolId, GroupName: ADMIN_GROUP }));
  } catch (error) {
    if (!(error instanceof GroupExistsException)) throw error;
  }
  return {
    endpoint: target.endpoint,
    userPoolId,
    clientId,
    issuer: `https://cognito-idp.${localRegion}.amazonaws.com/${userPoolId}`,
    jwksUri: `${target.endpoint}/${userPoolId}/.well-known/jwks.json`,
    dataTable: stack.tableName('data'),
    triggerArn,
  };
}

/** Tells the emulator that the pool's trigger function is invoked through `lambdaEndpoint` (the runtime's Lambda API). */
export async function connectTriggers(pool: Pick<LocalUserPool, 'endpoint' | 'triggerArn'>, lambdaEndpoint: string): Promise<void> {
  const response = await fetch(`${pool.endpoint}${TRIGGER_REGISTRATION_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ functionArn: pool.triggerArn, endpoint: lambdaEndpoint }),
  });
  if (response.status !== 204) {
    throw new Error(`the emulator at ${pool.endpoint} runs no user pool triggers (${TRIGGER_REGISTRATION_PATH} answered ${response.status}); it must be scripts/local/moto_server.py`);
  }
}

export interface SignInRequest {
  /** The user's name in the pool. */
  user: string;
  tenant: string;
  admin?: boolean;
}

export interface SignedIn {
  accessToken: string;
  idToken: string;
  refreshToken: string;
  expiresIn: number;
  /** The user's `sub` in the pool (the tokens' `sub`, the API's user id). */
  sub: string;
}

/** Signs the user up if new, sets their tenant membership and admin group, and signs them in. */
export async function signIn(pool: LocalUserPool, request: SignInRequest): Promise<SignedIn> {
  const cognito = cognitoClient(pool.endpoint);
  const password = `Local-${randomBytes(12).toString('base64url')}1!`;
  const UserPoolId = pool.userPoolId;
  const Username = request.user;
  let sub: string | undefined;
  try {
    const existing = await cognito.send(new AdminGetUserCommand({ UserPoolId, Username }));
    sub = existing.UserAttributes?.find((a) => a.Name === 'sub')?.Value;
    // A fresh password each time: no password is kept anywhere.
    await cognito.send(new AdminSetUserPasswordCommand({ UserPoolId, Username, Password: password, Permanent: true }));
  } catch (error) {
    if (!(error instanceof UserNotFoundException)) throw error;
    // As a new user does: signs up, and is confirmed (the post-confirmation trigger runs).
    const signedUp = await cognito.send(new SignUpCommand({ ClientId: pool.clientId, Username, Password: password }));
    sub = signedUp.UserSub;
    await cognito.send(new AdminConfirmSignUpCommand({ UserPoolId, Username }));
  }
  if (!sub) throw new Error(`the user pool gave ${Username} no sub`);
  // The operator's part: tenant membership (read by the pre-token-generation trigger) and the admin group.
  const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig({ endpoint: pool.endpoint, region: localRegion })));
  await dynamo.send(new PutCommand({ TableName: pool.dataTable, Item: { ...membershipKey(sub), tenant: request.tenant } }));
  await cognito.send(
    request.admin
      ? new AdminAddUserToGroupCommand({ UserPoolId, Username, GroupName: ADMIN_GROUP })
      : new AdminRemoveUserFromGroupCommand({ UserPoolId, Username, GroupName: ADMIN_GROUP }),
  );
  const signedIn = await cognito.send(
    new AdminInitiateAuthCommand({ UserPoolId, ClientId: pool.clientId, AuthFlow: 'ADMIN_USER_PASSWORD_AUTH', AuthParameters: { USERNAME: Username, PASSWORD: password } }),
  );
  const result = signedIn.AuthenticationResult;
  if (!result?.AccessToken || !result.IdToken || !result.RefreshToken) throw new Error(`the user pool answered the sign-in of ${Username} without tokens (challenge ${signedIn.ChallengeName ?? 'none'})`);
  return { accessToken: result.AccessToken, idToken: result.IdToken, refreshToken: result.RefreshToken, expiresIn: result.ExpiresIn ?? 3600, sub };
}

/**
 * What the local runtime needs for this pool (startRuntime's options): the JWT authorizer on
 * the pool's issuer, JWKS and app client, as Terraform configures API Gateway's for the
 * deployed pool, and `POST /local/token`. Then `connectTriggers(pool, runtime.lambdaEndpoint)`.
 */
export function runtimeOptionsFor(pool: LocalUserPool) {
  return {
    jwksUri: pool.jwksUri,
    issuer: pool.issuer,
    audience: [pool.clientId],
    localEndpoints: { 'POST /local/token': localTokenEndpoint((request) => signIn(pool, request)) },
  };
}

/** The body of `POST /local/token`. */
export const TokenRequestSchema = v.strictObject({
  user: v.pipe(v.string(), v.regex(/^[\p{L}\p{M}\p{S}\p{N}\p{P}]{1,128}$/u, 'a user name: 1 to 128 visible characters, no spaces')),
  tenant: v.pipe(v.string(), v.regex(TENANT_PATTERN, 'a tenant name: a letter or digit, then up to 127 of A-Z a-z 0-9 _ . -')),
  admin: v.optional(v.boolean(), false),
});

function json(statusCode: number, body: unknown): HttpResult {
  return { statusCode, headers: [['content-type', 'application/json']], body: Buffer.from(JSON.stringify(body)) };
}

/**
 * `POST /local/token {"user","tenant","admin"?}` → 200 `{accessToken, idToken, refreshToken,
 * expiresIn, tokenType, sub}`: a sign-in to the local pool (signIn above). Local stack only.
 */
export function localTokenEndpoint(issue: (request: SignInRequest) => Promise<Pick<SignedIn, 'accessToken' | 'expiresIn' | 'sub'> & Partial<SignedIn>>): (body: Buffer) => Promise<HttpResult> {
  return async (body) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return json(400, { error: { code: 'INVALID_JSON', message: 'the body must be JSON: {"user": "alice", "tenant": "acme", "admin": false}' } });
    }
    const request = v.safeParse(TokenRequestSchema, parsed);
    if (!request.success) {
      return json(400, {
        error: { code: 'VALIDATION_FAILED', message: 'the body must be {"user": "alice", "tenant": "acme", "admin": false}', details: request.issues.map((issue) => ({ path: v.getDotPath(issue), message: issue.message })) },
      });
    }
    try {
      const tokens = await issue(request.output);
      return json(200, { ...tokens, tokenType: 'Bearer' });
    } catch (error) {
      return json(502, { error: { code: 'SIGN_IN_FAILED', message: `the local user pool refused the sign-in: ${error instanceof Error ? error.message : String(error)}` } });
    }
  };
}

export interface LocalSignIn {
  /** startRuntime's authorizer options and `POST /local/token`. */
  runtimeOptions: Pick<RuntimeOptions, 'publicKey' | 'jwksUri' | 'issuer' | 'audience' | 'localEndpoints'>;
  /** One line for the start-up banner. */
  description: string;
  /** Once the runtime runs: the emulator invokes the pool's triggers through its Lambda API. */
  connect(runtime: Pick<Runtime, 'lambdaEndpoint'>): Promise<void>;
}

/** Does the emulator run user pool triggers (scripts/local/moto_server.py answers a malformed registration with 400)? */
async function runsTriggers(endpoint: string): Promise<boolean> {
  const probe = await fetch(`${endpoint}${TRIGGER_REGISTRATION_PATH}`, { method: 'POST', body: '{}' }).catch(() => undefined);
  await probe?.arrayBuffer();
  return probe?.status === 400;
}

/**
 * `npm start`'s sign-in: the stack's user pool on an emulator that runs its triggers (ours);
 * on another one (`--endpoint`, e.g. LocalStack without cognito-idp) the self-signed key of
 * `.local/jwt/`, whose tokens carry the tenant and scope asked for.
 */
export async function setUpLocalSignIn(target: AwsTarget, stack: Pick<ProvisionedStack, 'prefix' | 'tableName'>): Promise<LocalSignIn> {
  if (await runsTriggers(target.endpoint)) {
    const pool = await provisionUserPool(target, stack);
    return {
      runtimeOptions: runtimeOptionsFor(pool),
      description: `user pool ${pool.userPoolId} (app client ${pool.clientId}), JWKS ${pool.jwksUri}`,
      connect: (runtime) => connectTriggers(pool, runtime.lambdaEndpoint),
    };
  }
  const keys = await loadOrCreateSigningKeys();
  const issuer = process.env.JWT_ISSUER ?? defaultIssuer;
  const audience = process.env.JWT_AUDIENCE ?? defaultAudience;
  const ttlSeconds = 3600;
  return {
    runtimeOptions: {
      publicKey: keys.publicKey,
      issuer,
      audience,
      localEndpoints: {
        'POST /local/token': localTokenEndpoint(async ({ user, tenant, admin }) => ({
          accessToken: await mintToken(keys, { sub: user, tenant, admin, issuer, audience, ttlSeconds }),
          expiresIn: ttlSeconds,
          sub: user,
        })),
      },
    },
    description: `self-signed tokens (.local/jwt/; this emulator runs no user pool triggers)`,
    connect: async () => undefined,
  };
}
