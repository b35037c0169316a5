import * as events from 'aws-cdk-lib/aws-events';
import type { Construct } from 'constructs';
import { EVENT_SOURCE } from '../../functions/core/events.js';
import type { RelayFunctions } from '../functions.js';
import { statement } from './statements.js';

/** Success and failure events on the default bus, only under the relay's own source (events.ts). */
export function grantEventPuts(relay: Construct, functions: RelayFunctions) {
  const defaultBus = events.EventBus.fromEventBusName(relay, 'DefaultBus', 'default');
  for (const f of [functions.finalize, functions.abort]) {
    f.addToRolePolicy(
      statement(['events:PutEvents'], [defaultBus.eventBusArn], {
        StringEquals: { 'events:source': EVENT_SOURCE },
      }),
    );
  }
}
