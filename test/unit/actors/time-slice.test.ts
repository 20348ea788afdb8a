import { describe, expect, it } from 'vitest';
import { createTimeSlicer } from '../../../src/actors/time-slice.ts';

/** Pure unit (a fake clock and a manual "next iteration"): when a busy stretch must let I/O in. */
describe('time slicer', () => {
  function slicer(sliceMs = 2) {
    let t = 0;
    const pending: Array<() => void> = [];
    const s = createTimeSlicer({ sliceMs, now: () => t, defer: (fn) => pending.push(fn) });
    return {
      s,
      advance: (ms: number) => (t += ms),
      /** The event loop reaches its check phase: the stretch ends. */
      nextIteration: () => pending.splice(0).forEach((fn) => fn()),
    };
  }

  it('never expires while a stretch stays under the slice', () => {
    const { s, advance } = slicer();
    expect(s.expired()).toBe(false);
    advance(1);
    expect(s.expired()).toBe(false);
    advance(1);
    expect(s.expired()).toBe(false);
  });

  it('expires past the slice, and a new iteration starts a new stretch', () => {
    const { s, advance, nextIteration } = slicer();
    expect(s.expired()).toBe(false);
    advance(2.5);
    expect(s.expired()).toBe(true);
    expect(s.expired()).toBe(true);
    nextIteration();
    expect(s.expired()).toBe(false);
    advance(1);
    expect(s.expired()).toBe(false);
  });
});
