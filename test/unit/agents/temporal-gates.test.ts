import { describe, expect, it, vi } from 'vitest';
import { storykeeperVerdict } from '../../../src/actors/agents/storykeeper.ts';
import { EngineSession } from '../../support/engine-session.ts';
import { predicateUsesHistory, sceneHistoryNeeds, type HistorySource } from '../../../src/actors/scene-history.ts';
import { buildSceneData, buildSceneEntities } from '../../../src/actors/scene-model.ts';
import { StoryBehaviour, type StorySceneData } from '../../../src/actors/story-behaviour.ts';
import type { NewEvent } from '../../../src/domain/events.ts';
import { loadStoryFile } from '../../../src/domain/story/loader.ts';
import type { Story } from '../../../src/domain/story/schema.ts';
import { applyEvents, emptyTruthSet, type TruthSet } from '../../../src/domain/truth-set.ts';
import { sampleStory, WALKTHROUGH } from '../../support/story.ts';

/**
 * Temporal story conditions (after / since / sequence) see the whole session, not just
 * the current turn (src/actors/scene-history.ts). The fixture's gates can only hold
 * across turns: test/fixtures/tide-and-boat.yaml.
 */
const FIXTURE = 'test/fixtures/tide-and-boat.yaml';

type Stamped = NewEvent & { narrativeTs: number };

const input = (text: string, turn: number): NewEvent => ({ type: 'PlayerInput', data: { clientInputId: `c${turn}`, text }, source: 'player', turn });
const examine = (target: string): NewEvent => ({ type: 'ExaminationAction', data: { actor: 'player', target }, source: 'test' });
const act = (action: string, target: string): NewEvent => ({ type: 'ActionPerformed', data: { actor: 'player', action, target }, source: 'test' });
const say = (content: string): NewEvent => ({ type: 'SpeechAct', data: { speaker: 'player', addressee: 'ewan', content }, source: 'test' });

/**
 * A session's ledger in memory: earlier turns are "durable" rows; `verdict` plays the
 * current turn the way StoryBehaviour.storykeeper does (PlayerInput already folded into
 * the truth set, the act as this turn's event, earlier rows as history).
 */
class Ledgerish {
  readonly rows: Stamped[] = [];
  truthSet: TruthSet = emptyTruthSet();
  #turn = 0;

  constructor(readonly story: Story) {}

  /** A completed earlier turn: its input and its act. */
  played(text: string, ...events: NewEvent[]): this {
    this.#append([input(text, ++this.#turn), ...events]);
    return this;
  }

  /** The current turn: the input is durable, the acts are this turn's, not yet written. */
  verdict(text: string, events: NewEvent[], withHistory = true) {
    this.#append([input(text, ++this.#turn)]);
    const data = buildSceneData(this.story, 'the_quay');
    const entities = buildSceneEntities(this.story, data, ['ewan'], this.truthSet);
    const v = storykeeperVerdict(data, entities, this.truthSet, events, withHistory ? [...this.rows] : []);
    // The turn becomes durable (as the runtime does before the next turn).
    this.#append([...events, ...v.events]);
    return v;
  }

  #append(events: NewEvent[]): void {
    let ts = this.truthSet.lastNarrativeTs;
    const stamped = events.map((e) => ({ ...e, narrativeTs: ++ts }) as Stamped);
    this.rows.push(...stamped);
    this.truthSet = applyEvents(this.truthSet, stamped);
  }
}

const released = (v: ReturnType<Ledgerish['verdict']>) => v.released.map((r) => r.gateId);

