import { describe, expect, it } from 'vitest';
import {
  EVENTS_OUTSIDE_MAP,
  EVENTS_PER_BATCH,
  EVENTS_PER_INVOCATION,
} from '../../functions/core/delivery/part-plan.js';
import { renderDefinition } from '../../statemachines/definition.js';

/**
 * The planner's history-event counts, recounted from the definition itself (happy path: no retry,
 * no restore wait), so a state added to the workflow cannot slip past the planner's budget.
 */
type State = {
  Type: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: Array<{ Next: string }>;
  ItemProcessor?: { StartAt: string; States: Record<string, State> };
};
const definition = JSON.parse(renderDefinition({ MapConcurrency: 10 })) as {
  StartAt: string;
  States: Record<string, State>;
};

/** Events Step Functions records for entering and leaving one state (a Task's Lambda included). */
function eventsOf(state: State): number {
  if (state.Type === 'Task') return 5;
  if (state.Type === 'Map') return 4;
  return 2; // Wait, Choice, Pass, Succeed, Fail: entered, exited
}

/** The states visited from `start` when every Choice takes its default and nothing fails. */
function happyPath(states: Record<string, State>, start: string): string[] {
  const path: string[] = [];
  let name: string | undefined = start;
  while (name && !path.includes(name)) {
    path.push(name);
    const state: State = states[name]!;
    name = state.Type === 'Choice' ? state.Default : state.End ? undefined : state.Next;
  }
  return path;
}

describe('the planner counts the history events the definition records', () => {
  it('outside the Map: the execution, and every state on the way from Prepare to Delivered', () => {
    const path = happyPath(definition.States, definition.StartAt);
    expect(path).toEqual(['Prepare', 'Sources Readable?', 'Transfer', 'Finalize', 'Delivered']);
    const events = 2 + path.reduce((sum, name) => sum + eventsOf(definition.States[name]!), 0);
    expect(events).toBe(EVENTS_OUTSIDE_MAP);
  });

  it('per batch and per transfer invocation: the loop that runs a batch until it is done', () => {
    const processor = definition.States.Transfer!.ItemProcessor!;
    const states = processor.States;
    // The loop: from the start through `Batch Finished?`, whose not-done choice goes back.
    const loop: string[] = [];
    let name = processor.StartAt;
    while (states[name]!.Type !== 'Choice') {
      loop.push(name);
      name = states[name]!.Next!;
    }
    loop.push(name);
    const choice = states[name]!;
    expect(choice.Choices!.map((c) => c.Next)).toContain(processor.StartAt);
    expect(loop.reduce((sum, n) => sum + eventsOf(states[n]!), 0)).toBe(EVENTS_PER_INVOCATION);
    const after = happyPath(states, choice.Default!);
    expect(2 + after.reduce((sum, n) => sum + eventsOf(states[n]!), 0)).toBe(EVENTS_PER_BATCH);
  });
});
