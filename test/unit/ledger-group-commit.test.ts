import { describe, expect, it } from 'vitest';
import { GroupCommitter, type BatchResult } from '../../src/persistence/group-commit.ts';

/** A fake batch writer whose writes complete only when the test says so. */
function controllableWriter() {
  const batches: number[][] = [];
  const releases: Array<() => void> = [];
  const write = (batch: readonly number[]): Promise<BatchResult<string>[]> => {
    batches.push([...batch]);
    return new Promise((resolve) => {
      releases.push(() => resolve(batch.map((n) => (n < 0 ? { ok: false, error: new Error(`bad ${n}`) } : { ok: true, value: `row ${n}` }))));
    });
  };
  /** Resolves once the writer has been called `count` times. */
  const untilBatches = async (count: number) => {
    while (batches.length < count) await new Promise((resolve) => setImmediate(resolve));
  };
  return { batches, releases, write, untilBatches };
}

describe('GroupCommitter (natural batching)', () => {
  it('starts a lone request at once and answers it with its own result', async () => {
    const w = controllableWriter();
    const committer = new GroupCommitter(w.write, 10);
    const answer = committer.submit(1);
    await w.untilBatches(1);
    expect(w.batches).toEqual([[1]]);
    w.releases[0]!();
    expect(await answer).toBe('row 1');
  });

  it('gathers requests arriving while a write is in flight into the next write, in arrival order', async () => {
    const w = controllableWriter();
    const committer = new GroupCommitter(w.write, 100);
    const first = committer.submit(1);
    await w.untilBatches(1);
    const waiting = [2, 3, 4, 5].map((n) => committer.submit(n));
    expect(committer.queued).toBe(4);
    expect(w.batches).toHaveLength(1); // no second write while the first is in flight
    w.releases[0]!();
    await first;
    await w.untilBatches(2);
    expect(w.batches[1]).toEqual([2, 3, 4, 5]);
    w.releases[1]!();
    expect(await Promise.all(waiting)).toEqual(['row 2', 'row 3', 'row 4', 'row 5']);
    await committer.whenIdle();
    expect(committer.stats).toEqual({ batches: 2, requests: 5, largestBatch: 4 });
  });

  it('caps a batch at maxBatch', async () => {
    const w = controllableWriter();
    const committer = new GroupCommitter(w.write, 3);
    const all = [1, 2, 3, 4, 5, 6, 7].map((n) => committer.submit(n));
    await w.untilBatches(1);
    w.releases[0]!();
    await w.untilBatches(2);
    w.releases[1]!();
    await w.untilBatches(3);
    w.releases[2]!();
    await Promise.all(all);
    expect(w.batches).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
  });

  it('fails only the requests the writer reports as failed, and all of them when the write throws', async () => {
    const w = controllableWriter();
    const committer = new GroupCommitter(w.write, 10);
    const settled = Promise.allSettled([1, -2, 3].map((n) => committer.submit(n)));
    await w.untilBatches(1);
    w.releases[0]!();
    expect((await settled).map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);

    const throwing = new GroupCommitter<number, string>(async () => {
      throw new Error('connection lost');
    }, 10);
    const outcomes = await Promise.allSettled([1, 2].map((n) => throwing.submit(n)));
    expect(outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : 'ok'))).toEqual(['connection lost', 'connection lost']);
  });

  it('rejects a writer that answers the wrong number of results', async () => {
    const committer = new GroupCommitter<number, string>(async () => [], 10);
    await expect(committer.submit(1)).rejects.toThrow(/returned 0 results for 1/);
    expect(() => new GroupCommitter(async () => [], 0)).toThrow(RangeError);
  });
});
