import type { NewEvent } from '../domain/events.ts';
import type { Story } from '../domain/story/schema.ts';
import { PLAYER_ID } from '../domain/story/schema.ts';
import type { LedgerRecordLike } from '../domain/temporal.ts';
import { applyEvents, emptyTruthSet, holds, type TruthSet } from '../domain/truth-set.ts';
import { storykeeperVerdict } from '../actors/agents/storykeeper.ts';
import { baselineApplied, baselineEvents, withTs, worldConsequences, worldView } from '../actors/agents/world.ts';
import { buildSensitivityMap, type SensitivityMap } from '../actors/classifiers/sensitivity-map.ts';
import { buildLexicon, parseInput, type Lexicon, type ParsedInput } from '../actors/classifiers/stage1.ts';
import { classifyInput } from '../actors/classifiers/stage2.ts';
import { matchSensitivity } from '../actors/classifiers/stage3.ts';
import { sceneHistoryNeeds } from '../actors/scene-history.ts';
import { assembleCast, buildSceneData, buildSceneEntities, type SceneData, type SceneEntities } from '../actors/scene-model.ts';

/**
 * A headless walk of a story's discrete state through the real turn rules — stage 1
 * (the parser), stage 2 (facts, checked by the world and the storykeeper), stage 3
 * (sensitivity matches), the world's consequences and the storykeeper's verdict — with
 * no agents, no narrator and no database. A state is the scene plus what persists
 * (holdings, places, gates fired, goals, world keys, visited scenes, judged categories,
 * relationship shifts in steps of 0.5). `story check` explores it breadth-first, so the
 * path to any state is a shortest one in player inputs.
 *
 * @example
 * const world = new StoryExplorer(story);
 * const start = world.initial();
 * for (const input of world.inputs(start)) world.step(start, input);
 */
export interface ExplorerScene {
  key: string;
  data: SceneData & { cast: string[] };
  entities: SceneEntities;
  lexicon: Lexicon;
  sensitivity: SensitivityMap;
  needsHistory: boolean;
}

export interface ExplorerState {
  scene: ExplorerScene;
  ts: TruthSet;
  turn: number;
  /** The session's events so far (kept only for stories with temporal conditions). */
  history: LedgerRecordLike[];
  ended: boolean;
}

export class StoryExplorer {
  readonly story: Story;
  readonly #scenes = new Map<string, ExplorerScene>();
  readonly #parses = new Map<string, ParsedInput>();
  readonly #temporal: boolean;

