import { describe, expect, it } from 'vitest';
import type { EngineSession } from '../../support/engine-session.ts';
import { storyScript } from '../../../src/actors/agents/scripted-script.ts';
import { buildLexicon, parseInput } from '../../../src/actors/classifiers/stage1.ts';
import { classifyFacts } from '../../../src/actors/classifiers/stage2.ts';
import { matchSensitivity } from '../../../src/actors/classifiers/stage3.ts';
import { deepInterpretation } from '../../../src/actors/classifiers/stage4.ts';
import type { NewEvent } from '../../../src/domain/events.ts';
import { ScriptedProvider } from '../../../src/inference/llm/scripted.ts';
import { sessionAt, warmParts } from '../../support/story.ts';

const sessions = new Map<string, Promise<EngineSession>>();
const at = (scene: string) => {
  if (!sessions.has(scene)) sessions.set(scene, sessionAt(scene));
  return sessions.get(scene)!;
};

async function judge(scene: string, text: string): Promise<Array<Extract<NewEvent, { type: 'InterpretiveJudgment' }>>> {
  const s = await at(scene);
  const { data, entities, sensitivity } = warmParts(s.scene!);
  const parsed = parseInput(text, buildLexicon({ characters: entities.characters, objects: entities.objects, settings: [data.setting, ...data.adjacent] }));
  const facts = classifyFacts(parsed, { data, entities, cast: data.cast, truthSet: s.truthSet });
  return matchSensitivity(parsed, facts.events, sensitivity, { inputId: 7, turn: 3, sceneId: data.sceneId }) as Array<Extract<NewEvent, { type: 'InterpretiveJudgment' }>>;
}

describe('sensitivity map (built at scene entry)', () => {
  it('has entries from gates (tier 1), motivations, echoes and tone (tier 2), in the seed shape', async () => {
    const { sensitivity } = warmParts((await at('the_quay')).scene!);
    const subs = sensitivity.entries.map((e) => e.sourceSubscription);
    expect(subs).toContain('gate:why_the_light_is_dark');
    expect(subs).toContain('motivation:ewan/see_the_light_lit');
    expect(subs).toContain('echo:ewan/the_drowning');
    expect(subs).toContain('tone:ewan');
    for (const e of sensitivity.entries) {
      expect(Object.keys(e)).toEqual(expect.arrayContaining(['id', 'sourceSubscription', 'pattern', 'baselineConfidence', 'priorityTier']));
      expect(e.priorityTier).toBe(e.sourceSubscription.startsWith('gate:') ? 1 : 2);
    }
  });
});

type Row = [scene: string, input: string, expected: Array<[category: string, subject: string]>];
const table: Row[] = [
  ['the_quay', 'ask Ewan about the light', [['IntentInferred', 'ewan'], ['ThematicResonance', 'ewan']]],
  ['the_quay', 'did Davey drown on the rocks?', [['EchoResonance', 'ewan']]],
  ['the_quay', 'thank you, friend', [['AffectionShift', 'ewan']]],
  ['the_quay', 'you are a useless drunk', [['TrustShift', 'ewan']]],
  ['the_drowned_bell', 'give the letter to Ada', [['IntentInferred', 'ada']]],
  ['the_drowned_bell', 'ask Silas about the wreck', [['IntentInferred', 'silas'], ['ThematicResonance', 'silas']]],
  ['the_cliff_path', 'I am afraid of the dark too', [['VulnerabilityExpressed', 'nell'], ['ThematicResonance', 'nell']]],
  ['the_lamp_room', 'tell Tobias it was not his fault about Davey', [['IntentInferred', 'tobias'], ['ThematicResonance', 'tobias']]],
];

describe('stage 3: sensitivity matching → provisional judgments', () => {
  it.each(table)('%s: %s', async (scene, input, expected) => {
    const judgments = await judge(scene, input);
    const got = judgments.map((j) => [j.data.category, j.data.subject]);
    for (const pair of expected) expect(got).toContainEqual(pair);
    for (const j of judgments) {
      expect(j.data.provisional).toBe(true);
      expect(j.data.confidence).toBeGreaterThan(0);
      expect(j.data.confidence).toBeLessThanOrEqual(1);
      expect(j.data.evidence).toEqual([7]);
      expect(j.data.id).toMatch(/^t3:/);
    }
  });

  it('neutral input and meta commands yield nothing', async () => {
    expect(await judge('the_quay', '/save')).toEqual([]);
    expect(await judge('the_quay', 'examine the cobles')).toEqual([]);
  });
});

describe('stage 4: deep interpretation through the LLM (role stage4)', () => {
  it('refined judgments replace provisional ones by id', async () => {
    const provisional = (await judge('the_quay', 'did Davey drown on the rocks?')).map((j) => ({ id: j.data.id, category: j.data.category, subject: j.data.subject as string, confidence: j.data.confidence, description: j.data.description }));
    const llm = new ScriptedProvider({ script: storyScript });
    const refined = await deepInterpretation(llm, { text: 'did Davey drown on the rocks?', provisional, turn: 3, sceneId: '00000000-0000-4000-8000-000000000000', inputId: 7, sceneKey: 'the_quay' });
    expect(refined.length).toBe(provisional.length);
    for (const e of refined) {
      if (e.type !== 'InterpretiveJudgment') throw new Error('expected a judgment');
      expect(provisional.map((p) => p.id)).toContain(e.data.replaces);
      expect(e.data.provisional).toBe(false);
      expect(e.data.source.kind).toBe('classifier');
    }
  });

  it('invalid model output yields no refinements (the provisional judgments stand)', async () => {
    const llm = new ScriptedProvider({ script: () => 'I think the player is sad.' });
    const out = await deepInterpretation(llm, { text: 'x', provisional: [{ id: 'a', category: 'ToneDetected', confidence: 0.5, description: 'd' }], turn: 1, sceneId: '00000000-0000-4000-8000-000000000000', inputId: 1, sceneKey: 'k' });
    expect(out).toEqual([]);
  });

  it('a refinement that names an unknown provisional judgment is dropped', async () => {
    const llm = new ScriptedProvider({ script: () => JSON.stringify({ judgments: [{ replaces: 'zzz', category: 'ToneDetected', confidence: 0.9, description: 'x' }] }) });
    const out = await deepInterpretation(llm, { text: 'x', provisional: [{ id: 'a', category: 'ToneDetected', confidence: 0.5, description: 'd' }], turn: 1, sceneId: '00000000-0000-4000-8000-000000000000', inputId: 1, sceneKey: 'k' });
    expect(out).toEqual([]);
  });
});
