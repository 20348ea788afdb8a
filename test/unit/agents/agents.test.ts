import { describe, expect, it } from 'vitest';
import { characterIntent, fallbackIntent, type CharacterTurn } from '../../../src/actors/agents/character.ts';
import { composeNarration, narrateTurn, type NarrationContext } from '../../../src/actors/agents/narrator.ts';
import { sequenceIntents } from '../../../src/actors/agents/reconciler.ts';
import { storyScript } from '../../../src/actors/agents/scripted-script.ts';
import { EngineSession } from '../../support/engine-session.ts';
import type { SceneBehaviour } from '../../../src/actors/behaviour.ts';
import { StoryBehaviour } from '../../../src/actors/story-behaviour.ts';
import { EVENT_DATA_SCHEMAS } from '../../../src/domain/events.ts';
import { holds } from '../../../src/domain/truth-set.ts';
import { StorytellerError } from '../../../src/errors.ts';
import type { LlmProvider } from '../../../src/inference/llm/provider.ts';
import { ScriptedProvider } from '../../../src/inference/llm/scripted.ts';
import { sampleStory } from '../../support/story.ts';

const turnOf = (over: Partial<CharacterTurn> = {}): CharacterTurn => ({
  character: { id: 'ewan', name: 'Ewan Pell', lines: { greeting: ['Hello, keeper.'], reply: ['Aye.', 'Ask me straight.'], idle: ['Ewan coils a rope.'], refusal: ['Not my place.'] } },
  knowledge: null,
  frameText: 'frame',
  parsed: { raw: 'hello', kind: 'speech', verb: 'say', addressee: 'ewan', mentions: [], keywords: ['hello'], manner: [], clauses: [] },
  turn: 4,
  sceneTurn: 2,
  firstMeeting: false,
  sceneName: 'The Quay',
  addressed: true,
  refusedByMe: false,
  ...over,
});

describe('character agent: structured intent through the LLM, validated, with a deterministic fallback', () => {
  it('valid JSON from the model is the intent', async () => {
    const llm = new ScriptedProvider({ script: () => JSON.stringify({ action: 'speak', speech: 'The light, aye.', tone: 'guarded' }) });
    expect(await characterIntent(llm, turnOf())).toEqual({ intent: { action: 'speak', speech: 'The light, aye.', tone: 'guarded' }, degraded: false });
  });

  it('JSON wrapped in a code fence and chatter is still read', async () => {
    const llm = new ScriptedProvider({ script: () => 'Here you go:\n```json\n{"action":"gesture","gesture":"Ewan nods."}\n```' });
    expect((await characterIntent(llm, turnOf())).intent).toMatchObject({ action: 'gesture', gesture: 'Ewan nods.' });
  });

  it.each([
    ['not JSON', 'Ewan nods.'],
    ['JSON of the wrong shape', JSON.stringify({ action: 'dance' })],
  ])('%s → the fallback intent, marked degraded', async (_name, reply) => {
    const llm = new ScriptedProvider({ script: () => reply });
    const r = await characterIntent(llm, turnOf());
    expect(r.degraded).toBe(true);
    expect(r.intent).toEqual(fallbackIntent(turnOf()));
  });

  it('a provider error → the fallback intent', async () => {
    const failing: LlmProvider = { name: 'down', complete: () => Promise.reject(new StorytellerError('LLM_UNAVAILABLE')), completeStreaming: () => { throw new Error('no'); } };
    expect((await characterIntent(failing, turnOf())).intent.action).toBe('speak');
  });

  it('the fallback greets on first meeting, replies when addressed, refuses when it blocked the player', () => {
    // Greeted once, and a player who spoke first also gets the reply; unaddressed, the greeting alone.
    expect(fallbackIntent(turnOf({ sceneTurn: 1, firstMeeting: true })).speech).toMatch(/^Hello, keeper\.\n\n(Aye\.|Ask me straight\.)$/);
    expect(fallbackIntent(turnOf({ sceneTurn: 1, firstMeeting: true, addressed: false })).speech).toBe('Hello, keeper.');
    // Touching a motivation is not a refusal: the refusal line is for taking what the character holds.
    expect(['Aye.', 'Ask me straight.']).toContain(fallbackIntent(turnOf({ touchesMotivation: true })).speech);
    expect(['Aye.', 'Ask me straight.']).toContain(fallbackIntent(turnOf()).speech);
    expect(fallbackIntent(turnOf({ refusedByMe: true })).speech).toBe('Not my place.');
    expect(fallbackIntent(turnOf())).toEqual(fallbackIntent(turnOf())); // deterministic
  });
});

