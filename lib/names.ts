import { ArnFormat, Names, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { RelayConfig } from '../functions/core/config.js';

/**
 * The names of the request bus and the relay's three rules, fixed before any of them exists: the
 * key and queue policies name the rules' ARNs without a dependency cycle (rule → queue → key).
 */
export interface RelayNames {
  /** The request bus: created under this name, or the one `access.eventBusName` names. */
  readonly busName: string;
  /** Object Created events of the source bucket → the trigger queue. */
  readonly objectRuleName: string;
  readonly objectRuleArn: string;
  /** Relay requests on the request bus → the request queue. */
  readonly requestRuleName: string;
  readonly requestRuleArn: string;
  /** Executions that ended outside their Catch → Abort. */
  readonly sweepRuleName: string;
  readonly sweepRuleArn: string;
}

export function relayNames(relay: Construct, config: RelayConfig): RelayNames {
  const stack = Stack.of(relay);
  const baseName = Names.uniqueResourceName(relay, { maxLength: 40, separator: '-' });
  const busName = config.access.eventBusName
    ? (config.access.eventBusName.split('/').pop() as string)
    : `${baseName}-requests`;
  const ruleArn = (name: string, bus?: string) =>
    stack.formatArn({
      service: 'events',
      resource: 'rule',
      resourceName: bus ? `${bus}/${name}` : name,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  const objectRuleName = `${baseName}-objects`;
  const requestRuleName = `${baseName}-requests`;
  const sweepRuleName = `${baseName}-ended`;
  return {
    busName,
    objectRuleName,
    objectRuleArn: ruleArn(objectRuleName),
    requestRuleName,
    requestRuleArn: ruleArn(requestRuleName, busName),
    sweepRuleName,
    sweepRuleArn: ruleArn(sweepRuleName),
  };
}
