/**
 * Runs `task` over `items` with at most `concurrency` in flight. Stops starting new items once
 * `shouldStart` says no or a task failed; waits for the ones in flight, then rethrows the first
 * failure.
 */
export async function runPool<T>(
  items: T[],
  concurrency: number,
  task: (item: T) => Promise<void>,
  shouldStart: () => boolean = () => true,
): Promise<{ started: number }> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length && shouldStart()) {
      const item = items[next++]!;
      try {
        await task(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  if (failure) throw failure.error;
  return { started: next };
}
