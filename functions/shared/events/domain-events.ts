/**
 * Domain events on the application bus. Published after DynamoDB confirmed the change and
 * delivered after the response; the app-events function consumes them through its queue.
 */
import { config } from '../config.ts';
import { EventPublisher } from './publisher.ts';

export const ITEM_EVENTS_SOURCE = 'event-flows.items';
export const IMPORT_EVENTS_SOURCE = 'event-flows.imports';

export type ItemEventType = 'ItemCreated' | 'ItemUpdated' | 'ItemDeleted';

export interface ItemChangedDetail {
  tenant: string;
  collection: string;
  id: string;
  version: number;
  /** When DynamoDB confirmed the change. */
  at: string;
  actor?: string;
}

let publisher: EventPublisher | undefined;

export function appEventPublisher(): EventPublisher {
  return (publisher ??= new EventPublisher({ busName: config.appBus, fallbackQueueUrl: config.appFallbackQueueUrl }));
}

export function publishItemEvent(type: ItemEventType, detail: ItemChangedDetail): void {
  appEventPublisher().publish({ source: ITEM_EVENTS_SOURCE, detailType: type, detail });
}
