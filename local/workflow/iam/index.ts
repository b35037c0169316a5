/** A local evaluator of the IAM policy language the synthesized template uses (issue 18). */
export type { ContextValue, RequestContext } from './conditions.js';
export { type Authorization, authorize, type Decision, type PoliciesInForce } from './evaluate.js';
export { type DeployedResource, type IntrinsicResolver, resolveIntrinsics } from './intrinsics.js';
export type {
  AuthorizationRequest,
  CallingPrincipal,
  MatchedStatement,
  NamedPolicy,
  PolicyDocument,
  Statement,
} from './statements.js';
