import type { RelayDeps } from '../core/deps.js';

/**
 * Whether the delivery already has its outcome in the state bucket: the aborted mark the
 * workflow's own Abort writes, or the delivered mark of a success. The sweep then has nothing to
 * learn from the execution (Abort returns on either mark), so a routine failure needs no
 * DescribeExecution, and cannot end in the dead-letter queue for want of one.
 */
export async function hasOutcome(deps: Pick<RelayDeps, 'stateBucket'>, deliveryId: string): Promise<boolean> {
  if ((await deps.stateBucket.aborted(deliveryId)) !== undefined) return true;
  return (await deps.stateBucket.delivered(deliveryId)) !== undefined;
}
