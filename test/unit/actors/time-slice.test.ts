import { describe, expect, it } from 'vitest';
import { createTimeSlicer } from '../../../src/actors/time-slice.ts';

/** Pure unit (a fake clock and a manual "next iteration"): when a busy stretch must let I/O in. */
describe('time slicer', () => {
  function slicer(sliceMs = 2, startsPerSlice = 100) {
    let t = 0;
    const pending: Array<() => void> = [];
    const s = createTimeSlicer({ sliceMs, startsPerSlice, now: () => t, defer: (fn) => pending.push(fn) });
    const ran: string[] = [];
    /** A task that takes `ms` of the loop's time. */
    const task = (name: string, ms: number) => () => {
      ran.push(name);
      t += ms;
    };
    return {
      s,
      ran,
      task,
      advance: (ms: number) => (t += ms),
      /** The event loop reaches its check phase: the deferred callbacks queued so far run. */
      nextIteration: () => pending.splice(0).forEach((fn) => fn()),
    };
  }

  it('runs tasks at once while a stretch stays under the slice', () => {
    const { s, ran, task } = slicer();
    s.run(task('a', 0.5));
    s.run(task('b', 0.5));
    s.run(task('c', 0.5));
    expect(ran).toEqual(['a', 'b', 'c']);
  });

  it('past the slice, tasks wait and run in order, one slice per later iteration', () => {
    const { s, ran, task, nextIteration } = slicer();
    for (const name of ['a', 'b', 'c', 'd', 'e', 'f']) s.run(task(name, 1.5));
    // a (1.5 ms) and b (3 ms into the stretch: over) ran at once; the rest wait.
    expect(ran).toEqual(['a', 'b']);
    nextIteration();
    expect(ran).toEqual(['a', 'b', 'c', 'd']);
    nextIteration();
    expect(ran).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    nextIteration();
    expect(ran).toHaveLength(6);
  });

  it('a task given while others wait goes behind them, even in a fresh stretch', () => {
    const { s, ran, task, nextIteration } = slicer();
    s.run(task('a', 3));
    s.run(task('b', 0.1));
    expect(ran).toEqual(['a']);
    nextIteration(); // the stretch ends; b runs in the new one
    s.run(task('c', 0.1));
    expect(ran).toEqual(['a', 'b', 'c']);
    s.run(task('d', 3));
    s.run(task('e', 0.1));
    s.run(task('f', 0.1));
    expect(ran).toEqual(['a', 'b', 'c', 'd']);
    nextIteration();
    expect(ran).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('a stretch starts at most startsPerSlice tasks, however little time they take at once (a turn start is cheap; the turn runs later)', () => {
    const { s, ran, task, nextIteration } = slicer(2, 2);
    // Twenty starts woken by one commit: the clock has not moved when each is asked.
    for (let i = 0; i < 20; i++) s.run(task(`t${i}`, 0));
    expect(ran).toEqual(['t0', 't1']);
    nextIteration();
    expect(ran).toEqual(['t0', 't1', 't2', 't3']);
    for (let i = 0; i < 8; i++) nextIteration();
    expect(ran).toHaveLength(20);
    expect(ran).toEqual(Array.from({ length: 20 }, (_, i) => `t${i}`));
  });

  it('an iteration already over its slice still runs one waiting task (no starvation)', () => {
    const { s, ran, task, advance, nextIteration } = slicer();
    s.run(task('a', 3));
    s.run(task('b', 5));
    s.run(task('c', 5));
    nextIteration();
    expect(ran).toEqual(['a', 'b']);
    advance(10);
    nextIteration();
    expect(ran).toEqual(['a', 'b', 'c']);
  });
});
