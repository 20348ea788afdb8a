import { describe, expect, it } from 'vitest';
import { storykeeperVerdict, forbiddenBy, narratorBoundary } from '../../../src/actors/agents/storykeeper.ts';
import { worldConsequences, worldView, checkMove, checkTake } from '../../../src/actors/agents/world.ts';
import type { NewEvent } from '../../../src/domain/events.ts';
import { applyEvents } from '../../../src/domain/truth-set.ts';
import { sessionAt, warmParts } from '../../support/story.ts';

const input = (text: string, turn = 99): NewEvent => ({ type: 'PlayerInput', data: { clientInputId: `c${turn}`, text }, source: 'player', turn });
const say = (to: string, content: string): NewEvent => ({ type: 'SpeechAct', data: { speaker: 'player', addressee: to, content }, source: 'test' });
const act = (action: string, target: string, recipient?: string): NewEvent => ({ type: 'ActionPerformed', data: { actor: 'player', action, target, ...(recipient ? { recipient } : {}) }, source: 'test' });

describe('storykeeper: gates release only when their condition holds', () => {
  it('talking to Ewan about the weather releases nothing; about the light releases the gate, completes the goal', async () => {
    const s = await sessionAt('the_quay');
    const { data, entities } = warmParts(s.scene!);
    const idle = storykeeperVerdict(data, entities, s.truthSet, [input('tell ewan it will rain'), say('ewan', 'it will rain')]);
    expect(idle.released).toEqual([]);
    expect(idle.events).toEqual([]);
    const v = storykeeperVerdict(data, entities, s.truthSet, [input('ask ewan about the light'), say('ewan', 'about the light')]);
    expect(v.released.map((r) => r.gateId)).toEqual(['why_the_light_is_dark']);
    expect(v.goalsCompleted.map((g) => g.goalId)).toEqual(['learn_why_dark']);
    expect(v.events.map((e) => e.type)).toEqual(['GateFired', 'InformationRevealed', 'RelationshipShifted', 'GoalCompleted']);
    // The departure opens but the scene waits until the player goes to the inn.
    expect(v.exit).toBeNull();
  });

  it('the topic alone is not enough: it must be said to Ewan', async () => {
    const s = await sessionAt('the_quay');
    const { data, entities } = warmParts(s.scene!);
    const v = storykeeperVerdict(data, entities, s.truthSet, [input('the light is dark'), { type: 'SpeechAct', data: { speaker: 'player', content: 'the light is dark' }, source: 'test' }]);
    expect(v.released).toEqual([]);
  });

  it('a gate effect transfers an item and that completes the goal in the same cascade', async () => {
    const s = await sessionAt('the_drowned_bell');
    const { data, entities } = warmParts(s.scene!);
    const v = storykeeperVerdict(data, entities, s.truthSet, [input('give the letter to ada'), act('give', 'board_letter', 'ada')]);
    expect(v.released.map((r) => r.gateId)).toEqual(['ada_gives_key']);
    expect(v.events).toContainEqual(expect.objectContaining({ type: 'ActionPerformed', data: { actor: 'ada', action: 'give', target: 'iron_key', recipient: 'player' } }));
    expect(v.goalsCompleted.map((g) => g.goalId)).toEqual(['get_the_key']);
  });

  it('exits through the departure once open and the player has moved to its setting', async () => {
    const s = await sessionAt('the_quay');
    await s.send('ask ewan about the light');
    const { data, entities } = warmParts(s.scene!);
    const v = storykeeperVerdict(data, entities, s.truthSet, [input('go to the inn'), { type: 'MovementAction', data: { actor: 'player', from: 'harbour', to: 'village_inn' }, source: 'test' }]);
    expect(v.exit).toMatchObject({ reason: 'departure', nextSceneKey: 'the_drowned_bell' });
  });

  it('the final scene ends the story when its ending holds', async () => {
    const s = await sessionAt('the_lamp_room');
    const { data, entities } = warmParts(s.scene!);
    const world: NewEvent = { type: 'WorldStateChanged', data: { key: 'great_lamp', old: 'dark', new: 'lit' }, source: 'world' };
    const v = storykeeperVerdict(data, entities, s.truthSet, [input('light the lamp'), act('light', 'great_lamp'), world]);
    expect(v.goalsCompleted.map((g) => g.goalId)).toContain('light_the_lamp');
    expect(v.exit).toMatchObject({ reason: 'ending', nextSceneKey: null });
  });

  it('a constraint forbids an action unless its condition holds', async () => {
    const s = await sessionAt('the_keepers_door');
    const { data } = warmParts(s.scene!);
    expect(forbiddenBy(data, s.truthSet, 'go', 'lamp_room')?.id).toBe('door_is_locked');
    const open = applyEvents(s.truthSet, [{ type: 'WorldStateChanged', data: { key: 'tower_door', old: 'locked', new: 'open' }, narrativeTs: s.truthSet.lastNarrativeTs + 1 }]);
    expect(forbiddenBy(data, open, 'go', 'lamp_room')).toBeNull();
  });

  it('information boundary: the narrator never sees hidden goals or unreleased gates', async () => {
    const s = await sessionAt('the_drowned_bell');
    const { data } = warmParts(s.scene!);
    const b = narratorBoundary(data, s.truthSet);
    expect(b.visibleGoals.map((g) => g.id)).toEqual(['get_the_key']);
    expect(b.releasedGates).toEqual([]);
  });
});