describe('reconciler: deterministic sequencing, no content added', () => {
  const intents = {
    ada: { action: 'speak' as const, speech: 'Ada line', tone: 'neutral' as const },
    silas: { action: 'gesture' as const, gesture: 'Silas smiles.', tone: 'neutral' as const },
    nell: { action: 'wait' as const, tone: 'neutral' as const },
  };
  it('the addressee first, then cast order; waits dropped', () => {
    expect(sequenceIntents(intents, { cast: ['ada', 'silas', 'nell'], addressee: 'silas', releases: [] }).map((b) => b.characterId)).toEqual(['silas', 'ada']);
  });
  it('a gate speaker’s own line yields to the released gate', () => {
    const beats = sequenceIntents(intents, { cast: ['ada', 'silas'], releases: [{ gateId: 'g', content: 'c', speaker: 'ada', delivery: 'immediate' }] });
    expect(beats.map((b) => b.characterId)).toEqual(['silas']);
  });
  it('texts are the characters’ own, at most maxBeats', () => {
    const beats = sequenceIntents(intents, { cast: ['ada', 'silas'], releases: [], maxBeats: 1 });
    expect(beats).toEqual([{ characterId: 'ada', kind: 'speech', text: 'Ada line' }]);
  });
});

const context: NarrationContext = {
  kind: 'narrator', title: 'T', sceneName: 'S', atmosphere: 'wind', playerText: 'ask ewan about the light',
  act: 'You put your question to Ewan.', refusal: null, examined: null, worldNotes: [],
  releases: [{ speaker: 'Ewan Pell', content: 'Tobias Wren has locked himself in the tower.' }],
  beats: [{ name: 'Ewan Pell', kind: 'speech', text: 'Go careful.' }], exit: null, ending: false,
};

describe('narrator: streamed prose through role narrator', () => {
  it('streams chunks that concatenate to the full text', async () => {
    const chunks: string[] = [];
    const text = await narrateTurn(new ScriptedProvider({ script: storyScript }), context, (c) => chunks.push(c));
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.join('')).toBe(text);
    expect(text).toContain('Tobias Wren has locked himself in the tower.');
    expect(text).toContain('Ewan Pell says, "Go careful."'); // named as the story names them
  });
  it('a refusal replaces the act; an empty turn still reads as prose', () => {
    expect(composeNarration({ ...context, refusal: 'The door is locked.', releases: [], beats: [] })).toBe('The door is locked.');
    expect(composeNarration({ ...context, act: null, releases: [], beats: [] })).toBe('For a moment there is only wind.');
  });
});

describe('each member’s failure or timeout yields a degraded but valid turn', () => {
  const members = ['stage1', 'stage2', 'stage3', 'stage4', 'character', 'storykeeper', 'world', 'reconciler', 'narrator'] as const;
  const modes = ['throws', 'hangs'] as const;
  const cases = members.flatMap((m) => modes.map((mode) => [m, mode] as const));

  it.each(cases)('%s %s', async (member, mode) => {
    const story = await sampleStory();
    const real = new StoryBehaviour({ stories: async () => story });
    const broken = new Proxy(real, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop !== member) return typeof value === 'function' ? value.bind(target) : value;
        return () => (mode === 'throws' ? Promise.reject(new Error(`${member} exploded`)) : new Promise(() => {}));
      },
    }) as SceneBehaviour;
    const expectedLabel = member === 'character' ? 'character:ewan' : member;
    // Only the broken member has a (short) timeout, so a slow machine cannot degrade the others.
    const s = new EngineSession(broken, { storyId: story.id }, { timeouts: { [member]: 25 }, awaitStage4: false });
    await s.start();
    const chunks: string[] = [];
    const turn = await s.send('ask Ewan about the light', (c) => chunks.push(c));
    if (member !== 'stage4') expect(turn.degraded).toContain(expectedLabel);
    expect(turn.text.length).toBeGreaterThan(0);
    expect(chunks.join('')).toBe(turn.text);
    for (const e of turn.events) expect(EVENT_DATA_SCHEMAS[e.type].safeParse(e.data).success, `${e.type} valid`).toBe(true);
    // The story still works around the failure: the gate opens now, or on asking again.
    if (!holds(s.truthSet, 'gate_fired', 'why_the_light_is_dark')) {
      await s.send('ask Ewan about the light');
    }
    if (member !== 'stage2' && member !== 'storykeeper') expect(holds(s.truthSet, 'gate_fired', 'why_the_light_is_dark')).toBe(true);
  });
});

describe('scene exit plan', () => {
  it('ends the story only on its ending; other exits without a departure stay in the scene', async () => {
    const story = await sampleStory();
    const behaviour = new StoryBehaviour({ stories: async () => story });
    const s = new EngineSession(behaviour, { storyId: story.id });
    const scene = await s.start();
    await s.send('ask Ewan about the light');
    const plan = (reason: string, requested: string | null) =>
      behaviour.planSceneExit({ session: s.session, scene, truthSet: s.truthSet, turn: s.turn, reason, requestedNextSceneKey: requested, signal: new AbortController().signal });
    expect((await plan('grace_expired', null)).nextSceneKey).toBe('the_quay');
    expect((await plan('departure', 'the_drowned_bell')).nextSceneKey).toBe('the_drowned_bell');
    expect((await plan('ending', null)).nextSceneKey).toBeNull();
    const p = await plan('departure', 'the_drowned_bell');
    expect(p.edgeUpdates).toEqual([{ from: 'ewan', to: 'player', deltas: { trust_reliability: 0.2 } }]);
    expect(p.entitySnapshots.find((e) => e.entityId === 'board_letter')?.components).toMatchObject({ heldBy: 'player' });
    expect(p.narrativePosition).toMatchObject({ sceneKey: 'the_quay', goalsCompleted: ['learn_why_dark'] });
  });
});
