// Acting on many runs at once (delete, restore): one call per run, a few at a time, with
// every failure kept, and the one-line summary shown after.

export interface BulkResult {
  done: string[];
  failed: { id: string; error: unknown }[];
}

/** Calls `fn` for every id, at most `concurrency` at once; never rejects. */
export async function runBulk(
  ids: string[],
  fn: (id: string) => Promise<unknown>,
  concurrency = 4,
): Promise<BulkResult> {
  const result: BulkResult = { done: [], failed: [] };
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++];
      try {
        await fn(id);
        result.done.push(id);
      } catch (error) {
        result.failed.push({ id, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
  // Keep the callers' order, whatever order the answers came in.
  const order = new Map(ids.map((id, i) => [id, i]));
  result.done.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
  result.failed.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
  return result;
}

const runs = (n: number) => `${n} run${n === 1 ? '' : 's'}`;

/** "Deleted 3 runs." or "Deleted 2 runs; 1 run failed: <message>". */
export function bulkMessage(verb: string, r: BulkResult): string {
  if (r.failed.length === 0) return `${verb} ${runs(r.done.length)}.`;
  const first = r.failed[0].error;
  const why = first instanceof Error ? first.message : String(first);
  return `${verb} ${runs(r.done.length)}; ${runs(r.failed.length)} failed: ${why}`;
}
