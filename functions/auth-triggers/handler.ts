/**
 * The Cognito user pool's triggers (docs/AUTH.md):
 *
 * - pre token generation (V2): puts the caller's `tenant` (from the membership we keep in
 *   the data table, never from a user attribute the user could write) into the ID and
 *   access tokens, and the `admin` scope into the access token for members of the Cognito
 *   group `admin`;
 * - pre authentication, post authentication, post confirmation, and the token refresh of
 *   pre token generation: the spec's AUTHENTICATION analytics events (login attempted,
 *   login, sign-up, password reset, token refreshed).
 *
 * A trigger that throws fails the sign-in, so nothing here throws: a membership lookup that
 * fails issues tokens without a tenant (the API then answers 403), and analytics go out after
 * the response, through the same after-response path as every other function.
 */
import type {
  Context,
  PostAuthenticationTriggerEvent,
  PostConfirmationTriggerEvent,
  PreAuthenticationTriggerEvent,
  PreTokenGenerationV2TriggerEvent,
} from 'aws-lambda';
import { withAfterResponse } from '../shared/after-response.ts';
import { recordAnalytics } from '../shared/analytics/emitter.ts';
import { tenantMembership, type Membership } from '../shared/auth/membership.ts';
import { log } from '../shared/log.ts';

export type CognitoTriggerEvent = PreTokenGenerationV2TriggerEvent | PreAuthenticationTriggerEvent | PostAuthenticationTriggerEvent | PostConfirmationTriggerEvent;

export const AUTH_SOURCE = 'event-flows.auth';
/** The Cognito group whose members get the `admin` scope. */
export const ADMIN_GROUP = 'admin';

/** The analytics event type and action of each trigger source that records one. */
const AUTH_EVENTS: Record<string, { type: string; action: string }> = {
  PreAuthentication_Authentication: { type: 'LOGIN_ATTEMPTED', action: 'LOGIN' },
  PostAuthentication_Authentication: { type: 'LOGIN_SUCCEEDED', action: 'LOGIN' },
  PostConfirmation_ConfirmSignUp: { type: 'SIGN_UP_CONFIRMED', action: 'SIGN_UP' },
  PostConfirmation_ConfirmForgotPassword: { type: 'PASSWORD_RESET', action: 'PASSWORD_CHANGE' },
  TokenGeneration_RefreshTokens: { type: 'TOKEN_REFRESHED', action: 'SESSION_REFRESH' },
};

function isTokenGeneration(event: CognitoTriggerEvent): event is PreTokenGenerationV2TriggerEvent {
  return event.triggerSource.startsWith('TokenGeneration_');
}

function setTokenClaims(event: PreTokenGenerationV2TriggerEvent, membership: Membership | undefined): void {
  const claims: Record<string, string> = membership ? { tenant: membership.tenant } : {};
  // Without a membership `tenant` is suppressed, so no claim from elsewhere survives into a token.
  const suppress = membership ? {} : { claimsToSuppress: ['tenant'] };
  const admin = membership !== undefined && (event.request.groupConfiguration?.groupsToOverride ?? []).includes(ADMIN_GROUP);
  event.response.claimsAndScopeOverrideDetails = {
    idTokenGeneration: { claimsToAddOrOverride: claims, ...suppress },
    accessTokenGeneration: { claimsToAddOrOverride: claims, ...suppress, scopesToAdd: admin ? ['admin'] : [] },
  };
}

function recordAuthEvent(event: CognitoTriggerEvent, context: Context, userId: string, membership: Membership | undefined, lookupFailed: boolean): void {
  const described = AUTH_EVENTS[event.triggerSource];
  if (!described) return;
  recordAnalytics({
    type: described.type,
    action: described.action,
    category: 'AUTHENTICATION',
    source: AUTH_SOURCE,
    status: lookupFailed ? 'FAILURE' : 'SUCCESS',
    ...(lookupFailed ? { errorType: 'DEPENDENCY_UNAVAILABLE' } : {}),
    userId,
    requestId: context.awsRequestId,
    context,
    // No user attributes: they hold the e-mail address and phone number.
    properties: {
      triggerSource: event.triggerSource,
      userPoolId: event.userPoolId,
      clientId: event.callerContext?.clientId,
      ...(membership ? { tenant: membership.tenant } : {}),
    },
  });
}

async function handle(event: CognitoTriggerEvent, context: Context): Promise<CognitoTriggerEvent> {
  const userId = event.request.userAttributes?.sub ?? event.userName;
  let membership: Membership | undefined;
  let lookupFailed = false;
  try {
    membership = await tenantMembership(userId);
  } catch (error) {
    lookupFailed = true;
    log.error('tenant membership lookup failed', { userId, triggerSource: event.triggerSource, error: String(error) });
  }
  if (isTokenGeneration(event)) setTokenClaims(event, membership);
  recordAuthEvent(event, context, userId, membership, lookupFailed);
  return event;
}

export const handler = withAfterResponse(handle);
