import type { EventPublisher } from '../../functions/core/events.js';

/** Collects events in memory and hands each to a callback (the local runner prints them). */
export class LocalEventSink implements EventPublisher {
  readonly events: Array<{ detailType: string; detail: Record<string, unknown> }> = [];
  constructor(
    private readonly onEvent?: (event: { detailType: string; detail: Record<string, unknown> }) => void,
  ) {}

  async publish(detailType: string, detail: Record<string, unknown>) {
    const event = { detailType, detail };
    this.events.push(event);
    this.onEvent?.(event);
  }
}
