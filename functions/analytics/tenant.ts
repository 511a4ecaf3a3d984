/**
 * Whose analytics an event is. The tenant in an event's properties is trusted only when the
 * event comes from our own account and one of our own sources (`event-flows.*`): the
 * analytics bus can admit other accounts or an organisation (terraform/modules/event-bus),
 * and they can write any content. Their events are kept under a namespace of their own,
 * `_account-<id>`, which no caller can read as a tenant (tenant names start with a letter or
 * a digit; shared/http/caller.ts).
 */
import { tenantOf } from '../shared/analytics/keys.ts';

/** Our functions' sources all start with this; the analytics rule's pattern admits only these from our own account. */
export const TRUSTED_SOURCE_PREFIX = 'event-flows.';
/** Events without a valid account (they cannot pass the rule, but the queue accepts anything its policy allows). */
export const UNKNOWN_ORIGIN_TENANT = '_account-unknown';

/** `arn:aws:sqs:<region>:<account>:<name>` → the account that owns the queue, i.e. ours. */
export function accountOfQueueArn(arn: string): string | undefined {
  const account = arn.split(':')[4];
  return account && /^\d{12}$/.test(account) ? account : undefined;
}

export function trustedTenant(envelope: { account?: unknown; source: string }, properties: Record<string, unknown>, ownAccount: string | undefined): string {
  const account = typeof envelope.account === 'string' && /^\d{12}$/.test(envelope.account) ? envelope.account : undefined;
  if (!account) return UNKNOWN_ORIGIN_TENANT;
  if (account !== ownAccount) return `_account-${account}`;
  return envelope.source.startsWith(TRUSTED_SOURCE_PREFIX) ? tenantOf(properties) : UNKNOWN_ORIGIN_TENANT;
}
