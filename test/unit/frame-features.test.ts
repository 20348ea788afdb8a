import { describe, expect, it } from 'vitest';
import {
  AXIS_WIDTH,
  EDGE_WIDTH,
  EMOTION_WIDTH,
  EVENT_WIDTH,
  FEATURE_DIM,
  FEATURE_LAYOUT,
  encodeBatch,
  encodeFrameInput,
  type FrameInput,
  type FramePlayerEvent,
} from '../../src/inference/frame/features.ts';

const L = FEATURE_LAYOUT;

function base(): FrameInput {
  return {
    characterId: 'keeper',
    axes: [],
    emotions: {},
    edges: [],
    scene: { type: 'threshold', mass: 0, castSize: 0, tension: 0, turn: 0, exitPressure: 0 },
  };
}

const event = (over: Partial<FramePlayerEvent> = {}): FramePlayerEvent => ({
  kind: 'question',
  addressedToMe: true,
  hostility: 0.2,
  warmth: 0.6,
  mentionsMe: false,
  ...over,
});

const slice = (row: Float32Array, offset: number, length: number): number[] => Array.from(row.subarray(offset, offset + length));

describe('frame feature layout', () => {
  it('has the contract region sizes, contiguous, summing to 453', () => {
    const regions = Object.values(L);
    expect(regions.map((r) => r.length)).toEqual([208, 48, 7, 120, 6, 16, 48]);
    let next = 0;
    for (const r of regions) {
      expect(r.offset).toBe(next);
      next += r.length;
    }
    expect(next).toBe(FEATURE_DIM);
    expect(FEATURE_DIM).toBe(453);
  });

  it('encodes an empty character as zeros outside the scene region', () => {
    const row = encodeFrameInput({ ...base(), scene: { type: 'gravitational', mass: 0.5, castSize: 3, tension: 0.4, turn: 10, exitPressure: 0.9 } });
    expect(row.length).toBe(453);
    expect(slice(row, L.scene.offset, 6).map((v) => Number(v.toFixed(4)))).toEqual([1, 0.5, 0.3, 0.4, 0.5, 0.9]);
    const nonZeroOutsideScene = Array.from(row).filter((v, i) => v !== 0 && (i < L.scene.offset || i >= L.scene.offset + 6));
    expect(nonZeroOutsideScene).toEqual([]);
  });

  it('writes each axis into its 13-float slot: values, layer one-hot, awareness one-hot; ignores axes after 16', () => {
    const axes = Array.from({ length: 18 }, (_, i) => ({
      name: `a${i}`,
      central: 0.5,
      variance: 0.25,
      low: -2, // clipped to -1
      high: 0.75,
      layer: 'bedrock' as const,
      ...(i === 1 ? { awareness: 'defended' as const } : {}),
    }));
    const row = encodeFrameInput({ ...base(), axes });
    expect(slice(row, 0, AXIS_WIDTH)).toEqual([0.5, 0.25, -1, 0.75, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(slice(row, AXIS_WIDTH, AXIS_WIDTH)).toEqual([0.5, 0.25, -1, 0.75, 0, 0, 1, 0, 0, 0, 0, 1, 0]);
    expect(slice(row, 15 * AXIS_WIDTH + 4, 4)).toEqual([0, 0, 1, 0]); // the 16th is used
    expect(row[L.emotions.offset]).toBe(0); // the 17th did not spill into the emotions
  });

  it('encodes emotions as intensity, present, three bands and the dominant flag', () => {
    const row = encodeFrameInput({ ...base(), emotions: { joy: 0.2, fear: 0.9, anger: 0.5 } });
    const at = (i: number) => slice(row, L.emotions.offset + i * EMOTION_WIDTH, EMOTION_WIDTH).map((v) => Number(v.toFixed(4)));
    expect(at(0)).toEqual([0.2, 1, 1, 0, 0, 0]); // joy
    expect(at(1)).toEqual([0, 0, 0, 0, 0, 0]); // trust absent
    expect(at(2)).toEqual([0.9, 1, 0, 0, 1, 1]); // fear, dominant
    expect(at(6)).toEqual([0.5, 1, 0, 1, 0, 0]); // anger
  });

  it('encodes the self edge with a presence flag and mean trust', () => {
    const row = encodeFrameInput({ ...base(), selfEdge: { trust_competence: 0.9, affection: -0.3 } });
    expect(slice(row, L.selfEdge.offset, 7).map((v) => Number(v.toFixed(4)))).toEqual([0, 0.9, 0, -0.3, 0, 1, 0.3]);
  });

  it('encodes edges: presence, toward-player flag, values, bands, trust and trust×affection; at most 5', () => {
    const edge = (to: string) => ({ to, trust_reliability: 0.6, trust_competence: 0, trust_benevolence: -0.6, affection: 0.5, debt: 0 });
    const row = encodeFrameInput({ ...base(), edges: [edge('player'), edge('npc'), edge('a'), edge('b'), edge('c'), edge('d')] });
    const first = slice(row, L.edges.offset, EDGE_WIDTH).map((v) => Number(v.toFixed(4)));
    expect(first.slice(0, 7)).toEqual([1, 1, 0.6, 0, -0.6, 0.5, 0]);
    // bands per value: reliability high, competence neutral, benevolence low, affection high, debt neutral
    expect(first.slice(7, 22)).toEqual([0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0]);
    expect(first.slice(22)).toEqual([0, 0]);
    expect(row[L.edges.offset + EDGE_WIDTH + 1]).toBe(0); // the second edge is not toward the player
    expect(row[L.edges.offset + 4 * EDGE_WIDTH]).toBe(1); // the 5th edge is used
    expect(L.edges.offset + 5 * EDGE_WIDTH).toBe(L.scene.offset); // and a 6th has no room
  });

  it('honours a custom player id for the toward-player flag', () => {
    const e = { to: 'visitor', trust_reliability: 0, trust_competence: 0, trust_benevolence: 0, affection: 0, debt: 0 };
    expect(encodeFrameInput({ ...base(), edges: [e] })[L.edges.offset + 1]).toBe(0);
    expect(encodeFrameInput({ ...base(), edges: [e] }, { playerId: 'visitor' })[L.edges.offset + 1]).toBe(1);
  });

  it('encodes the player event (16 floats) and whether its keywords touch an axis', () => {
    const axes = [{ name: 'Duty', central: 0, variance: 0, low: 0, high: 0, layer: 'sediment' as const }];
    const row = encodeFrameInput({ ...base(), axes, playerEvent: event({ hostility: 0.8, warmth: 0.1, mentionsMe: true, topicKeywords: ['lamp', 'duty'] }) });
    const ev = slice(row, L.playerEvent.offset, EVENT_WIDTH).map((v) => Number(v.toFixed(4)));
    expect(ev).toEqual([0, 0, 0, 0, 1, 0, 1, 1, 1, 0.8, 0.1, -0.7, 0.8, 0.1, 0.4, 1]);
    const noTouch = encodeFrameInput({ ...base(), axes, playerEvent: event({ topicKeywords: ['lamp'] }) });
    expect(noTouch[L.playerEvent.offset + 15]).toBe(0);
  });

  it('encodes the last three history events, most recent first, with the same 16-float layout', () => {
    const history = [event({ kind: 'speech' }), event({ kind: 'action' }), event({ kind: 'meta' }), event({ kind: 'movement' })];
    const row = encodeFrameInput({ ...base(), history });
    expect(row[L.history.offset + 0]).toBe(1); // speech
    expect(row[L.history.offset + EVENT_WIDTH + 1]).toBe(1); // action
    expect(row[L.history.offset + 2 * EVENT_WIDTH + 5]).toBe(1); // meta
    expect(L.history.offset + 3 * EVENT_WIDTH).toBe(FEATURE_DIM); // the 4th has no slot
    const single = encodeFrameInput({ ...base(), playerEvent: history[0]! });
    expect(slice(row, L.history.offset, EVENT_WIDTH)).toEqual(slice(single, L.playerEvent.offset, EVENT_WIDTH));
  });

  it('maps non-finite values to 0 and clips out-of-range values', () => {
    const row = encodeFrameInput({ ...base(), emotions: { joy: Number.NaN, fear: 7 }, scene: { type: 'gate', mass: -1, castSize: 50, tension: Infinity, turn: 3, exitPressure: 0 } });
    expect(row[L.emotions.offset]).toBe(0);
    expect(row[L.emotions.offset + 2 * EMOTION_WIDTH]).toBe(1);
    expect(slice(row, L.scene.offset, 4).map((v) => Number(v.toFixed(4)))).toEqual([0.6667, 0, 1, 0]);
  });

  it('batches rows in order, identical to encoding one by one', () => {
    const a = { ...base(), emotions: { joy: 1 } };
    const b = { ...base(), playerEvent: event() };
    const batch = encodeBatch([a, b]);
    expect(batch.length).toBe(2 * FEATURE_DIM);
    expect(Array.from(batch.subarray(0, FEATURE_DIM))).toEqual(Array.from(encodeFrameInput(a)));
    expect(Array.from(batch.subarray(FEATURE_DIM))).toEqual(Array.from(encodeFrameInput(b)));
  });
});
