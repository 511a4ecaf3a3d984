/**
 * Tenant membership, kept by us in the data table: which tenant a signed-in user belongs to.
 * The pre-token-generation trigger reads it to put `tenant` into the tokens, so the tenant
 * never comes from anything the user can write (docs/AUTH.md).
 *
 *   pk MEMBER#<user sub>   sk TENANT   tenant <name>
 */
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../aws-clients.ts';
import { config } from '../config.ts';
import { TENANT_PATTERN } from '../http/caller.ts';

export interface Membership {
  tenant: string;
}


export function membershipKey(userId: string) {
  return { pk: `MEMBER#${userId}`, sk: 'TENANT' };
}

/** The user's membership; undefined when there is none or it names no valid tenant. Throws when the table cannot be read. */
export async function tenantMembership(userId: string): Promise<Membership | undefined> {
  const { Item } = await dynamo().send(new GetCommand({ TableName: config.dataTable(), Key: membershipKey(userId), ConsistentRead: true }));
  const tenant = Item?.tenant;
  return typeof tenant === 'string' && TENANT_PATTERN.test(tenant) ? { tenant } : undefined;
}

/** Adds a user to a tenant (operators and tests; no route exposes it). */
export async function putMembership(userId: string, tenant: string): Promise<void> {
  if (!TENANT_PATTERN.test(tenant)) throw new Error(`invalid tenant name ${JSON.stringify(tenant)}`);
  await dynamo().send(new PutCommand({ TableName: config.dataTable(), Item: { ...membershipKey(userId), tenant } }));
}
