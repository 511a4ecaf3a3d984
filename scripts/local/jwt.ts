/**
 * The local stand-in for the API Gateway JWT authorizer, and the self-signed tokens tests use.
 *
 * - Verification: RS256 only, signature with the issuer's JWKS (`npm start`: the local
 *   Cognito user pool's, scripts/local/cognito.ts) or a given public key (tests), `iss`,
 *   `aud` or else `client_id` (Cognito access tokens carry no `aud`; API Gateway then checks
 *   `client_id`), `exp` (required) and `nbf` with a small clock skew; anything else is a 401 upstream.
 * - Claims reach the handler as API Gateway passes them: every value a string, arrays as
 *   `[a b]`, objects as `map[k:v]` (API Gateway formats them with Go's `%v`).
 * - Self-signed tokens (mintToken): an emulator without cognito-idp (`npm start -- --endpoint`)
 *   and tests of what no user pool issues (not-yet-valid, `alg: none`, another key). Their key
 *   pair lives in `.local/jwt/` (gitignored), generated on first use.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  SignJWT,
  UnsecuredJWT,
  createRemoteJWKSet,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  importPKCS8,
  importSPKI,
  jwtVerify,
  type CryptoKey,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { repoRoot } from './python-env.ts';

export const defaultIssuer = 'event-flows-local';
export const defaultAudience = 'event-flows';
/** How far `exp`/`nbf` may be off; API Gateway allows little, so do we. */
export const clockToleranceSeconds = 5;
export const defaultKeyDir = join(repoRoot, '.local', 'jwt');

export interface SigningKeys {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

export async function generateSigningKeys(): Promise<SigningKeys> {
  return generateKeyPair('RS256', { extractable: true });
}

/** Loads the local key pair from `dir`, creating it on first use. */
export async function loadOrCreateSigningKeys(dir: string = defaultKeyDir): Promise<SigningKeys> {
  const privateFile = join(dir, 'private.pem');
  const publicFile = join(dir, 'public.pem');
  if (existsSync(privateFile) && existsSync(publicFile)) {
    return {
      privateKey: await importPKCS8(readFileSync(privateFile, 'utf8'), 'RS256', { extractable: true }),
      publicKey: await importSPKI(readFileSync(publicFile, 'utf8'), 'RS256'),
    };
  }
  const keys = await generateSigningKeys();
  mkdirSync(dir, { recursive: true });
  writeFileSync(privateFile, await exportPKCS8(keys.privateKey), { mode: 0o600 });
  writeFileSync(publicFile, await exportSPKI(keys.publicKey));
  return keys;
}

export interface TokenOptions {
  sub: string;
  tenant: string;
  admin?: boolean;
  /** Lifetime in seconds; default one hour. */
  ttlSeconds?: number;
  issuer?: string;
  audience?: string;
  /** Extra or overriding claims. */
  claims?: JWTPayload & Record<string, unknown>;
  /**
   * Produce a deliberately broken token, for tests of the authorizer:
   * expired, not yet valid, wrong issuer/audience, signed by another key, or `alg: none`.
   */
  broken?: 'expired' | 'not-yet-valid' | 'wrong-issuer' | 'wrong-audience' | 'wrong-signature' | 'alg-none';
}

/** Mints a token the local API accepts (or, with `broken`, one it must refuse). */
export async function mintToken(keys: Pick<SigningKeys, 'privateKey'>, options: TokenOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const ttl = options.ttlSeconds ?? 3600;
  let iat = now;
  let nbf = now;
  let exp = now + ttl;
  if (options.broken === 'expired') {
    iat = now - ttl - 120;
    nbf = iat;
    exp = now - 60;
  } else if (options.broken === 'not-yet-valid') {
    nbf = now + 300;
    exp = nbf + ttl;
  }
  const payload: JWTPayload = {
    sub: options.sub,
    tenant: options.tenant,
    scope: options.admin ? 'items admin' : 'items',
    iss: options.broken === 'wrong-issuer' ? 'someone-else' : (options.issuer ?? defaultIssuer),
    aud: options.broken === 'wrong-audience' ? 'another-api' : (options.audience ?? defaultAudience),
    iat,
    nbf,
    exp,
    ...options.claims,
  };
  if (options.broken === 'alg-none') return new UnsecuredJWT(payload).encode();
  const key = options.broken === 'wrong-signature' ? (await generateSigningKeys()).privateKey : keys.privateKey;
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).sign(key);
}

