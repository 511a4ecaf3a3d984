/**
 * Errors a handler throws to answer with a 4xx/5xx. The body is always
 * `{"error": {"code", "message", "details?"}}`; `code` is stable and machine-readable.
 */
import { isItemTooLarge, isThrottling, isUnavailable, isValidationError } from '../aws-errors.ts';

export type ErrorCode =
  | 'BAD_REQUEST'
  | 'INVALID_JSON'
  | 'VALIDATION_FAILED'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PRECONDITION_FAILED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'SERVICE_UNAVAILABLE'
  | 'INTERNAL_ERROR';

export interface ErrorDetail {
  /** Where the problem is: `body.name`, `query.limit`, `path.id`, `header.if-match`. */
  field?: string;
  issue: string;
  /** A value the client needs verbatim to act on the issue (e.g. the chunkId to send again). */
  value?: string;
}

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string, details?: ErrorDetail[]) => new ApiError(400, 'BAD_REQUEST', message, details);
export const validationFailed = (details: ErrorDetail[]) =>
  new ApiError(400, 'VALIDATION_FAILED', details.map((d) => (d.field ? `${d.field}: ${d.issue}` : d.issue)).join('; '), details);
export const forbidden = (message: string) => new ApiError(403, 'FORBIDDEN', message);
export const notFound = (message = 'not found') => new ApiError(404, 'NOT_FOUND', message);
export const preconditionFailed = (message: string) => new ApiError(412, 'PRECONDITION_FAILED', message);
export const payloadTooLarge = (message: string) => new ApiError(413, 'PAYLOAD_TOO_LARGE', message);
export const conflict = (message: string) => new ApiError(409, 'CONFLICT', message);
export const serviceUnavailable = (message: string) => new ApiError(503, 'SERVICE_UNAVAILABLE', message);

/** The analytics errorType for a failure: the spec asks for a classification, not a message. */
export type ErrorType =
  | 'VALIDATION_ERROR'
  | 'AUTHENTICATION_ERROR'
  | 'AUTHORIZATION_ERROR'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'DEPENDENCY_UNAVAILABLE'
  | 'INTERNAL_ERROR';

export function errorTypeOf(error: ApiError): ErrorType {
  switch (error.code) {
    case 'BAD_REQUEST':
    case 'INVALID_JSON':
    case 'VALIDATION_FAILED':
    case 'UNSUPPORTED_MEDIA_TYPE':
      return 'VALIDATION_ERROR';
    case 'UNAUTHORIZED':
      return 'AUTHENTICATION_ERROR';
    case 'FORBIDDEN':
      return 'AUTHORIZATION_ERROR';
    case 'NOT_FOUND':
      return 'NOT_FOUND';
    case 'CONFLICT':
    case 'PRECONDITION_FAILED':
      return 'CONFLICT';
    case 'PAYLOAD_TOO_LARGE':
      return 'PAYLOAD_TOO_LARGE';
    case 'SERVICE_UNAVAILABLE':
      return 'DEPENDENCY_UNAVAILABLE';
    case 'INTERNAL_ERROR':
      return 'INTERNAL_ERROR';
  }
}

/**
 * Maps an unexpected error to an API error: a data store that is down or throttling is a 503
 * the client may retry; a request DynamoDB refused as invalid is the request's fault (413
 * for an item over its size limit, 400 otherwise), never a 5xx; anything else is a 500
 * whose details stay in the log.
 */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (isItemTooLarge(error)) return payloadTooLarge('the item is larger than DynamoDB stores (400 KB as DynamoDB counts it)');
  if (isValidationError(error)) return badRequest('the data store refused the request as invalid');
  if (isThrottling(error)) return new ApiError(503, 'SERVICE_UNAVAILABLE', 'the data store is busy; retry shortly');
  if (isUnavailable(error)) return serviceUnavailable('the data store is unavailable; retry shortly');
  return new ApiError(500, 'INTERNAL_ERROR', 'internal error');
}
