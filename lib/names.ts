import { ArnFormat, Names, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { RelayConfig } from '../functions/core/config.js';
import { refuseElsewhere } from './placement.js';

/**
 * The names of the request bus, the relay's three rules and its workflow, fixed before any of them exists: the
 * key and queue policies name the rules' ARNs without a dependency cycle (rule → queue → key).
 */
export interface RelayNames {
  /** The request bus: created under this name, or the one `access.eventBusName` names. */
  readonly busName: string;
  /** `access.eventBusName` when given as an ARN: the request rule names the bus by it. */
  readonly busArn?: string;
  /** Object Created events of the source bucket → the trigger queue. */
  readonly objectRuleName: string;
  readonly objectRuleArn: string;
  /** Relay requests on the request bus → the request queue. */
  readonly requestRuleName: string;
  readonly requestRuleArn: string;
  /** Executions that ended outside their Catch → Abort. */
  readonly sweepRuleName: string;
  readonly sweepRuleArn: string;
  /** The workflow (≤ 80 characters): its key grant names its ARN (see workflow.ts). */
  readonly stateMachineName: string;
}

export function relayNames(relay: Construct, config: RelayConfig): RelayNames {
  const stack = Stack.of(relay);
  const baseName = Names.uniqueResourceName(relay, { maxLength: 40, separator: '-' });
  const configured = config.access.eventBusName;
  // A bus ARN names its account and Region: the rule goes on that bus (never on a local one that
  // merely shares its name), and a bus elsewhere is refused (rules and their queue targets must
  // share a Region, and the relay's alarms and policies assume its own account).
  const busArn = configured?.startsWith('arn:') ? configured : undefined;
  if (busArn) {
    refuseElsewhere(
      stack,
      'access.eventBusName',
      busArn,
      "name a bus in the account and Region the relay deploys to (or remove access.eventBusName: the stack creates its own bus); to take requests from another account's bus, forward them with a rule there to this relay's bus.",
    );
  }
  const busName = configured ? (configured.split('/').pop() as string) : `${baseName}-requests`;
  const busPlace = busArn ? stack.splitArn(busArn, ArnFormat.SLASH_RESOURCE_NAME) : undefined;
  const ruleArn = (name: string, bus?: string) =>
    stack.formatArn({
      service: 'events',
      resource: 'rule',
      resourceName: bus ? `${bus}/${name}` : name,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      ...(bus && busPlace ? { account: busPlace.account, region: busPlace.region } : {}),
    });
  const objectRuleName = `${baseName}-objects`;
  const requestRuleName = `${baseName}-requests`;
  const sweepRuleName = `${baseName}-ended`;
  return {
    busName,
    ...(busArn ? { busArn } : {}),
    objectRuleName,
    objectRuleArn: ruleArn(objectRuleName),
    requestRuleName,
    requestRuleArn: ruleArn(requestRuleName, busName),
    sweepRuleName,
    sweepRuleArn: ruleArn(sweepRuleName),
    stateMachineName: `${baseName}-workflow`,
  };
}