export interface JwtAuthorizerConfig {
  /** The key tokens are signed with: a public key, or the issuer's JWKS URL (as API Gateway fetches `{issuer}/.well-known/jwks.json`). */
  publicKey?: CryptoKey;
  jwksUri?: string;
  issuer: string;
  /** The authorizer's audience list: the token's `aud`, or without one its `client_id`, must be one of them. */
  audience: string | readonly string[];
  /** The authorizer's clock (default the system's): tests move it to see a real token expire. */
  now?: () => Date;
}

const remoteKeySets = new Map<string, JWTVerifyGetKey>();

/** The verification key of a config: the JWKS is fetched once and cached (refetched for an unknown `kid`), as API Gateway does. */
function verificationKey(config: JwtAuthorizerConfig): CryptoKey | JWTVerifyGetKey {
  if (config.publicKey) return config.publicKey;
  if (!config.jwksUri) throw new Error('the JWT authorizer needs publicKey or jwksUri');
  let keySet = remoteKeySets.get(config.jwksUri);
  if (!keySet) remoteKeySets.set(config.jwksUri, (keySet = createRemoteJWKSet(new URL(config.jwksUri))));
  return keySet;
}

/** API Gateway checks `aud` when the token has one, else `client_id`. */
function audienceMatches(payload: JWTPayload, audience: string | readonly string[]): boolean {
  const allowed = typeof audience === 'string' ? [audience] : audience;
  const claimed = payload.aud !== undefined ? (Array.isArray(payload.aud) ? payload.aud : [payload.aud]) : typeof payload.client_id === 'string' ? [payload.client_id] : [];
  return claimed.some((value) => allowed.includes(value));
}

export interface AuthorizerResult {
  claims: Record<string, string>;
  scopes: string[] | null;
}

export type AuthorizerOutcome = { ok: true; authorizer: AuthorizerResult } | { ok: false; reason: string };

/** Checks an `Authorization` header value the way the API Gateway JWT authorizer does. */
export async function authorize(config: JwtAuthorizerConfig, authorization: string | undefined): Promise<AuthorizerOutcome> {
  if (!authorization) return { ok: false, reason: 'no Authorization header' };
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization.trim());
  const token = match?.[1];
  if (!token) return { ok: false, reason: 'the Authorization header is not "Bearer <token>"' };
  try {
    const { payload } = await jwtVerify(token, verificationKey(config), {
      algorithms: ['RS256'],
      issuer: config.issuer,
      clockTolerance: clockToleranceSeconds,
      requiredClaims: ['exp'],
      ...(config.now ? { currentDate: config.now() } : {}),
    });
    if (!audienceMatches(payload, config.audience)) return { ok: false, reason: 'neither "aud" nor "client_id" is one of the audience' };
    const scopeClaim = typeof payload.scope === 'string' ? payload.scope : typeof payload.scp === 'string' ? payload.scp : undefined;
    const scopes = scopeClaim ? scopeClaim.split(' ').filter(Boolean) : null;
    return { ok: true, authorizer: { claims: apiGatewayClaims(payload), scopes } };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

/** Flattens claims to strings the way API Gateway does (Go's `%v` formatting). */
export function apiGatewayClaims(payload: Record<string, unknown>): Record<string, string> {
  const claims: Record<string, string> = {};
  for (const [name, value] of Object.entries(payload)) claims[name] = formatClaim(value);
  return claims;
}

function formatClaim(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return `[${value.map(formatClaim).join(' ')}]`;
  if (value === null || value === undefined) return '<nil>';
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[${entries.map(([k, v]) => `${k}:${formatClaim(v)}`).join(' ')}]`;
  }
  return String(value);
}
