import { conditionHolds, type RequestContext } from './conditions.js';
import { wildcardMatch } from './wildcard.js';

/** One statement of a policy whose intrinsics are already resolved (`resolveIntrinsics`). */
export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: PrincipalElement;
  NotPrincipal?: PrincipalElement;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

export type PrincipalElement = '*' | { AWS?: string | string[]; Service?: string | string[] };

export interface PolicyDocument {
  Version?: string;
  Statement: Statement | Statement[];
}

/** A policy and where it comes from (logged with each decision). */
export interface NamedPolicy {
  source: string;
  document: PolicyDocument;
}

export interface CallingPrincipal {
  /** The role ARN, or for a service principal its name (`events.amazonaws.com`). */
  arn: string;
  account?: string;
  isAWSService?: boolean;
}

export interface AuthorizationRequest {
  principal: CallingPrincipal;
  action: string;
  resource: string;
  /** The account that owns the resource (S3 ARNs carry none). */
  resourceAccount: string;
  context?: RequestContext;
}

/**
 * How a resource policy's Principal names the caller: the caller itself (or `*`), or only its
 * account (`123456789012` / `arn:…:iam::123456789012:root`), which delegates to the account's
 * own IAM policies rather than granting the role anything by itself.
 */
export type PrincipalMatch = 'caller' | 'account' | undefined;

const list = (value: string | string[] | undefined) => (value === undefined ? [] : [value].flat());

function awsPrincipalMatch(entry: string, principal: CallingPrincipal): PrincipalMatch {
  if (entry === '*') return 'caller';
  if (principal.isAWSService) return undefined;
  if (entry === principal.arn) return 'caller';
  const account = /^(?:arn:[^:]+:iam::(\d{12}):root|(\d{12}))$/.exec(entry);
  return account && (account[1] ?? account[2]) === principal.account ? 'account' : undefined;
}

function principalMatch(element: PrincipalElement, principal: CallingPrincipal): PrincipalMatch {
  if (element === '*') return 'caller';
  if (list(element.Service).some((s) => principal.isAWSService && s === principal.arn)) return 'caller';
  const matches = list(element.AWS).map((e) => awsPrincipalMatch(e, principal));
  return matches.includes('caller') ? 'caller' : matches.includes('account') ? 'account' : undefined;
}

/** Principal/NotPrincipal of a resource-policy statement; identity policies carry neither. */
function statementPrincipal(statement: Statement, principal: CallingPrincipal): PrincipalMatch {
  if (statement.Principal) return principalMatch(statement.Principal, principal);
  if (statement.NotPrincipal) return principalMatch(statement.NotPrincipal, principal) ? undefined : 'caller';
  return undefined;
}

const actionMatches = (patterns: string[], action: string) =>
  patterns.some((p) => wildcardMatch(p, action, true));
const resourceMatches = (patterns: string[], resource: string) =>
  patterns.some((p) => wildcardMatch(p, resource));

/** Action/NotAction, Resource/NotResource and Condition, without the Principal. */
function appliesTo(statement: Statement, request: AuthorizationRequest): boolean {
  const action = statement.NotAction
    ? !actionMatches(list(statement.NotAction), request.action)
    : actionMatches(list(statement.Action), request.action);
  const resource = statement.NotResource
    ? !resourceMatches(list(statement.NotResource), request.resource)
    : resourceMatches(list(statement.Resource), request.resource);
  return action && resource && conditionHolds(statement.Condition, request.context ?? {});
}

export interface MatchedStatement {
  source: string;
  sid?: string;
  effect: 'Allow' | 'Deny';
  principal: PrincipalMatch;
}

/** The statements of some policies that apply to the request; `withPrincipal` for resource policies. */
export function matchingStatements(
  policies: NamedPolicy[],
  request: AuthorizationRequest,
  withPrincipal: boolean,
): MatchedStatement[] {
  return policies.flatMap((policy) =>
    [policy.document.Statement].flat().flatMap((statement) => {
      const principal = withPrincipal ? statementPrincipal(statement, request.principal) : 'caller';
      if (!principal || !appliesTo(statement, request)) return [];
      const sid = statement.Sid === undefined ? {} : { sid: statement.Sid };
      return [{ source: policy.source, effect: statement.Effect, principal, ...sid }];
    }),
  );
}
