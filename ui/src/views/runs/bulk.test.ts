import { describe, expect, it } from 'vitest';
import { bulkMessage, runBulk } from './bulk';

describe('bulk run actions', () => {
  it('calls every id, at most `concurrency` at once, and keeps the order', async () => {
    let live = 0;
    let peak = 0;
    const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const r = await runBulk(
      ids,
      async (id) => {
        live++;
        peak = Math.max(peak, live);
        await new Promise((ok) => setTimeout(ok, id === 'a' ? 20 : 1));
        live--;
        if (id === 'c') throw new Error('no such run');
      },
      3,
    );
    expect(peak).toBeLessThanOrEqual(3);
    expect(r.done).toEqual(['a', 'b', 'd', 'e', 'f', 'g']);
    expect(r.failed.map((f) => f.id)).toEqual(['c']);
  });

  it('does nothing for no ids', async () => {
    expect(await runBulk([], async () => {})).toEqual({ done: [], failed: [] });
  });

  it('summarises in one line', () => {
    expect(bulkMessage('Deleted', { done: ['a', 'b', 'c'], failed: [] })).toBe('Deleted 3 runs.');
    expect(bulkMessage('Restored', { done: ['a'], failed: [] })).toBe('Restored 1 run.');
    expect(
      bulkMessage('Deleted', { done: ['a', 'b'], failed: [{ id: 'c', error: new Error('gone') }] }),
    ).toBe('Deleted 2 runs; 1 run failed: gone');
  });
});
