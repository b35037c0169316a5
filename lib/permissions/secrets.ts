import { ArnFormat, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { RelayConfig } from '../../functions/core/config.js';
import type { RelayFunctions } from '../functions.js';
import { statement, viaService } from './statements.js';

/**
 * The MASV API key (or portal access code) and the package passwords, each read by the steps that
 * use it, and the key that encrypts them only through Secrets Manager.
 */
export function grantSecretReads(relay: Construct, config: RelayConfig, functions: RelayFunctions) {
  const { prepare, transfer, finalize, abort } = functions;
  const stack = Stack.of(relay);
  const secretNames = new Set<string>();
  if (config.masv.target.kind === 'team') secretNames.add(config.masv.target.apiKeySecretName);
  else if (config.masv.target.accessCodeSecretName) secretNames.add(config.masv.target.accessCodeSecretName);
  const passwordSecrets = [config.package, ...config.prefixRules.map((r) => r.package)]
    .map((p) => p.passwordSecretName)
    .filter((name): name is string => Boolean(name));
  // The API key: Prepare creates packages; Transfer and Finalize refresh expired package tokens.
  // Abort reads the API key too: it refreshes an expired package token before deleting, and
  // reads the package's state so a finalized package is never deleted.
  const apiKeyReaders = config.masv.target.kind === 'team' ? [prepare, transfer, finalize, abort] : [prepare];
  // GetSecretValue only: the functions read secrets with Powertools' getSecret (functions/runtime.ts),
  // which calls nothing else (CDK's grantRead would add DescribeSecret).
  const readSecret = (resources: string[]) => statement(['secretsmanager:GetSecretValue'], resources);
  for (const ref of secretNames) {
    for (const f of apiKeyReaders) f.addToRolePolicy(readSecret(secretResources(stack, ref)));
  }
  for (const ref of new Set(passwordSecrets))
    prepare.addToRolePolicy(readSecret(secretResources(stack, ref)));
  const secretsKey = config.access.secretsKmsKeyArn;
  if (secretsKey) {
    // Secrets encrypted with a customer-managed key: decrypt only through Secrets Manager.
    for (const f of new Set([...apiKeyReaders, prepare])) {
      f.addToRolePolicy(statement(['kms:Decrypt'], [secretsKey], viaService(stack, 'secretsmanager')));
    }
  }
}

/**
 * The IAM resources of a secret given by name, by complete ARN (ending in `-` and six characters,
 * as the console shows it) or by partial ARN, each as Secrets Manager will match it at run time:
 * a name or partial ARN with the `-??????` suffix its ARN gets. An ARN whose name merely ends like
 * a suffix ("team-secret") cannot be told from a complete one, so it is granted both ways.
 */
function secretResources(stack: Stack, ref: string): string[] {
  const arn = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:(.+)$/.exec(ref);
  if (!arn) {
    return [
      stack.formatArn({
        service: 'secretsmanager',
        resource: 'secret',
        resourceName: `${ref}-??????`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    ];
  }
  return /-[A-Za-z0-9]{6}$/.test(arn[1]!) ? [ref, `${ref}-??????`] : [`${ref}-??????`];
}