describe('storykeeper: temporal gates over a history spanning several turns', () => {
  it('after: the lamp taken two turns ago opens the gate when Ewan is asked about his rope (and not before)', async () => {
    const story = await loadStoryFile(FIXTURE);
    const l = new Ledgerish(story);
    expect(released(l.verdict('ask ewan about the rope', [say('about the rope')]))).toEqual([]);
    l.played('take the lamp', act('take', 'lamp')).played('drop the lamp', act('drop', 'lamp'));
    // Without the earlier turns the take is invisible: this is the gap being closed.
    const blind = new Ledgerish(story).played('take the lamp', act('take', 'lamp'));
    expect(released(blind.verdict('ask ewan about the rope', [say('about the rope')], false))).toEqual([]);
    expect(released(l.verdict('ask ewan about the rope', [say('about the rope')]))).toEqual(['ewan_noticed']);
  });

  it('sequence with within: tide table then the boat, in different turns, within 8 narrative steps', async () => {
    const story = await loadStoryFile(FIXTURE);
    // Rows: PI 1, Exam 2 | 3 looks: PI+Exam each (3..8) | PI 9, SpeechAct 10 → span 10 − 2 = 8.
    const inTime = new Ledgerish(story).played('examine the tide table', examine('tide_table'));
    for (let i = 0; i < 3; i++) inTime.played('look', examine('quay'));
    expect(released(inTime.verdict('ask ewan about the boat', [say('about the boat')]))).toEqual(['boat_due']);
    // One more idle turn: span 10 > 8.
    const late = new Ledgerish(story).played('examine the tide table', examine('tide_table'));
    for (let i = 0; i < 4; i++) late.played('look', examine('quay'));
    expect(released(late.verdict('ask ewan about the boat', [say('about the boat')]))).toEqual([]);
    // The order matters: the boat first, then the tide table, does not open it.
    const reversed = new Ledgerish(story).played('ask ewan about the boat', say('about the boat'));
    expect(released(reversed.verdict('examine the tide table', [examine('tide_table')]))).toEqual([]);
    // Current turn only (the old behaviour): never.
    const blind = new Ledgerish(story).played('examine the tide table', examine('tide_table'));
    expect(released(blind.verdict('ask ewan about the boat', [say('about the boat')], false))).toEqual([]);
  });

  it('since: holding the lamp since the tide table opens the gate; a drop in between keeps it shut until the table is read again', async () => {
    const story = await loadStoryFile(FIXTURE);
    const held = new Ledgerish(story).played('take the lamp', act('take', 'lamp')).played('examine the tide table', examine('tide_table'));
    expect(released(held.verdict('ask ewan about the lamp', [say('about the lamp')]))).toEqual(['steady_lamp']);

    const broken = new Ledgerish(story)
      .played('take the lamp', act('take', 'lamp'))
      .played('examine the tide table', examine('tide_table'))
      .played('drop the lamp', act('drop', 'lamp'))
      .played('take the lamp', act('take', 'lamp'));
    // Held now, but not continuously since the tide table was read.
    expect(released(broken.verdict('ask ewan about the lamp', [say('about the lamp')]))).toEqual([]);
    broken.played('examine the tide table', examine('tide_table'));
    expect(released(broken.verdict('ask ewan about the lamp', [say('about the lamp')]))).toEqual(['steady_lamp']);
  });

  it('the scene knows at entry which of its evaluation points need the history', async () => {
    const story = await loadStoryFile(FIXTURE);
    expect(sceneHistoryNeeds(story.scenes[0]!)).toEqual({ entry: false, stage2: false, turn: true });
    for (const scene of (await sampleStory()).scenes) expect(sceneHistoryNeeds(scene)).toEqual({ entry: false, stage2: false, turn: false });
    expect(predicateUsesHistory({ not: { any: [{ characterPresent: 'x' }, { eventOccurred: { type: 'GateFired' } }] } })).toBe(true);
    expect(predicateUsesHistory({ threshold: { of: [{ characterPresent: 'x' }, { topicMentioned: 'y' }], minMatch: 1 } })).toBe(false);
  });
});

