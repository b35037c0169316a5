/**
 * The state machine definition as Step Functions receives it from CloudFormation: the template's
 * `DefinitionString` with `DefinitionSubstitutions` applied, each Task checked to name a function
 * of the template — so a Task bound to the wrong or a missing function fails here, not on AWS.
 */

import { LOCAL_PSEUDO, resolveValue, type StandInNames } from './intrinsics.js';
import type { Deployment } from './read-deployment.js';

type State = {
  Type: string;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  [key: string]: unknown;
};
export type Definition = { States: Record<string, State>; [key: string]: unknown };

/** Every state of a definition, nested Map and Parallel states included, by name. */
export function allStates(definition: Definition): Array<[string, State]> {
  return Object.entries(definition.States).flatMap(([name, state]) => {
    const nested = [state.ItemProcessor, state.Iterator, ...((state.Branches as unknown[]) ?? [])].filter(
      (d): d is Definition => Boolean(d),
    );
    return [[name, state] as [string, State], ...nested.flatMap(allStates)];
  });
}

/** The ARN a Task invokes: its Resource, or `FunctionName` of the optimized `lambda:invoke` integration. */
function invokedArn(state: State): string | undefined {
  if (state.Resource?.startsWith('arn:aws:states:::lambda:invoke')) {
    const name = state.Parameters?.FunctionName;
    return typeof name === 'string' ? name : undefined;
  }
  return state.Resource;
}

/** Each Task state's function logical id. Throws if a Task names no function of the template. */
export function taskFunctions(
  definition: Definition,
  functionArns: Record<string, string>,
): Record<string, string> {
  const byArn = new Map(Object.entries(functionArns).map(([id, arn]) => [arn, id]));
  const tasks: Record<string, string> = {};
  for (const [name, state] of allStates(definition)) {
    if (state.Type !== 'Task') continue;
    const arn = invokedArn(state);
    const id = arn === undefined ? undefined : byArn.get(arn);
    if (!id)
      throw new Error(`Task "${name}" invokes ${arn ?? 'nothing'}, which is no function of the template`);
    tasks[name] = id;
  }
  return tasks;
}

/**
 * The template's definition with substitutions applied and parsed. `functionArns` maps each
 * function's logical id to the ARN the local runner gives it.
 */
export function renderDefinition(deployment: Deployment, functionArns: Record<string, string>): Definition {
  const machine = deployment.stateMachine;
  if (!machine) throw new Error(`${deployment.stackName} has no state machine`);
  const names: StandInNames = Object.fromEntries(
    Object.entries(functionArns).map(([id, arn]) => [id, { ref: arn, Arn: arn }]),
  );
  const scope = { names, pseudo: LOCAL_PSEUDO, where: `${machine.logicalId} DefinitionString` };
  const text = machine.definitionParts.map((part) => resolveValue(part, scope)).join('');
  // CloudFormation replaces `${name}` for each DefinitionSubstitutions key; here every one is a function ARN.
  const rendered = text.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
    const target = machine.substitutions[name];
    if (target === undefined) return whole;
    const arn = functionArns[target];
    if (!arn) throw new Error(`Substitution ${name} names ${target}, which is no function given an ARN`);
    return arn;
  });
  const definition = JSON.parse(rendered) as Definition;
  taskFunctions(definition, functionArns);
  return definition;
}