describe('world agent: physical possibility, world changes, movement', () => {
  it('cannot take what is not here, or what someone else holds', async () => {
    const s = await sessionAt('the_cliff_path');
    const { data, entities } = warmParts(s.scene!);
    const view = worldView(data.baseline, s.truthSet);
    const lamp = entities.objects.find((o) => o.id === 'brass_lamp')!;
    const cairn = entities.objects.find((o) => o.id === 'cairn')!;
    const where = { setting: data.setting.id, present: ['player', 'nell'] };
    expect(checkTake(view, lamp, where, { nell: 'Nell Tarrant' })).toMatch(/Nell Tarrant is holding/);
    expect(checkTake(view, cairn, where, {})).toMatch(/not something you can carry/);
    expect(checkTake(view, lamp, { setting: 'harbour', present: ['player'] }, {})).toMatch(/no Davey's lamp here/);
  });

  it('moves only to adjacent settings', async () => {
    const s = await sessionAt('the_cliff_path');
    const { data } = warmParts(s.scene!);
    const view = worldView(data.baseline, s.truthSet);
    expect(view.playerAt).toBe('cliff_path');
    expect(checkMove(data, view, 'keepers_yard')).toBeNull();
    expect(checkMove(data, view, 'lamp_room')).toMatch(/The Lamp Room is not reachable from here/);
    expect(checkMove(data, view, 'cliff_path')).toMatch(/already here/);
  });

  it('an affordance changes world state; without what it requires, nothing happens', async () => {
    const s = await sessionAt('the_keepers_door');
    const { data, entities } = warmParts(s.scene!);
    const turn = worldConsequences(data, entities.objects, s.truthSet, [act('unlock', 'tower_door')]);
    expect(turn.events).toEqual([
      { type: 'WorldStateChanged', data: { key: 'tower_door', old: 'locked', new: 'open' }, source: 'world' },
      { type: 'EntityPromoted', data: { entity: 'tower_door', toTier: 'referenced' }, source: 'world' },
    ]);
    expect(turn.view.world.tower_door).toBe('open');
    expect(turn.notes[0]).toMatch(/iron key grinds/);
    // Cross-scene: the player still carries what they were given two scenes ago.
    expect(worldView(data.baseline, s.truthSet).holders).toMatchObject({ iron_key: 'player', brass_lamp: 'player', board_letter: 'ada' });
  });
});

describe('emotional states move with the judgments about a character', () => {
  it('warmth toward Nell raises her trust; older judgments count less', async () => {
    const { emotionsNow } = await import('../../../src/actors/agents/emotions.ts');
    const s = await sessionAt('the_cliff_path');
    const nell = warmParts(s.scene!).entities.characters.find((c) => c.id === 'nell')!;
    const before = emotionsNow(nell, s.truthSet);
    await s.send('thank you, Nell, you are very brave');
    const after = emotionsNow(nell, s.truthSet);
    expect(after.trust ?? 0).toBeGreaterThan(before.trust ?? 0);
    expect(after.fear).toBeLessThanOrEqual(before.fear ?? 1);
    for (let i = 0; i < 5; i++) await s.send('wait');
    const later = emotionsNow(nell, s.truthSet);
    expect(later.trust ?? 0).toBeLessThan(after.trust ?? 0);
    expect(later.trust ?? 0).toBeGreaterThan(before.trust ?? 0);
  });
});

describe('gate delivery modes', () => {
  it('if_prompted waits for the player to speak to the speaker; when_natural skips a refused turn', async () => {
    const { deliverable } = await import('../../../src/actors/agents/storykeeper.ts');
    const s = await sessionAt('the_keepers_door');
    const gate = { ...warmParts(s.scene!).data.scene.gates[0]!, speaker: 'nell' };
    const refused: NewEvent = { type: 'ConstraintViolation', data: { actor: 'player', action: 'go', constraint: 'x' }, source: 't' };
    expect(deliverable({ ...gate, delivery: 'immediate' }, s.truthSet, [refused])).toBe(true);
    expect(deliverable({ ...gate, delivery: 'when_natural' }, s.truthSet, [refused])).toBe(false);
    expect(deliverable({ ...gate, delivery: 'when_natural' }, s.truthSet, [])).toBe(true);
    expect(deliverable({ ...gate, delivery: 'if_prompted' }, s.truthSet, [])).toBe(false);
    const spoken = applyEvents(s.truthSet, [
      { type: 'PlayerInput', data: { clientInputId: 'z', text: 'hello nell' }, narrativeTs: s.truthSet.lastNarrativeTs + 1, turn: 999 },
      { type: 'SpeechAct', data: { speaker: 'player', addressee: 'nell', content: 'hello' }, narrativeTs: s.truthSet.lastNarrativeTs + 2, turn: 999 },
    ]);
    expect(deliverable({ ...gate, delivery: 'if_prompted' }, spoken, [])).toBe(true);
  });
});

describe('entity promotion', () => {
  it('examined → referenced; taken into the player’s hands → tracked (permanent entities → persistent); never twice', async () => {
    const s = await sessionAt('the_quay');
    const promoted = (turn: { events: NewEvent[] }) => turn.events.filter((e) => e.type === 'EntityPromoted').map((e) => e.data);
    expect(promoted(await s.send('examine the tide table'))).toEqual([{ entity: 'tide_table', toTier: 'referenced' }]);
    expect(promoted(await s.send('examine the tide table'))).toEqual([]);
    const c = await sessionAt('the_cliff_path');
    await c.send('ask Nell about the lamp');
    expect(promoted(await c.send('examine the lamp'))).toEqual([{ entity: 'brass_lamp', toTier: 'persistent' }]);
  });
});

describe('information boundary in what the agents are sent', () => {
  it('no LLM request carries unreleased gate content or hidden goals; released content reaches the narrator', async () => {
    const { ScriptedProvider } = await import('../../../src/inference/llm/scripted.ts');
    const { storyScript } = await import('../../../src/actors/agents/scripted-script.ts');
    const seen: Array<{ role: string; text: string }> = [];
    const spy = new ScriptedProvider({
      script: (req) => {
        seen.push({ role: req.role, text: `${req.system ?? ''}\n${req.messages.map((m) => m.content).join('\n')}\n${JSON.stringify(req.context ?? {})}` });
        return storyScript(req);
      },
    });
    const s = await sessionAt('the_drowned_bell', { llm: { forRole: () => spy } });
    const story = await (await import('../../support/story.ts')).sampleStory();
    const inn = story.scenes.find((x) => x.id === 'the_drowned_bell')!;
    const secret = (id: string) => inn.gates.find((g) => g.id === id)!.content.slice(0, 40);
    seen.length = 0;
    await s.send('take the key');
    for (const r of seen) {
      expect(r.text, r.role).not.toContain(secret('ada_gives_key'));
      expect(r.text, r.role).not.toContain(secret('silas_slips'));
      expect(r.text, r.role).not.toContain('Learn what Silas Crane is waiting for');
    }
    seen.length = 0;
    await s.send('give the letter to Ada');
    const narrator = seen.filter((r) => r.role === 'narrator');
    expect(narrator.some((r) => r.text.includes(secret('ada_gives_key')))).toBe(true);
    for (const r of seen) expect(r.text, r.role).not.toContain(secret('silas_slips'));
  });
});