describe('StoryBehaviour reads the history only for scenes with temporal conditions', () => {
  const counting = (inner: HistorySource | null) => {
    const calls: number[] = [];
    const source: HistorySource = {
      async eventsSince(sessionId, after) {
        calls.push(after);
        return inner ? inner.eventsSince(sessionId, after) : [];
      },
    };
    return { source, calls };
  };

  it('a story without temporal conditions never reads it; one with them reads it every turn', async () => {
    const plain = await sampleStory();
    const s = new EngineSession(new StoryBehaviour({ stories: async () => plain }), { storyId: plain.id });
    const reads = vi.spyOn(s, 'eventsSince');
    await s.start();
    for (const line of WALKTHROUGH.slice(0, 4)) await s.send(line);
    expect(reads).not.toHaveBeenCalled();

    const temporal = await loadStoryFile(FIXTURE);
    const t = new EngineSession(new StoryBehaviour({ stories: async () => temporal }), { storyId: temporal.id });
    const temporalReads = vi.spyOn(t, 'eventsSince');
    await t.start();
    await t.send('look');
    await t.send('look');
    expect(temporalReads).toHaveBeenCalledTimes(2);
  });

  it('through the engine, the ledger history has the temporal semantics (the gate opens a turn later, not before)', async () => {
    const story = await loadStoryFile(FIXTURE);
    const behaviour = new StoryBehaviour({ stories: async () => story });
    const s = new EngineSession(behaviour, { storyId: story.id });
    await s.start();
    const gates = async (line: string) => (await s.send(line)).events.flatMap((e) => (e.type === 'GateFired' ? [e.data.gateId] : []));
    expect(await gates('take the lamp')).toEqual([]);
    expect(await gates('examine the tide table')).toEqual([]);
    expect(await gates('ask Ewan about the boat')).toEqual(['boat_due']);
    expect(await gates('ask Ewan about the lamp')).toEqual(['steady_lamp']);
    expect(await gates('ask Ewan about the rope')).toEqual(['ewan_noticed']);
    const data = s.scene!.definition.data as StorySceneData;
    expect(data.historyNeeds).toEqual({ entry: false, stage2: false, turn: true });
  });

  it('stage 2 sees the history too: a constraint lifted by an earlier turn (eventOccurred)', async () => {
    const base = await loadStoryFile(FIXTURE);
    const scene = base.scenes[0]!;
    const story: Story = {
      ...base,
      scenes: [
        {
          ...scene,
          constraints: [
            {
              id: 'not_yet',
              text: 'Ewan shakes his head: read the tide table first.',
              kind: 'soft',
              forbids: { action: 'take', target: 'lamp' },
              unless: { eventOccurred: { type: 'ExaminationAction', actor: 'player', target: 'tide_table' } },
            },
          ],
        },
      ],
    };
    const s = new EngineSession(new StoryBehaviour({ stories: async () => story }), { storyId: story.id });
    await s.start();
    expect(sceneHistoryNeeds(story.scenes[0]!)).toEqual({ entry: false, stage2: true, turn: true });
    const kinds = async (line: string) => (await s.send(line)).events.map((e) => e.type);
    expect(await kinds('take the lamp')).toContain('ConstraintViolation');
    await kinds('examine the tide table');
    const took = await kinds('take the lamp');
    expect(took).toContain('ActionPerformed');
    expect(took).not.toContain('ConstraintViolation');
  });

  it('a scene with temporal conditions reads the rows once per turn, up to the truth set it evaluates on', async () => {
    const story = await loadStoryFile(FIXTURE);
    const local = new EngineSession(new StoryBehaviour({ stories: async () => story }), { storyId: story.id });
    const { source, calls } = counting(local);
    // A second behaviour reading `local`'s history as if it were the ledger (the engine's path: `services.history`).
    const behaviour = new StoryBehaviour({ stories: async () => story, history: source });
    await local.start();
    await local.send('examine the tide table');
    await local.send('ask Ewan about the boat');
    const req = {
      session: { sessionId: 'mirror', storyId: story.id },
      scene: local.scene!,
      truthSet: local.truthSet,
      input: { inputId: 99, clientInputId: 'c99', text: 'look', turn: 3, narrativeTs: local.truthSet.lastNarrativeTs },
      results: {},
      signal: new AbortController().signal,
    };
    await behaviour.storykeeper(req);
    expect(calls).toEqual([0]);
  });
});
