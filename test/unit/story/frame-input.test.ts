import { describe, expect, it } from 'vitest';
import { FRAME_HISTORY_PREFIX, frameHistoryEvent, frameHistoryOf, frameInputFor, NO_EVENT } from '../../../src/actors/agents/frame-input.ts';
import { playerEventOf } from '../../../src/actors/agents/player-event.ts';
import { buildLexicon, parseInput } from '../../../src/actors/classifiers/stage1.ts';
import type { NewEvent } from '../../../src/domain/events.ts';
import { applyEvents, emptyTruthSet } from '../../../src/domain/truth-set.ts';
import { encodeCharacterFeatures } from '../../../src/inference/frame/encoder.ts';
import { sampleStory } from '../../support/story.ts';

// The story domain → storyteller-character/1: what the runtime feeds the frame model.

async function setup() {
  const story = await sampleStory();
  const inn = story.settings.find((s) => s.id === 'village_inn')!;
  const ada = story.characters.find((c) => c.id === 'ada')!;
  const silas = story.characters.find((c) => c.id === 'silas')!;
  const letter = story.entities.find((e) => e.id === 'board_letter')!;
  const lexicon = buildLexicon({ characters: [ada, silas], objects: [letter], settings: [inn] });
  return { story, lexicon, cast: new Set(['ada', 'silas']) };
}

const judgment = (category: string, confidence: number): NewEvent =>
  ({ type: 'InterpretiveJudgment', data: { id: 'j', category, confidence, evidence: [], description: '', source: { kind: 'classifier' }, provisional: true }, source: 'stage3' }) as NewEvent;
const speech: NewEvent = { type: 'SpeechAct', data: { speaker: 'player', addressee: 'ada', content: 'x' }, source: 'stage2' };

describe('player event from classifier stages 1–3', () => {
  it.each([
    ['ask Ada about the key', [], [], { type: 'inquiry', register: 'inquisitive', confidence: 0.5, targetCount: 1 }],
    ['ask Ada about the key', [speech], [], { type: 'inquiry', register: 'inquisitive', confidence: 0.8, targetCount: 1 }],
    ['say "you are a useless drunk" to Silas', [], [], { type: 'speech', register: 'aggressive', confidence: 0.5, targetCount: 1 }],
    ['give the letter to Ada', [], [], { type: 'interaction', register: 'neutral', confidence: 0.5, targetCount: 1 }],
    ['look', [], [], { type: 'observation', register: 'neutral', confidence: 0.5, targetCount: 0 }],
    ['say "I am so tired and alone" to Ada', [], [judgment('VulnerabilityExpressed', 0.7)], { type: 'speech', register: 'vulnerable', confidence: 0.7, targetCount: 1 }],
    ['say "thank you, friend" to Ada', [], [], { type: 'speech', register: 'tender', confidence: 0.5, targetCount: 1 }],
    ['/help', [], [], NO_EVENT],
  ] as const)('%s → %j', async (text, facts, judgments, expected) => {
    const { lexicon, cast } = await setup();
    expect(playerEventOf(parseInput(text, lexicon), facts, judgments, cast)).toEqual(expected);
  });
});

describe('character → features', () => {
  it('carries the story fields: provenance, primaries with awareness in the declared order, self edge, substrate edges, roles, tension', async () => {
    const { story } = await sampleStory().then((s) => ({ story: s }));
    const tobias = story.characters.find((c) => c.id === 'tobias')!;
    const scene = story.scenes.find((s) => s.id === 'the_lamp_room')!;
    const f = frameInputFor(tobias, story.relations, scene, { castSize: 2, roles: { ewan: 'bridge' } });
    expect(f.selfEdge).toEqual({ competence: 0.2, intentions: 0.7, reliability: 0.1, affection: 0.2, debt: 0.9, historyWeight: 0.9, projectionAccuracy: 0.3 });
    expect(f.primaries.find((p) => p.id === 'sadness')).toEqual({ id: 'sadness', intensity: 0.9, awareness: 'articulate' });
    expect(f.primaries.find((p) => p.id === 'anger')?.awareness).toBe('defended');
    expect(f.primaries.find((p) => p.id === 'joy')).toEqual({ id: 'joy', intensity: 0, awareness: 'recognizable' });
    expect(f.axes.map((a) => a.name)).toEqual(['despair', 'duty', 'warmth']); // encoding order
    const targets = story.relations.filter((r) => r.from === 'tobias' && r.to !== 'player').map((r) => [r.to, r.to === 'ewan' ? 'bridge' : 'periphery']);
    expect(f.edges.map((e) => [e.to, e.role])).toEqual([['player', 'hub'], ...targets]);
    expect(targets.length).toBeGreaterThan(0);
    expect(f.scene).toEqual({ type: scene.type, castSize: 2, tension: scene.tension ?? Math.min(1, scene.mass / 10 + 0.2) });
    expect(f.event).toEqual(NO_EVENT);
    const grammar = frameInputFor({ ...tobias, emotionOrder: 'grammar' }, [], scene, { castSize: 1 });
    expect(grammar.primaries.map((p) => p.id)).toEqual(['joy', 'sadness', 'trust', 'disgust', 'fear', 'anger', 'surprise', 'anticipation']);
    // Sadness is slot 1 in grammar order: intensity at 208 + 6, awareness articulate at 208 + 6 + 1.
    const row = encodeCharacterFeatures(grammar);
    expect([row[214], row[215]]).toEqual([Math.fround(0.9), 1]);
  });

  it('authored substrate spread sets the edge quadruple; values are clipped to −1..1', async () => {
    const story = await sampleStory();
    const scene = story.scenes[0]!;
    const rel = { from: 'a', to: 'player', trust_reliability: 0.9, trust_competence: 0, trust_benevolence: -0.9, affection: 0, debt: 0, substrate: { trust_reliability: { variance: 0.4, spread: 0.5 } } };
    const f = frameInputFor({ id: 'a', axes: [], emotions: {} }, [rel], scene, { castSize: 1 });
    expect(f.edges[0]!.trust_reliability).toEqual({ central: 0.9, variance: 0.4, low: 0.4, high: 1 });
    expect(f.edges[0]!.trust_benevolence).toEqual({ central: -0.9, variance: 0.15, low: -1, high: -0.9 + 0.225 });
  });
});

describe('prediction history in the truth set', () => {
  it('round-trips through WorldStateChanged; anything malformed reads as no history', () => {
    const entries = [{ action: 'speak', register: 'whisper', awareness: 'defended', valence: 0.2 }] as const;
    const ev = frameHistoryEvent('ada', [], [...entries], 3);
    expect(ev).toMatchObject({ type: 'WorldStateChanged', data: { key: `${FRAME_HISTORY_PREFIX}ada`, old: null, new: entries }, source: 'character:ada' });
    const ts = applyEvents(emptyTruthSet(), [{ ...ev, narrativeTs: 1 } as never]);
    expect(frameHistoryOf(ts, 'ada')).toEqual(entries);
    expect(frameHistoryOf(ts, 'silas')).toEqual([]);
    const bad = applyEvents(emptyTruthSet(), [{ type: 'WorldStateChanged', data: { key: `${FRAME_HISTORY_PREFIX}ada`, old: null, new: [{ action: 'fly' }] }, narrativeTs: 1 } as never]);
    expect(frameHistoryOf(bad, 'ada')).toEqual([]);
  });
});
