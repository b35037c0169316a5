import type { RequestContext } from './conditions.js';
import {
  type AuthorizationRequest,
  type MatchedStatement,
  matchingStatements,
  type NamedPolicy,
} from './statements.js';

/**
 * Decides one request as AWS's "Policy evaluation logic" does for a role (or a service principal)
 * calling into a resource:
 * - an explicit Deny in any policy wins;
 * - same account: the identity policies (within the permissions boundary, when one is set) or the
 *   resource policy may allow on their own;
 * - cross account: the identity policies and the resource policy must both allow;
 * - KMS: "Without permission from the key policy, IAM policies that allow permissions have no
 *   effect" (KMS "Key policies") — the key policy must allow, directly or by naming the account's
 *   root, which hands the decision to the account's IAM policies.
 * Not modelled: SCPs, RCPs, session policies, VPC endpoint policies, grants, ACLs.
 */

export interface PoliciesInForce {
  /** The principal's identity-based policies (none for a service principal). */
  identity?: NamedPolicy[];
  boundary?: NamedPolicy;
  /** The bucket, queue, bus or topic policy. */
  resource?: NamedPolicy;
  /** For a KMS request: the key's policy, which takes the resource policy's place and is required. */
  keyPolicy?: NamedPolicy;
}

export type Decision = 'Allow' | 'ExplicitDeny' | 'ImplicitDeny';

export interface Authorization {
  decision: Decision;
  /** The statements that decided it: the denies for ExplicitDeny, else the allows that applied. */
  matched: MatchedStatement[];
}

/** The global keys AWS puts on every request for the principal that signed it. */
function withPrincipalKeys(request: AuthorizationRequest): AuthorizationRequest {
  const { principal } = request;
  const keys: RequestContext = { 'aws:PrincipalIsAWSService': principal.isAWSService === true };
  if (!principal.isAWSService) {
    keys['aws:PrincipalArn'] = principal.arn;
    if (principal.account) keys['aws:PrincipalAccount'] = principal.account;
  }
  return { ...request, context: { ...keys, ...request.context } };
}

const allows = (matched: MatchedStatement[]) => matched.filter((m) => m.effect === 'Allow');

export function authorize(rawRequest: AuthorizationRequest, policies: PoliciesInForce): Authorization {
  if (policies.resource && policies.keyPolicy) throw new Error('A request has one resource: bucket or key.');
  const request = withPrincipalKeys(rawRequest);
  const service = request.principal.isAWSService === true;
  const identity = service ? [] : matchingStatements(policies.identity ?? [], request, false);
  const boundary = policies.boundary ? matchingStatements([policies.boundary], request, false) : undefined;
  const resourcePolicy = policies.keyPolicy ?? policies.resource;
  const resource = resourcePolicy ? matchingStatements([resourcePolicy], request, true) : [];
  const denies = [...identity, ...(boundary ?? []), ...resource].filter((m) => m.effect === 'Deny');
  if (denies.length > 0) return { decision: 'ExplicitDeny', matched: denies };

  // A boundary limits grants to the role, whether from its own policies or a resource policy
  // naming the role ARN ("Permissions boundaries for IAM entities": evaluating effective permissions).
  const withinBoundary = !boundary || allows(boundary).length > 0;
  const identityAllows = withinBoundary ? allows(identity) : [];
  const toCaller = withinBoundary ? allows(resource).filter((m) => m.principal === 'caller') : [];
  const toAccount = allows(resource).filter((m) => m.principal === 'account');
  const sameAccount = !service && request.principal.account === request.resourceAccount;

  const granted = grants(
    { sameAccount, kms: policies.keyPolicy !== undefined, service },
    {
      identityAllows,
      toCaller,
      toAccount,
    },
  );
  return granted.length > 0
    ? { decision: 'Allow', matched: granted }
    : { decision: 'ImplicitDeny', matched: [] };
}

interface Grants {
  identityAllows: MatchedStatement[];
  toCaller: MatchedStatement[];
  toAccount: MatchedStatement[];
}

/** The allows that together grant the request, or none. */
function grants(
  shape: { sameAccount: boolean; kms: boolean; service: boolean },
  { identityAllows, toCaller, toAccount }: Grants,
): MatchedStatement[] {
  if (shape.service) return toCaller;
  const delegated =
    toAccount.length > 0 && identityAllows.length > 0 ? [...toAccount, ...identityAllows] : [];
  if (!shape.sameAccount) {
    const resourceAllows = [...toCaller, ...toAccount];
    return resourceAllows.length > 0 && identityAllows.length > 0
      ? [...resourceAllows, ...identityAllows]
      : [];
  }
  if (shape.kms) return toCaller.length > 0 ? toCaller : delegated;
  // Same account, not KMS: the account's IAM policies apply whether or not the resource policy names the account.
  return [...toCaller, ...identityAllows];
}
