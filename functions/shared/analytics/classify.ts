/**
 * Classification, in one place: every analytics event gets one of the spec's four
 * categories. A failure's errorType is mapped in ../http/errors.ts (`errorTypeOf` of
 * `toApiError`, as the HTTP wrapper does).
 */
import type { EventCategory } from './event.ts';

export { EVENT_CATEGORIES, type EventCategory } from './event.ts';
export type { ErrorType } from '../http/errors.ts';

/**
 * A request's category: the route declares it (QUERY for reads, USER_ACTION for changes,
 * SYSTEM_EVENT for health and background work), except that a request refused for its
 * credentials (401/403) is an AUTHENTICATION event whatever the route.
 */
export function requestCategory(declared: EventCategory | undefined, failureStatus?: number): EventCategory {
  if (failureStatus === 401 || failureStatus === 403) return 'AUTHENTICATION';
  return declared ?? 'SYSTEM_EVENT';
}

/** Event types whose name says they are about sign-in, sign-up, passwords or sessions. */
const AUTH_TYPE = /^(LOGIN|LOGOUT|SIGN_?IN|SIGN_?UP|SIGN_?OUT|PASSWORD_|SESSION_|TOKEN_|MFA_)/;

/** A front-end event's category: USER_ACTION, or AUTHENTICATION for sign-in/sign-up/password/session events. */
export function frontEndCategory(type: string): EventCategory {
  return AUTH_TYPE.test(type) ? 'AUTHENTICATION' : 'USER_ACTION';
}
