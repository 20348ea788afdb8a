import { describe, expect, it } from 'vitest';
import { describeDeferred } from '../../../src/workflows/deferred-summary.ts';

describe('describeDeferred: the line a player sees when a deferred result arrives', () => {
  it('names who shifted toward the player, summed per kind of regard, and who moved on off-screen', () => {
    const line = describeDeferred({
      workflow_key: 'k',
      effects: [
        { kind: 'relationship', from: 'tobias', to: 'player', dimension: 'trust_reliability', delta: 0.04 },
        { kind: 'relationship', from: 'tobias', to: 'player', dimension: 'trust_benevolence', delta: 0.02 },
        { kind: 'relationship', from: 'ada', to: 'player', dimension: 'affection', delta: -0.1 },
        { kind: 'relationship', from: 'tobias', to: 'ewan', dimension: 'affection', delta: 0.3 }, // not toward the player
        { kind: 'accumulator', key: 'offscreen:old_mairi:goal_progress', delta: 1 },
        { kind: 'world', key: 'time.scenes_elapsed', value: 1 },
      ],
    });
    expect(line).toBe('Word travels: Tobias trusts you more; Ada is cooler toward you. Elsewhere, Old Mairi went about their own business.');
  });

  it('says nothing for bookkeeping only, negligible shifts, or a malformed result', () => {
    expect(describeDeferred({ effects: [{ kind: 'world', key: 'time.scenes_elapsed', value: 2 }] })).toBeNull();
    expect(describeDeferred({ effects: [{ kind: 'relationship', from: 'a', to: 'player', dimension: 'debt', delta: 0.001 }] })).toBeNull();
    expect(describeDeferred('nonsense')).toBeNull();
    expect(describeDeferred({ effects: [{ kind: 'relationship', from: 'a' }] })).toBeNull();
  });

  it('lists at most three who moved on', () => {
    const effects = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ kind: 'accumulator', key: `offscreen:${id}:goal_progress`, delta: 1 }));
    expect(describeDeferred({ effects })).toBe('Elsewhere, A, B, C and 2 more went about their own business.');
    expect(describeDeferred({ effects: effects.slice(0, 2) })).toBe('Elsewhere, A and B went about their own business.');
  });

  it('uses the names it is given', () => {
    expect(describeDeferred({ effects: [{ kind: 'relationship', from: 'tb', to: 'player', dimension: 'debt', delta: 0.5 }] }, () => 'Tobias Venn')).toBe('Word travels: Tobias Venn feels more in your debt.');
  });
});
