/**
 * Write shards: one logical partition (a tenant's day of analytics, a collection's items)
 * spread over several partition keys, because DynamoDB takes about 1,000 write units a
 * second per partition key (docs/SCALE.md). Shard 0 keeps the unsharded key, so data
 * written before sharding (or with one shard) is where it always was; shard s > 0 adds `#<s>`.
 */
import { createHash } from 'node:crypto';

/** A value's shard: stable, and spread evenly over `shards`. */
export function shardOf(value: string, shards: number): number {
  if (shards <= 1) return 0;
  return parseInt(createHash('sha256').update(value).digest('hex').slice(0, 8), 16) % shards;
}

/** The partition key of `shard` of the logical partition `base`. */
export const withShard = (base: string, shard: number): string => (shard === 0 ? base : `${base}#${shard}`);
