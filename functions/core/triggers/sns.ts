import { DeliveryRequestError } from '../errors.js';
import type { TriggerContext } from './context.js';

/** The SNS envelope: the `Sns` field of a Lambda record, or an SQS body without raw delivery. */
interface SnsEnvelope {
  Type?: unknown;
  MessageId?: unknown;
  TopicArn?: unknown;
  Message?: unknown;
}

/** An SQS body (or direct payload) that is an SNS envelope rather than the message itself. */
export function isSnsEnvelope(event: Record<string, unknown>): boolean {
  return typeof event.Type === 'string' && typeof event.TopicArn === 'string' && 'Message' in event;
}

/** A record of an SNS → Lambda invocation (`EventSource` is capitalised there, unlike S3's). */
export function isSnsRecord(record: unknown): record is { Sns?: unknown } {
  return (record as { EventSource?: unknown } | null)?.EventSource === 'aws:sns';
}

/**
 * The JSON message inside an SNS envelope, from a topic the configuration names. Anything else
 * (subscription handshakes, unknown topics, non-JSON messages) is a specific error, so the message
 * reaches the DLQ with the reason instead of disappearing.
 */
export function snsMessagePayload(envelope: unknown, context?: TriggerContext): Record<string, unknown> {
  if (!envelope || typeof envelope !== 'object') {
    throw new DeliveryRequestError(
      'The SNS record has no "Sns" envelope object; expected {"EventSource":"aws:sns","Sns":{"Type":"Notification","TopicArn":…,"Message":…}}.',
    );
  }
  const { Type, MessageId, TopicArn, Message } = envelope as SnsEnvelope;
  const topic = typeof TopicArn === 'string' ? TopicArn : '(no TopicArn)';
  const id = typeof MessageId === 'string' ? ` (MessageId ${MessageId})` : '';
  if (Type === 'SubscriptionConfirmation') {
    throw new DeliveryRequestError(
      `SNS topic ${topic} asks to confirm a subscription${id}: nothing to deliver. Confirm it with \`aws sns confirm-subscription --topic-arn ${topic} --token <Token from this message>\`, or subscribe the queue from the topic's account.`,
    );
  }
  if (Type !== 'Notification') {
    throw new DeliveryRequestError(
      `SNS message${id} from ${topic} has Type ${JSON.stringify(Type)}; only "Notification" messages carry S3 events.`,
    );
  }
  const allowed = context ? (context.snsTopicArns ?? context.config.triggers.snsTopicArns) : undefined;
  if (allowed && !allowed.includes(topic)) {
    throw new DeliveryRequestError(
      `SNS topic ${topic} is not one of this relay's topics (triggers.snsTopicArns: ${allowed.join(', ') || 'none'}); its message${id} was refused. Add the topic to triggers.snsTopicArns to accept it.`,
    );
  }
  if (typeof Message !== 'string') {
    throw new DeliveryRequestError(`SNS message${id} from ${topic} has no "Message" string.`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Message);
  } catch (error) {
    throw new DeliveryRequestError(
      `SNS message${id} from ${topic} is not JSON (${(error as Error).message}); the topic must carry S3 event notifications.`,
    );
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new DeliveryRequestError(
      `SNS message${id} from ${topic} is not a JSON object; the topic must carry S3 event notifications.`,
    );
  }
  return parsed as Record<string, unknown>;
}
