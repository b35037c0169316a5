import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';

export const EVENT_SOURCE = 'masv-relay';
export const DELIVERY_SUCCEEDED = 'MASV Relay Delivery Succeeded';
export const DELIVERY_FAILED = 'MASV Relay Delivery Failed';

/** Where success and failure events go: EventBridge in AWS, a local sink on a laptop. */
export interface EventPublisher {
  publish(detailType: string, detail: Record<string, unknown>): Promise<void>;
}

export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly client: EventBridgeClient = new EventBridgeClient({}),
    private readonly busName = 'default',
  ) {}

  async publish(detailType: string, detail: Record<string, unknown>) {
    const result = await this.client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.busName,
            Source: EVENT_SOURCE,
            DetailType: detailType,
            Detail: JSON.stringify(detail),
          },
        ],
      }),
    );
    if (result.FailedEntryCount) {
      throw new Error(
        `EventBridge refused the ${detailType} event: ${result.Entries?.[0]?.ErrorMessage ?? 'unknown reason'}.`,
      );
    }
  }
}
