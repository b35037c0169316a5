/**
 * Resolves the CloudFormation intrinsics a synthesized template puts in function environments
 * (`Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, pseudo parameters) to the stand-ins' names, so a
 * bundle runs with exactly the values the template gives it. Anything the stand-ins do not name
 * fails loudly: that is a variable a handler would get on AWS but could not be given here.
 */

/** What a stand-in answers for one template resource: its `Ref` value and its attributes. */
export interface StandIn {
  /** The value `Ref` returns (bucket name, queue URL, state machine ARN, …). */
  ref: string;
  /** `Fn::GetAtt` attributes by name as CloudFormation spells them (`Arn`, `QueueName`, …). */
  [attribute: string]: string;
}

export type StandInNames = Record<string, StandIn>;

/** The pseudo parameters' local values. */
export interface PseudoParameters {
  accountId: string;
  region: string;
  partition: string;
  stackName: string;
}

export const LOCAL_PSEUDO: PseudoParameters = {
  accountId: '000000000000',
  region: 'us-east-1',
  partition: 'aws',
  stackName: 'MasvRelay',
};

export class UnresolvableReferenceError extends Error {
  override name = 'UnresolvableReferenceError';
}

interface Scope {
  names: StandInNames;
  pseudo: PseudoParameters;
  /** Where the value sits, for the error message (e.g. `environment variable STATE_BUCKET`). */
  where: string;
}

function pseudoValue(name: string, pseudo: PseudoParameters): string | undefined {
  const values: Record<string, string> = {
    'AWS::AccountId': pseudo.accountId,
    'AWS::Region': pseudo.region,
    'AWS::Partition': pseudo.partition,
    'AWS::StackName': pseudo.stackName,
    'AWS::URLSuffix': pseudo.partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com',
    'AWS::StackId': `arn:${pseudo.partition}:cloudformation:${pseudo.region}:${pseudo.accountId}:stack/${pseudo.stackName}/local`,
  };
  return values[name];
}

function ref(logicalId: string, scope: Scope): string {
  const value = pseudoValue(logicalId, scope.pseudo) ?? scope.names[logicalId]?.ref;
  if (value === undefined)
    throw new UnresolvableReferenceError(
      `${scope.where} refers to ${logicalId} (Ref), which no stand-in provides`,
    );
  return value;
}

function getAtt(logicalId: string, attribute: string, scope: Scope): string {
  const value = scope.names[logicalId]?.[attribute];
  if (value === undefined)
    throw new UnresolvableReferenceError(
      `${scope.where} refers to ${logicalId}.${attribute} (Fn::GetAtt), which no stand-in provides`,
    );
  return value;
}

function sub(template: string, variables: Record<string, unknown>, scope: Scope): string {
  // `${!Literal}` writes `${Literal}`; `${Name}` is a variable, a Ref, or `${Id.Attr}` a GetAtt.
  return template.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
    if (name.startsWith('!')) return `\${${name.slice(1)}}`;
    if (name in variables) return resolveValue(variables[name], scope);
    const dot = name.indexOf('.');
    return dot > 0 && !name.startsWith('AWS::')
      ? getAtt(name.slice(0, dot), name.slice(dot + 1), scope)
      : ref(name, scope);
  });
}

// biome-ignore lint/suspicious/noExplicitAny: an intrinsic's argument is whatever the template holds; each case checks its shape
function resolveIntrinsic(key: string, argument: any, scope: Scope): string {
  switch (key) {
    case 'Ref':
      return ref(argument, scope);
    case 'Fn::GetAtt': {
      const [logicalId, attribute] = Array.isArray(argument) ? argument : String(argument).split('.');
      return getAtt(logicalId, attribute, scope);
    }
    case 'Fn::Join': {
      const [separator, parts] = argument as [string, unknown[]];
      return parts.map((part) => resolveValue(part, scope)).join(separator);
    }
    case 'Fn::Sub':
      return Array.isArray(argument) ? sub(argument[0], argument[1] ?? {}, scope) : sub(argument, {}, scope);
    default:
      throw new UnresolvableReferenceError(
        `${scope.where} uses ${key}, which the local reader does not resolve`,
      );
  }
}

/** One template value (a string, a number or an intrinsic) as the string CloudFormation makes of it. */
export function resolveValue(value: unknown, scope: Scope): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const [key, ...others] = Object.keys(value);
    if (key !== undefined && others.length === 0)
      return resolveIntrinsic(key, (value as Record<string, unknown>)[key], scope);
  }
  throw new UnresolvableReferenceError(
    `${scope.where} holds ${JSON.stringify(value)}, not a string or an intrinsic`,
  );
}

/**
 * A function's environment as Lambda would hand it over, with every reference resolved to the
 * stand-ins' names. Throws {@link UnresolvableReferenceError} naming the variable and the logical id.
 */
export function resolveEnvironment(
  env: Record<string, unknown>,
  names: StandInNames,
  pseudo: PseudoParameters = LOCAL_PSEUDO,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).map(([variable, value]) => [
      variable,
      resolveValue(value, { names, pseudo, where: `environment variable ${variable}` }),
    ]),
  );
}
