/**
 * Resolves the CloudFormation intrinsics a synthesized policy holds (`Ref`, `Fn::GetAtt`,
 * `Fn::Join`, `Fn::Sub`, pseudo parameters) to plain strings, so the evaluator sees the policy
 * as IAM does after deployment. Anything else is refused rather than guessed.
 */

/** What a logical id stands for once deployed: its `Ref` value and its attributes. */
export interface DeployedResource {
  ref: string;
  attrs?: Record<string, string>;
}

export interface IntrinsicResolver {
  /** Logical id → its deployed names. */
  resources: Record<string, DeployedResource>;
  /** `AWS::Partition`, `AWS::AccountId`, `AWS::Region`, … → value. */
  pseudo: Record<string, string>;
}

function refOf(name: string, resolver: IntrinsicResolver): string {
  const value = name.startsWith('AWS::') ? resolver.pseudo[name] : resolver.resources[name]?.ref;
  if (value === undefined) throw new Error(`Cannot resolve Ref ${name}.`);
  return value;
}

function attrOf(id: string, attr: string, resolver: IntrinsicResolver): string {
  const value = resolver.resources[id]?.attrs?.[attr];
  if (value === undefined) throw new Error(`Cannot resolve Fn::GetAtt ${id}.${attr}.`);
  return value;
}

const asString = (value: unknown, what: string): string => {
  if (typeof value !== 'string') throw new Error(`${what} did not resolve to a string.`);
  return value;
};

/** `${Name}`, `${Id.Attr}` and `${!Literal}` as Fn::Sub writes them. */
function substitute(template: string, vars: Record<string, string>, resolver: IntrinsicResolver): string {
  return template.replace(/\$\{(!?)([^}]+)\}/g, (_, literal: string, name: string) => {
    if (literal) return `\${${name}}`;
    if (name in vars) return vars[name]!;
    const dot = name.indexOf('.');
    if (dot > 0 && !name.startsWith('AWS::'))
      return attrOf(name.slice(0, dot), name.slice(dot + 1), resolver);
    return refOf(name, resolver);
  });
}

function resolveSub(arg: unknown, resolver: IntrinsicResolver): string {
  if (typeof arg === 'string') return substitute(arg, {}, resolver);
  const [template, rawVars] = arg as [string, Record<string, unknown>];
  const vars = Object.fromEntries(
    Object.entries(rawVars ?? {}).map(([k, v]) => [
      k,
      asString(resolveIntrinsics(v, resolver), `Fn::Sub ${k}`),
    ]),
  );
  return substitute(template, vars, resolver);
}

function resolveFunction(name: string, arg: unknown, resolver: IntrinsicResolver): unknown {
  switch (name) {
    case 'Ref':
      return refOf(asString(arg, 'Ref'), resolver);
    case 'Fn::GetAtt': {
      const [id, attr] = typeof arg === 'string' ? arg.split(/\.(.*)/s) : (arg as string[]);
      return attrOf(id!, attr!, resolver);
    }
    case 'Fn::Join': {
      const [separator, parts] = arg as [string, unknown[]];
      const resolved = resolveIntrinsics(parts, resolver) as unknown[];
      return resolved.map((p) => asString(p, 'A Fn::Join part')).join(separator);
    }
    case 'Fn::Sub':
      return resolveSub(arg, resolver);
    default:
      throw new Error(`Intrinsic ${name} is not supported by the local IAM evaluator.`);
  }
}

const isIntrinsic = (entries: Array<[string, unknown]>) =>
  entries.length === 1 && (entries[0]![0] === 'Ref' || entries[0]![0].startsWith('Fn::'));

/** A copy of `value` with every intrinsic replaced by its deployed value. */
export function resolveIntrinsics(value: unknown, resolver: IntrinsicResolver): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, resolver));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  if (isIntrinsic(entries)) return resolveFunction(entries[0]![0], entries[0]![1], resolver);
  return Object.fromEntries(entries.map(([k, v]) => [k, resolveIntrinsics(v, resolver)]));
}