  constructor(story: Story) {
    this.story = story;
    this.#temporal = story.scenes.some((s) => {
      const n = sceneHistoryNeeds(s);
      return n.entry || n.stage2 || n.turn;
    });
  }

  initial(): ExplorerState {
    return this.#enter(this.story.start, emptyTruthSet(), 0, []);
  }

  /** The inputs worth trying in a state: authored topics, every item and person in reach, every way out. */
  inputs(state: ExplorerState): string[] {
    return candidateInputs(state.scene.data, state.scene.entities, state.ts);
  }

  /**
   * The state of a session already in `sceneKey` with this cast and truth set (e.g. read back
   * from a real session's ledger), so the exploration can go on from where a player stands.
   */
  resume(sceneKey: string, cast: readonly string[], ts: TruthSet, turn: number, history: LedgerRecordLike[] = []): ExplorerState {
    const data = { ...buildSceneData(this.story, sceneKey), cast: [...cast] };
    return { scene: this.#scene(sceneKey, data, ts), ts, turn, history: this.#temporal ? history : [], ended: false };
  }

  /** One turn with `text`; the state is not changed. */
  step(state: ExplorerState, text: string): ExplorerState {
    if (state.ended) return state;
    const turn = state.turn + 1;
    const { scene } = state;
    const parsed = this.#parse(scene, text);
    const input: NewEvent = { type: 'PlayerInput', data: { clientInputId: `explore-${turn}`, text }, source: 'player', turn };
    let ts = state.ts;
    const history = this.#temporal ? [...state.history] : state.history;
    const apply = (events: readonly NewEvent[]) => {
      const stamped = withTs(ts, events.map((e) => ({ ...e, turn })));
      if (this.#temporal) history.push(...(stamped as LedgerRecordLike[]));
      ts = applyEvents(ts, stamped);
    };
    const before = ts;
    const earlier = this.#temporal ? [...state.history] : [];
    apply([input]);
    if (!baselineApplied(ts)) apply(baselineEvents(scene.data.storyId, scene.data.baseline));
    const facts = classifyInput(parsed, { data: scene.data, entities: scene.entities, cast: scene.data.cast, truthSet: ts, history: earlier });
    const judgments = matchSensitivity(parsed, facts.events, scene.sensitivity, { inputId: turn, turn, sceneId: scene.data.sceneId });
    const world = worldConsequences(scene.data, scene.entities.objects, ts, facts.events);
    const verdict = storykeeperVerdict(scene.data, scene.entities, ts, [...facts.events, ...judgments, ...world.events], this.#temporal ? [...history] : []);
    void before;
    apply([...facts.events, ...judgments, ...world.events, ...verdict.events]);
    if (!verdict.exit) return { scene, ts, turn, history, ended: false };
    if (verdict.exit.reason === 'ending' || verdict.exit.nextSceneKey === null) return { scene, ts, turn, history, ended: true };
    apply([{ type: 'SceneExited', data: { sceneId: scene.data.sceneId, sceneKey: scene.key, reason: 'departure', nextSceneKey: verdict.exit.nextSceneKey }, source: 'runtime' } as NewEvent]);
    return this.#enter(verdict.exit.nextSceneKey, ts, turn, history);
  }

  /** A key for the state's persisting facts (what later turns can depend on). */
  key(state: ExplorerState): string {
    if (state.ended) return 'THE END';
    const props = state.ts.persistent
      .filter((p) => p.predicate !== 'tier' && p.predicate !== 'present')
      .map((p) => `${p.predicate}(${p.args.join(',')})`)
      .sort();
    const world = Object.entries(state.ts.world)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .sort();
    const judged = [...new Set(state.ts.judgments.filter((j) => j.confidence >= 0.5).map((j) => `${j.category}:${j.subject ?? ''}`))].sort();
    const acc = Object.entries(state.ts.accumulators)
      .map(([k, v]) => `${k}=${Math.max(-2, Math.min(2, Math.round(v * 2) / 2))}`)
      .filter((x) => !x.endsWith('=0'))
      .sort();
    return [state.scene.key, ...props, ...world, ...judged, ...acc].join('|');
  }

  #parse(scene: ExplorerScene, text: string): ParsedInput {
    const k = `${scene.key}\u0000${scene.entities.objects.map((o) => o.id).join(',')}\u0000${text}`;
    let p = this.#parses.get(k);
    if (!p) {
      p = parseInput(text, scene.lexicon);
      this.#parses.set(k, p);
    }
    return p;
  }

  #enter(key: string, ts0: TruthSet, turn: number, history: LedgerRecordLike[]): ExplorerState {
    const data0 = buildSceneData(this.story, key);
    const cast = assembleCast(data0.scene, ts0, data0.setting.features, history);
    const data = { ...data0, cast };
    const entered: NewEvent = { type: 'SceneEntered', data: { sceneId: data.sceneId, sceneKey: key, characters: cast }, source: 'runtime' } as NewEvent;
    const stamped = withTs(ts0, [entered]);
    const ts = applyEvents(ts0, stamped);
    const h = this.#temporal ? [...history, ...(stamped as LedgerRecordLike[])] : history;
    return { scene: this.#scene(key, data, ts), ts, turn, history: h, ended: false };
  }

  #scene(key: string, data: SceneData & { cast: string[] }, ts: TruthSet): ExplorerScene {
    const cast = data.cast;
    const entities = buildSceneEntities(this.story, data, cast, ts);
    const cacheKey = `${key}|${cast.join(',')}|${entities.objects.map((o) => o.id).join(',')}`;
    let scene = this.#scenes.get(cacheKey);
    if (!scene) {
      const lexicon = buildLexicon({
        characters: entities.characters,
        objects: entities.objects,
        settings: [data.setting, ...data.adjacent, ...data.places.filter((p) => p.id !== data.setting.id && !data.adjacent.some((a) => a.id === p.id))],
        absentCharacters: data.people ?? [],
        absentObjects: data.things ?? [],
      });
      const n = sceneHistoryNeeds(data.scene);
      scene = { key, data, entities, lexicon, sensitivity: buildSensitivityMap(data.scene, entities.characters), needsHistory: n.stage2 || n.turn };
      this.#scenes.set(cacheKey, scene);
    }
    return scene;
  }
}

/** The inputs worth trying in a scene: authored topics, every item and person in reach, every way out. */
export function candidateInputs(data: SceneData & { cast: string[] }, entities: SceneEntities, ts: TruthSet): string[] {
  const view = worldView(data.baseline, ts);
  const out = new Set<string>(['look']);
  const people = entities.characters;
  const topics = sceneTopics(data.scene);
  for (const c of people) {
    out.add(`talk to ${c.name}`);
    for (const t of topics) out.add(`ask ${c.name} about ${t}`);
    out.add(`comfort ${c.name}`);
  }
  for (const o of entities.objects) {
    const holder = view.holders[o.id];
    const lying = view.locations[o.id] === data.setting.id;
    if (holder === undefined && !lying) continue;
    if (holder !== PLAYER_ID) {
      out.add(`examine ${o.name}`);
      if (o.portable) out.add(`take ${o.name}`);
    }
    for (const a of o.affordances) out.add(`${a.action} ${o.name}`);
    if (holder === PLAYER_ID) {
      out.add(`drop ${o.name}`);
      for (const c of people) {
        out.add(`give ${o.name} to ${c.name}`);
        out.add(`show ${o.name} to ${c.name}`);
      }
    } else if (holder !== undefined && people.some((c) => c.id === holder)) {
      const c = people.find((x) => x.id === holder);
      if (c) out.add(`ask ${c.name} for ${o.name}`);
    }
  }
  for (const a of data.adjacent) out.add(`go to ${a.name}`);
  return [...out];
}

/** Topics a scene's conditions listen for (`topicMentioned`, `SpeechAct` topics), plus "it" for plain talk. */
export function sceneTopics(scene: Story['scenes'][number]): string[] {
  const out = new Set<string>();
  const visit = (x: unknown) => {
    if (Array.isArray(x)) x.forEach(visit);
    else if (x && typeof x === 'object') {
      for (const [k, v] of Object.entries(x)) {
        if (k === 'topicMentioned' && typeof v === 'string') out.add(v);
        else if (k === 'topic' && typeof v === 'string') out.add(v);
        else visit(v);
      }
    }
  };
  visit([scene.gates, scene.goals, scene.departures, scene.ending ?? null, scene.constraints]);
  return [...out];
}

export { holds };
