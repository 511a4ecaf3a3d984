/**
 * Who is calling: the claims the API Gateway JWT authorizer verified. The tenant claim scopes
 * every read and write; the `admin` scope opens the import and analytics routes.
 */
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';
import { ApiError, forbidden } from './errors.ts';

export interface Caller {
  userId: string;
  tenant: string;
  isAdmin: boolean;
}

/**
 * Tenant names start with a letter or a digit: names starting with `_` are the analytics
 * namespaces of system events and other accounts' events (`_system`, `_account-<id>`), which
 * no token may open.
 */
export const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** API Gateway passes array claims as "[a b]" and `scope` as a space-separated string. */
function scopesOf(claims: Record<string, string | number | boolean | string[]>): string[] {
  const raw = claims.scope ?? claims.scp;
  if (Array.isArray(raw)) return raw;
  return String(raw ?? '').replace(/^\[|\]$/g, '').split(/[\s,]+/).filter(Boolean);
}

/** The token's tenant claim when it names a valid tenant; undefined otherwise. */
export function tenantClaimOf(event: APIGatewayProxyEventV2WithJWTAuthorizer): string | undefined {
  const claim = event.requestContext.authorizer?.jwt?.claims?.[process.env.TENANT_CLAIM ?? 'tenant'];
  return typeof claim === 'string' && TENANT_PATTERN.test(claim) ? claim : undefined;
}

export function callerOf(event: APIGatewayProxyEventV2WithJWTAuthorizer): Caller {
  const claims = event.requestContext.authorizer?.jwt?.claims;
  if (!claims || !claims.sub) throw new ApiError(401, 'UNAUTHORIZED', 'a valid bearer token is required');
  const tenant = tenantClaimOf(event);
  if (!tenant) throw forbidden('the token carries no valid tenant claim');
  return { userId: String(claims.sub), tenant, isAdmin: scopesOf(claims).includes('admin') };
}

export function requireAdmin(caller: Caller): void {
  if (!caller.isAdmin) throw forbidden('this route needs an admin token');
}
