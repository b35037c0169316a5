import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The one workflow definition, used by `cdk deploy` and by the local runner. */
export const DEFINITION_PATH = fileURLToPath(new URL('./relay.asl.json', import.meta.url));

/** Placeholders filled with numbers (written as `"${Name}"` so the file stays valid JSON). */
export interface NumericSubstitutions {
  MapConcurrency: number;
}

/**
 * Lambda timeouts of the steps, in seconds: deployed by the stack, given to the handlers by the local
 * runner, and kept below each Task's `TimeoutSeconds` in the definition.
 */
export const LAMBDA_TIMEOUT_SECONDS = {
  start: 30,
  prepare: 300,
  transfer: 900,
  finalize: 300,
  abort: 120,
} as const;

export const ARN_PLACEHOLDERS = [
  'PrepareFunctionArn',
  'TransferFunctionArn',
  'FinalizeFunctionArn',
  'AbortFunctionArn',
] as const;
export type ArnPlaceholder = (typeof ARN_PLACEHOLDERS)[number];

/**
 * The definition text with numeric placeholders filled; ARN placeholders are left for CloudFormation's
 * `DefinitionSubstitutions` (or filled by `substituteArns` locally).
 */
export function renderDefinition(
  numbers: NumericSubstitutions,
  text = readFileSync(DEFINITION_PATH, 'utf8'),
): string {
  let out = text;
  for (const [name, value] of Object.entries(numbers)) {
    if (!Number.isInteger(value))
      throw new Error(`Substitution ${name} must be a whole number; got ${value}.`);
    out = out.replaceAll(`"\${${name}}"`, String(value));
  }
  return out;
}

export function substituteArns(text: string, arns: Record<ArnPlaceholder, string>): string {
  let out = text;
  for (const name of ARN_PLACEHOLDERS) out = out.replaceAll(`\${${name}}`, arns[name]);
  const left = /\$\{(\w+)\}/.exec(out);
  if (left) throw new Error(`The definition still has the placeholder \${${left[1]}}.`);
  return out;
}
