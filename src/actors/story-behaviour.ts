import { z } from 'zod';
import type { NewEvent } from '../domain/events.ts';
import { PLAYER_ID, type Story } from '../domain/story/schema.ts';
import type { LedgerRecordLike } from '../domain/temporal.ts';
import { applyEvents, emptyTruthSet, holds, truthSetSchema, type TruthSet } from '../domain/truth-set.ts';
import type { FrameComputer } from '../inference/frame/features.ts';
import type { GraphStore } from '../persistence/graph/graph-store.ts';
import { RuleFrameComputer } from '../inference/frame/rule-frame-computer.ts';
import type { LlmProvider, LlmRole } from '../inference/llm/provider.ts';
import { ScriptedProvider } from '../inference/llm/scripted.ts';
import { forSession } from '../inference/llm/session-provider.ts';
import type {
  AgentResult,
  CharacterRequest,
  Json,
  NarratorResult,
  SceneBehaviour,
  SceneDefinition,
  SceneEntryRequest,
  SceneExitPlan,
  SceneExitPlanRequest,
  SessionInfo,
  StageResult,
  TurnRequest,
  WarmScene,
} from './behaviour.ts';
import { characterIntent, type CharacterIntent, type CharacterTurn } from './agents/character.ts';
import { emotionsNow } from './agents/emotions.ts';
import { frameHistoryEvent, frameHistoryOf, frameInputFor } from './agents/frame-input.ts';
import { playerEventOf } from './agents/player-event.ts';
import { historyEntryOf, pushHistory } from '../inference/frame/decoder.ts';
import type { CharacterPrediction } from '../inference/frame/character-schema.ts';
import { describePrediction, type FrameObserver } from './frame-observer.ts';
import { composeNarration, narrateTurn, type NarrationContext } from './agents/narrator.ts';
import { sequenceIntents, type Beat } from './agents/reconciler.ts';
import { storyScript } from './agents/scripted-script.ts';
import { progressiveHint } from './agents/hints.ts';
import { characterBoundary, storykeeperVerdict, type GateRelease, type StorykeeperVerdict } from './agents/storykeeper.ts';
import { baselineApplied, baselineEvents, worldConsequences, worldView, type WorldView } from './agents/world.ts';
import { buildSensitivityMap, type SensitivityMap } from './classifiers/sensitivity-map.ts';
import { earlierHistory, sceneHistoryNeeds, type HistoryAware, type HistorySource, type SceneHistoryNeeds } from './scene-history.ts';
import { buildLexicon, parseInput, type Lexicon, type ParseContext, type ParsedInput } from './classifiers/stage1.ts';
import { remembersHostility, type ActTone } from './agents/reactions.ts';
import { affordanceAnswers, canonicalVerb, HOSTILE_ACTIONS, KIND_ACTIONS } from '../domain/story/verb-synonyms.ts';
import { classifyInput, type FactResult } from './classifiers/stage2.ts';
import { decomposeInput } from './classifiers/decomposition.ts';
import { matchSensitivity } from './classifiers/stage3.ts';
import { deepInterpretation } from './classifiers/stage4.ts';
import { assembleCast, buildSceneData, buildSceneEntities, buildSceneGraph, type SceneData, type SceneEntities, type SceneGraph } from './scene-model.ts';

/**
 * The real `SceneBehaviour` (src/actors/behaviour.ts): scene entry in six steps, the turn
 * through classifier stages 1–4 and the agents, scene exit planning — built from the
 * story modules. Process services come through the constructor; everything crossing the
 * seam is plain JSON. Without an LLM router it speaks through the story-aware
 * `ScriptedProvider`, so a story plays offline.
 *
 * @example
 * const behaviour = new StoryBehaviour({ stories: async () => story });
 * const engine = new SessionEngine({ db, behaviour });
 */
export interface StoryBehaviourServices {
  /** The story of a session (`storyId` null → the default story). */
  stories: (storyId: string | null) => Promise<Story>;
  /** Per-role LLM providers (e.g. `LlmRouter`); default: ScriptedProvider with `storyScript` for every role. */
  llm?: { forRole(role: LlmRole): LlmProvider };
  frames?: FrameComputer;
  /**
   * The graph store: scene entry reads the session's own relational subgraph (scope = session
   * id, forked from the story and updated at every scene exit). Without it, the story's
   * authored relations are used.
   */
  graph?: Pick<GraphStore, 'relationalSubgraph'>;
  /**
   * Stage 1's optional LLM decomposition (the `classifier` role, only when configured by name):
   * asked when the rules are unsure of an input, arbitrated by them (src/actors/classifiers/decomposition.ts).
   */
  classifier?: LlmProvider;
  /** How long stage 1 waits for the classifier before the rules answer alone (default 1,500 ms). */
  classifierTimeoutMs?: number;
  /**
   * The session's entity snapshots (`entitySnapshotReader(db)`): scene entry step 2 adds the
   * cast's stored component snapshots (written by scene exits and deferred workflows) to the
   * entity state as `snapshots`. Without it, entity state comes from the truth set alone.
   */
  snapshots?: (sessionId: string, entityIds: readonly string[]) => Promise<Record<string, Record<string, unknown>>>;
  /** Observer of each storykeeper verdict (a terminal client shows gates and goals as they fire). */
  onStorykeeper?: (sessionId: string, output: StorykeeperOutput) => void;
  /**
   * The session's durable ledger rows (the engine's `Ledger`, or `ledgerHistoryReader(db)`), read
   * during a turn only by scenes whose conditions use After / Since / Sequence / eventOccurred, so
   * those see every earlier turn (src/actors/scene-history.ts). A source attached for one session
   * (`attachHistory`) takes precedence. Without either, temporal conditions see only the current turn.
   */
  history?: HistorySource;
  /** Observer of every frame computed (scene entry and each character turn): debug log, `play --show-frames`, a gateway debug stream. */
  onFrame?: FrameObserver;
}

/** Behaviour-owned extras in `SceneDefinition.data`. */
export interface StorySceneData extends SceneData {
  cast: string[];
  /** Session turn counter at entry (scene turn = input.turn − entryTurn). */
  entryTurn: number;
  /** Relationship accumulators at entry (scene-exit edge updates are the difference). */
  entryAccumulators: Record<string, number>;
  /** Cast members the player meets for the first time here (they greet). */
  firstMeetings: string[];
  /** Which evaluation points read the session history (computed at entry; absent in older snapshots → recomputed). */
  historyNeeds?: SceneHistoryNeeds;
}

export interface NarratorWarm {
  title: string;
  sceneName: string;
  /** The scene's opening prose (clients show it on entry). */
  opening: string;
  atmosphere: string;
  cast: Array<{ id: string; name: string; description: string }>;
  hint: string | null;
}

export interface WorldOutput {
  notes: string[];
  view: WorldView;
}

export interface StorykeeperOutput {
  released: GateRelease[];
  goalsCompleted: StorykeeperVerdict['goalsCompleted'];
  exit: StorykeeperVerdict['exit'];
  hint: string | null;
}

const scripted = new ScriptedProvider({ script: storyScript });
const defaultLlm = { forRole: (_role: LlmRole): LlmProvider => scripted };

/** Warm-scene parts, read back from the seam (plain JSON, possibly restored from a snapshot). */
interface Warm {
  data: StorySceneData;
  entities: SceneEntities;
  graph: SceneGraph;
  frames: Record<string, { text: string; prediction?: CharacterPrediction }>;
  sensitivity: SensitivityMap;
  narrator: NarratorWarm;
}

export class StoryBehaviour implements SceneBehaviour, HistoryAware {
  readonly timeouts: { stage1: number; stage2: number; stage3: number; stage4: number; character: number; storykeeper: number; world: number; reconciler: number; narrator: number };
  readonly #services: StoryBehaviourServices;
  readonly #llm: { forRole(role: LlmRole): LlmProvider };
  readonly #frames: FrameComputer;
  readonly #lexicons = new WeakMap<object, Lexicon>();
  /** History sources attached for single sessions, by session id. */
  readonly #attached = new Map<string, HistorySource>();

  constructor(services: StoryBehaviourServices) {
    this.#services = services;
    this.#llm = services.llm ?? defaultLlm;
    this.#frames = services.frames ?? new RuleFrameComputer();
    // With a classifier, stage 1 may wait for it (then answers by the rules): its member timeout covers that wait.
    const stage1 = services.classifier ? (services.classifierTimeoutMs ?? 1_500) + 300 : 200;
    this.timeouts = { stage1, stage2: 200, stage3: 200, stage4: 15_000, character: 20_000, storykeeper: 2_000, world: 2_000, reconciler: 1_000, narrator: 60_000 };
  }

  /** A history source for one session (a behaviour built without `services.history`, e.g. in tests). */
  attachHistory(sessionId: string, source: HistorySource): void {
    this.#attached.set(sessionId, source);
  }

  /**
   * The session's rows up to `ts` (from its start) when `needed` — i.e. when the scene has a
   * temporal condition at this evaluation point — else none, at no cost. A failed read
   * throws: the runtime marks the member degraded rather than evaluating on a partial past.
   */
  async #earlier(session: SessionInfo, ts: TruthSet, needed: boolean): Promise<LedgerRecordLike[]> {
    if (!needed) return [];
    const source = this.#attached.get(session.sessionId) ?? this.#services.history;
    return source ? earlierHistory(source, session.sessionId, ts.lastNarrativeTs) : [];
  }

  async openingSceneKey(session: SessionInfo): Promise<string> {
    return (await this.#services.stories(session.storyId)).start;
  }

  // ---------------------------------------------------------------- scene entry

  async loadSceneDefinition(req: SceneEntryRequest): Promise<SceneDefinition> {
    const story = await this.#services.stories(req.session.storyId);
    const data = buildSceneData(story, req.sceneKey);
    const ts = truthOf(req.truthSet);
    const historyNeeds = sceneHistoryNeeds(data.scene);
    const cast = assembleCast(data.scene, ts, data.setting.features, await this.#earlier(req.session, ts, historyNeeds.entry));
    const entryAccumulators = Object.fromEntries(Object.entries(ts.accumulators).filter(([k]) => k.startsWith('rel:')));
    const metBefore = new Set(
      story.scenes
        .filter((s) => s.id !== req.sceneKey && holds(ts, 'visited', s.id))
        .flatMap((s) => [...s.cast.required, ...s.cast.contingent.map((c) => c.character)]),
    );
    // Re-entering a scene (a resumed game) greets nobody again.
    const reentry = holds(ts, 'visited', req.sceneKey);
    const firstMeetings = reentry ? [] : cast.filter((id) => !metBefore.has(id));
    const full: StorySceneData = { ...data, cast, entryTurn: req.turn, entryAccumulators, firstMeetings, historyNeeds };
    return { sceneId: data.sceneId, sceneKey: data.sceneKey, cast, data: full };
  }

  async loadEntityState(req: SceneEntryRequest): Promise<Json> {
    const story = await this.#services.stories(req.session.storyId);
    const data = req.warm.definition?.data as StorySceneData;
    const entities = buildSceneEntities(story, data, data.cast, truthOf(req.truthSet));
    if (!this.#services.snapshots) return entities;
    return { ...entities, snapshots: await this.#services.snapshots(req.session.sessionId, data.cast) } as unknown as Json;
  }

  async loadGraphContext(req: SceneEntryRequest): Promise<Json> {
    const story = await this.#services.stories(req.session.storyId);
    const data = req.warm.definition?.data as StorySceneData;
    const authored = buildSceneGraph(story, data, data.cast);
    const graph = this.#services.graph;
    if (!graph) return authored;
    const sub = await graph.relationalSubgraph(req.session.sessionId, [PLAYER_ID, ...data.cast]);
    // A session without its own graph scope (not forked) keeps the authored web.
    if (sub.characters.length === 0) return authored;
    const edges = sub.edges
      .filter((e) => e.from !== e.to)
      .map((e) => {
        const a = authored.edges.find((r) => r.from === e.from && r.to === e.to);
        return {
          from: e.from,
          to: e.to,
          trust_reliability: e.trust_reliability,
          trust_competence: e.trust_competence,
          trust_benevolence: e.trust_benevolence,
          affection: e.affection,
          debt: e.debt,
          knows: a?.knows ?? [],
          believes: a?.believes ?? [],
          blindTo: a?.blindTo ?? [],
          substrate: a?.substrate ?? {},
        };
      });
    return { ...authored, edges } satisfies SceneGraph;
  }

  async computeFrames(req: SceneEntryRequest): Promise<Json> {
    const data = req.warm.definition?.data as StorySceneData;
    const entities = req.warm.entities as SceneEntities;
    const graph = req.warm.graph as SceneGraph;
    const ts = truthOf(req.truthSet);
    const roles = rolesOf(entities);
    const inputs = entities.characters.map((c) => frameInputFor({ ...c, emotions: emotionsNow(c, ts) }, graph.edges, data.scene, { castSize: entities.characters.length, roles }, undefined, frameHistoryOf(ts, c.id)));
    const frames = await this.#frames.computeFrames(inputs);
    frames.forEach((f, i) =>
      this.#services.onFrame?.({ sessionId: req.session.sessionId, sceneKey: data.sceneKey, phase: 'scene_entry', turn: null, characterId: f.characterId, schema: f.schema, prediction: f.prediction, history: inputs[i]!.history, text: f.text, tokenCount: f.tokenCount }),
    );
    return Object.fromEntries(frames.map((f) => [f.characterId, { text: f.text, tokenCount: f.tokenCount, prediction: f.prediction }]));
  }

  async buildSensitivityMap(req: SceneEntryRequest): Promise<Json> {
    const data = req.warm.definition?.data as StorySceneData;
    return buildSensitivityMap(data.scene, (req.warm.entities as SceneEntities).characters);
  }

  async warmNarratorContext(req: SceneEntryRequest): Promise<Json> {
    const data = req.warm.definition?.data as StorySceneData;
    const entities = req.warm.entities as SceneEntities;
    const warm: NarratorWarm = {
      title: data.storyTitle,
      sceneName: data.scene.name,
      opening: data.scene.description,
      atmosphere: data.setting.atmosphere,
      cast: entities.characters.map((c) => ({ id: c.id, name: c.name, description: c.description })),
      hint: progressiveHint(data, entities.objects, truthOf(req.truthSet)),
    };
    return warm;
  }

  // ---------------------------------------------------------------- the turn

  async stage1(req: TurnRequest): Promise<StageResult> {
    const rules = this.#parse(req);
    const classifier = this.#services.classifier;
    if (!classifier) return { output: rules, events: [] };
    const parsed = await decomposeInput(forSession(classifier, req.session.sessionId), req.input.text, rules, this.#lexicon(req.scene).entries, {
      timeoutMs: this.#services.classifierTimeoutMs ?? 1_500,
      ...(req.signal ? { signal: req.signal } : {}),
    });
    return { output: parsed, events: [] };
  }

  async stage2(req: TurnRequest): Promise<StageResult> {
    const w = warmOf(req.scene);
    const ts = truthOf(req.truthSet);
    const history = await this.#earlier(req.session, ts, historyNeedsOf(w.data).stage2);
    const facts = classifyInput(this.#parsedOf(req), { data: w.data, entities: w.entities, cast: w.data.cast, truthSet: ts, history });
    // The story's baseline (who holds what, where things lie) enters the ledger with the first turn.
    const baseline = baselineApplied(ts) ? [] : baselineEvents(w.data.storyId, w.data.baseline);
    return { output: facts, events: [...baseline, ...facts.events] };
  }

  async stage3(req: TurnRequest): Promise<StageResult> {
    const w = warmOf(req.scene);
    const events = matchSensitivity(this.#parsedOf(req), factEventsOf(req), w.sensitivity, { inputId: req.input.inputId, turn: req.input.turn, sceneId: w.data.sceneId });
    return { output: { matches: events.length }, events };
  }

  async stage4(req: TurnRequest): Promise<StageResult> {
    const w = warmOf(req.scene);
    const provisional = (req.results.stage3?.events ?? []).flatMap((e) =>
      e.type === 'InterpretiveJudgment'
        ? [{ id: e.data.id, category: e.data.category, ...(e.data.subject ? { subject: e.data.subject } : {}), confidence: e.data.confidence, description: e.data.description }]
        : [],
    );
    const events = await deepInterpretation(
      this.#llmFor('stage4', req),
      { text: req.input.text, provisional, turn: req.input.turn, sceneId: w.data.sceneId, inputId: req.input.inputId, sceneKey: w.data.sceneKey },
      req.signal,
    );
    return { output: { refined: events.length }, events };
  }

  /** The role's provider, with the session stamped on every request (per-session cost and budgets). */
  #llmFor(role: LlmRole, req: TurnRequest): LlmProvider {
    return forSession(this.#llm.forRole(role), req.session.sessionId);
  }

  async character(req: CharacterRequest): Promise<AgentResult> {
    const t = await this.#characterTurn(req);
    if (!t) return { output: { intent: { action: 'wait', tone: 'neutral' } satisfies CharacterIntent, degraded: false }, events: [] };
    const { intent, degraded } = await characterIntent(this.#llmFor('character', req), t, req.signal);
    // The frame rides along in the output (the inspector shows it); its history entry goes to the truth set.
    // `summary` keeps the prediction readable where the inspector collapses deep objects.
    const frame = t.prediction ? { summary: describePrediction(t.prediction), prediction: t.prediction, text: t.frameText } : null;
    const events = t.history ? [frameHistoryEvent(t.character.id, t.history.before, t.history.after, req.input.turn)] : [];
    return { output: { intent, degraded, frame }, events };
  }

  async storykeeper(req: TurnRequest): Promise<AgentResult> {
    const w = warmOf(req.scene);
    const { ts, inputEvents } = withInput(req);
    const facts = factEventsOf(req);
    const judgments = req.results.stage3?.events ?? [];
    // The same consequences the world agent computes (it runs in parallel), so gates see them this turn.
    const world = worldTurnOf(w, ts, inputEvents, facts);
    // Earlier turns, for temporal gates/goals/exits; this turn's events follow them (storykeeperVerdict).
    const earlier = await this.#earlier(req.session, ts, historyNeedsOf(w.data).turn);
    const verdict = storykeeperVerdict(w.data, w.entities, ts, [...inputEvents, ...facts, ...judgments, ...world.events], earlier);
    const output: StorykeeperOutput = { released: verdict.released, goalsCompleted: verdict.goalsCompleted, exit: verdict.exit, hint: progressiveHint(w.data, w.entities.objects, verdict.truthSet, verdict.history) };
    this.#services.onStorykeeper?.(req.session.sessionId, output);
    const result: AgentResult = { output, events: verdict.events };
    if (verdict.exit) result.sceneExit = { reason: verdict.exit.reason, nextSceneKey: verdict.exit.nextSceneKey };
    return result;
  }

  async world(req: TurnRequest): Promise<AgentResult> {
    const w = warmOf(req.scene);
    const { ts, inputEvents } = withInput(req);
    const turn = worldTurnOf(w, ts, inputEvents, factEventsOf(req));
    const output: WorldOutput = { notes: turn.notes, view: turn.view };
    return { output, events: turn.events };
  }

  async reconciler(req: TurnRequest): Promise<AgentResult> {
    const w = warmOf(req.scene);
    const intents: Record<string, CharacterIntent> = {};
    for (const [id, r] of Object.entries(req.results.characters ?? {})) {
      const intent = (r.output as { intent?: CharacterIntent } | null)?.intent;
      if (intent) intents[id] = intent;
    }
    const sk = storykeeperOutputOf(req);
    const parsed = this.#parsedOf(req);
    const beats = sequenceIntents(intents, { cast: w.data.cast, addressee: parsed.addressee ?? parsed.recipient, releases: sk?.released ?? [] });
    return { output: { beats }, events: [] };
  }

  async narrator(req: TurnRequest, onChunk: (text: string) => void): Promise<NarratorResult> {
    const context = this.narrationContext(req);
    const text = await narrateTurn(this.#llmFor('narrator', req), context, onChunk, req.signal);
    return { text, events: [] };
  }

  fallbackNarration(req: TurnRequest): string {
    return composeNarration(this.narrationContext(req));
  }

  /** What the narrator is allowed to know this turn (the storykeeper's information boundary). */
  narrationContext(req: TurnRequest): NarrationContext {
    const w = warmOf(req.scene);
    const parsed = this.#parsedOf(req);
    const facts = (req.results.stage2?.output ?? null) as FactResult | null;
    const world = (req.results.world?.output ?? null) as WorldOutput | null;
    const sk = storykeeperOutputOf(req);
    const beatsOut = ((req.results.reconciler?.output ?? null) as { beats?: Beat[] } | null)?.beats ?? [];
    const names = nameMap(w);
    const hint = parsed.kind === 'meta' && (parsed.command === 'hint' || parsed.command === 'help') ? sk?.hint ?? w.narrator.hint : null;
    const inventory = parsed.kind === 'meta' && parsed.command === 'inventory' ? inventoryText(w, truthOf(req.truthSet), names) : null;
    return {
      kind: 'narrator',
      title: w.data.storyTitle,
      sceneName: w.data.scene.name,
      atmosphere: w.data.setting.atmosphere,
      playerText: req.input.text,
      act: inventory ?? (hint ? `Hint: ${hint}` : describeAct(parsed, facts, names, w.data.setting.atmosphere)),
      refusal: facts?.refusal?.text ?? null,
      examined: facts?.examined ? { name: facts.examined.name, description: facts.examined.description } : null,
      worldNotes: world?.notes ?? [],
      releases: (sk?.released ?? []).map((r) => ({ speaker: r.speaker ? names[r.speaker] ?? r.speaker : null, content: r.content })),
      beats: beatsOut.map((b) => ({ name: names[b.characterId] ?? b.characterId, kind: b.kind, text: b.text })),
      exit: sk?.exit?.text ?? null,
      ending: sk?.exit?.reason === 'ending',
    };
  }

  // ---------------------------------------------------------------- scene exit

  async planSceneExit(req: SceneExitPlanRequest): Promise<SceneExitPlan> {
    const w = warmOf(req.scene);
    const ts = truthOf(req.truthSet);
    const view = worldView(w.data.baseline, ts);
    const edges = new Map<string, Record<string, number>>();
    for (const [key, value] of Object.entries(ts.accumulators)) {
      if (!key.startsWith('rel:')) continue;
      const delta = value - (w.data.entryAccumulators[key] ?? 0);
      if (Math.abs(delta) < 1e-9) continue;
      const [, from, to, dimension] = key.split(':');
      if (!from || !to || !dimension) continue;
      const k = `${from}→${to}`;
      edges.set(k, { ...(edges.get(k) ?? {}), [dimension]: delta });
    }
    const edgeUpdates = [...edges].map(([k, deltas]) => {
      const [from, to] = k.split('→') as [string, string];
      return { from, to, deltas };
    });
    const entitySnapshots = [
      ...w.entities.characters.map((c) => ({
        entityId: c.id,
        kind: 'character',
        components: { emotions: emotionsNow(c, ts), axes: c.axes, persistence: c.persistence, communicability: c.communicability, lastScene: w.data.sceneKey },
      })),
      ...w.entities.objects.map((o) => ({
        entityId: o.id,
        kind: 'object',
        components: { heldBy: view.holders[o.id] ?? null, location: view.locations[o.id] ?? null, persistence: o.persistence },
      })),
    ];
    // Only the story's ending ends it; an exit for another reason (grace expired, shutdown) without a
    // departure keeps the player in this scene, re-entered on resume.
    const ended = req.reason === 'ending';
    const nextSceneKey = ended ? null : (req.requestedNextSceneKey ?? w.data.sceneKey);
    return {
      entitySnapshots,
      edgeUpdates,
      nextSceneKey,
      entityState: { holders: view.holders, locations: view.locations },
      worldState: view,
      narrativePosition: {
        storyId: w.data.storyId,
        sceneKey: w.data.sceneKey,
        nextSceneKey,
        ended,
        goalsCompleted: w.data.scene.goals.filter((g) => holds(ts, 'goal_completed', g.id)).map((g) => g.id),
        posteriors: w.graph.posteriors,
      },
    };
  }

  // ---------------------------------------------------------------- helpers

  #lexicon(scene: WarmScene): Lexicon {
    const key = scene.definition as object;
    const cached = this.#lexicons.get(key);
    if (cached) return cached;
    const w = warmOf(scene);
    const lexicon = buildLexicon({
      characters: w.entities.characters,
      objects: w.entities.objects,
      settings: [w.data.setting, ...w.data.adjacent, ...(w.data.places ?? []).filter((p) => p.id !== w.data.setting.id && !w.data.adjacent.some((a) => a.id === p.id))],
      absentCharacters: w.data.people ?? [],
      absentObjects: w.data.things ?? [],
    });
    this.#lexicons.set(key, lexicon);
    return lexicon;
  }

  #parse(req: TurnRequest): ParsedInput {
    return parseInput(req.input.text, this.#lexicon(req.scene), pronounContext(truthOf(req.truthSet), req.input.turn, warmOf(req.scene)));
  }

  /** Stage 1's output, or (if stage 1 failed and was replaced by a fallback) a fresh parse — it is pure and cheap. */
  #parsedOf(req: TurnRequest): ParsedInput {
    const out = req.results.stage1?.output as ParsedInput | null | undefined;
    return out && typeof out === 'object' && typeof out.kind === 'string' ? out : this.#parse(req);
  }

  async #characterTurn(req: CharacterRequest): Promise<CharacterTurn | null> {
    const w = warmOf(req.scene);
    const character = w.entities.characters.find((c) => c.id === req.characterId);
    if (!character) return null;
    const parsed = this.#parsedOf(req);
    const facts = (req.results.stage2?.output ?? null) as FactResult | null;
    const ts = truthOf(req.truthSet);
    const sceneTurn = req.input.turn - w.data.entryTurn;
    let frameText = w.frames[character.id]?.text ?? '';
    let prediction: CharacterPrediction | null = null;
    let history: CharacterTurn['history'] = null;
    try {
      const event = playerEventOf(parsed, factEventsOf(req), req.results.stage3?.events ?? [], new Set(w.data.cast));
      const before = frameHistoryOf(ts, character.id);
      const input = frameInputFor({ ...character, emotions: emotionsNow(character, ts) }, w.graph.edges, w.data.scene, { castSize: w.data.cast.length, roles: rolesOf(w.entities) }, event, before);
      const [frame] = await this.#frames.computeFrames([input]);
      if (frame) {
        frameText = frame.text;
        prediction = frame.prediction;
        history = { before, after: pushHistory(before, historyEntryOf(frame.prediction)) };
        this.#services.onFrame?.({ sessionId: req.session.sessionId, sceneKey: w.data.sceneKey, phase: 'turn', turn: req.input.turn, characterId: frame.characterId, schema: frame.schema, prediction, history: before, text: frame.text, tokenCount: frame.tokenCount });
      }
    } catch {
      // The entry frame stands in for the per-turn one.
    }
    return {
      prediction,
      history,
      character,
      act: actToneFor(character.id, facts, w),
      wary: remembersHostility(ts, character.id),
      knowledge: characterBoundary(w.data, w.entities, ts, character.id, w.graph.edges),
      frameText,
      parsed,
      turn: req.input.turn,
      sceneTurn,
      firstMeeting: (w.data.firstMeetings ?? []).includes(character.id),
      sceneName: w.data.scene.name,
      addressed: parsed.addressee === character.id || parsed.recipient === character.id || parsed.mentions.some((m) => m.id === character.id),
      refusedByMe: facts?.blockedBy === character.id,
      touchesMotivation: character.motivations.some((m) => m.keywords.some((k) => parsed.keywords.includes(k.toLowerCase()))),
    };
  }
}

// ---------------------------------------------------------------- pure helpers

// The same truth-set and warm-scene objects reach every member of a turn: validate each once.
const checkedTruth = new WeakMap<object, TruthSet>();
const checkedWarm = new WeakSet<object>();

function truthOf(value: unknown): TruthSet {
  if (value === null || typeof value !== 'object') return emptyTruthSet();
  const cached = checkedTruth.get(value);
  if (cached) return cached;
  const parsed = truthSetSchema.safeParse(value);
  const ts = parsed.success ? parsed.data : emptyTruthSet();
  checkedTruth.set(value, ts);
  return ts;
}

const warmShape = z.object({ definition: z.object({ data: z.object({ sceneKey: z.string(), cast: z.array(z.string()) }).passthrough() }).passthrough() }).passthrough();

function warmOf(scene: WarmScene): Warm {
  // Shape check at the seam (once per warm-scene object): our own JSON, possibly restored from a snapshot.
  if (!checkedWarm.has(scene)) {
    warmShape.parse(scene);
    checkedWarm.add(scene);
  }
  return {
    data: scene.definition.data as StorySceneData,
    entities: scene.entities as SceneEntities,
    graph: scene.graph as SceneGraph,
    frames: (scene.frames ?? {}) as Record<string, { text: string }>,
    sensitivity: (scene.sensitivity ?? { sceneKey: '', entries: [] }) as SensitivityMap,
    narrator: scene.narrator as NarratorWarm,
  };
}

/** Each cast member's topological role (the target role of edges pointing at it). */
function rolesOf(entities: SceneEntities): Record<string, NonNullable<SceneEntities['characters'][number]['role']>> {
  return Object.fromEntries(entities.characters.map((c) => [c.id, c.role ?? 'periphery']));
}

function historyNeedsOf(data: StorySceneData): SceneHistoryNeeds {
  return data.historyNeeds ?? sceneHistoryNeeds(data.scene);
}

function factEventsOf(req: TurnRequest): NewEvent[] {
  return req.results.stage2?.events ?? [];
}

function storykeeperOutputOf(req: TurnRequest): StorykeeperOutput | null {
  const out = req.results.storykeeper?.output as StorykeeperOutput | null | undefined;
  return out && Array.isArray(out.released) ? out : null;
}

function stampAll(ts: TruthSet, events: readonly NewEvent[]): Array<NewEvent & { narrativeTs: number }> {
  let next = ts.lastNarrativeTs;
  return events.map((e) => ({ ...e, narrativeTs: ++next }) as NewEvent & { narrativeTs: number });
}

/** The truth set before the turn, and the PlayerInput event if the runtime has not applied it yet (momentary scope, topics). */
function withInput(req: TurnRequest): { ts: TruthSet; inputEvents: NewEvent[] } {
  const ts = truthOf(req.truthSet);
  if (ts.momentary.turn === req.input.turn) return { ts, inputEvents: [] };
  return {
    ts,
    inputEvents: [{ type: 'PlayerInput', data: { clientInputId: req.input.clientInputId, text: req.input.text }, source: 'player', turn: req.input.turn }],
  };
}

/** World consequences of the accepted facts, from the truth set with the input (and the baseline, on the first turn) applied. */
function worldTurnOf(w: Warm, ts: TruthSet, inputEvents: readonly NewEvent[], facts: readonly NewEvent[]) {
  const before = applyEvents(ts, stampAll(ts, [...inputEvents, ...facts.filter((e) => e.type === 'DeferredResultApplied')]));
  return worldConsequences(w.data, w.entities.objects, before, facts.filter((e) => e.type !== 'DeferredResultApplied'));
}

function inventoryText(w: Warm, ts: TruthSet, names: Record<string, string>): string {
  const view = worldView(w.data.baseline, ts);
  const held = Object.entries(view.holders)
    .filter(([, holder]) => holder === PLAYER_ID)
    .map(([id]) => names[id] ?? id);
  if (held.length === 0) return 'You are carrying nothing.';
  return `You are carrying ${held.length === 1 ? held[0] : `${held.slice(0, -1).join(', ')} and ${held.at(-1)}`}.`;
}

function nameMap(w: Warm): Record<string, string> {
  return Object.fromEntries([
    [PLAYER_ID, 'you'],
    ...(w.data.people ?? []).map((c) => [c.id, c.name] as const),
    ...(w.data.things ?? []).map((o) => [o.id, o.name] as const),
    ...w.entities.characters.map((c) => [c.id, c.name] as const),
    ...w.entities.objects.map((o) => [o.id, o.name] as const),
    [w.data.setting.id, w.data.setting.name],
    ...w.data.adjacent.map((a) => [a.id, a.name] as const),
  ]);
}

/** The player's acts in the second person, in order, from the accepted factual events. */
export function describeAct(p: ParsedInput, facts: FactResult | null, names: Record<string, string>, atmosphere = ''): string | null {
  const events = (facts?.events ?? []).filter((x) => x.type !== 'ConstraintViolation' && x.type !== 'DeferredResultApplied');
  const clauses = p.clauses && p.clauses.length > 0 ? p.clauses : [p];
  const out: string[] = [];
  let clauseIndex = 0;
  for (const e of events) {
    const clause = clauses[Math.min(clauseIndex++, clauses.length - 1)] ?? p;
    const line = describeOne(e, clause, names, atmosphere);
    if (line) out.push(line);
  }
  return out.length === 0 ? null : out.join(' ');
}

function describeOne(e: NewEvent, p: ParsedInput['clauses'][number], names: Record<string, string>, atmosphere: string): string | null {
  const name = (id: string | undefined) => (id ? (names[id] ?? id) : undefined);
  const manner = p.manner.filter((m) => m.endsWith('ly'));
  const how = manner.length > 0 ? `, ${manner.join(' and ')}` : '';
  switch (e.type) {
    case 'SpeechAct': {
      const to = name(e.data.addressee);
      return p.kind === 'question' ? (to ? `You put your question to ${to}${how}.` : `You ask the room${how}.`) : to ? `You speak to ${to}${how}.` : `You speak${how}, to no one in particular.`;
    }
    case 'MovementAction':
      return `You make your way to ${names[e.data.to] ?? e.data.to}${how}.`;
    case 'ExaminationAction':
      return null;
    case 'ActionPerformed': {
      if (e.data.actor !== PLAYER_ID) {
        const who = name(e.data.actor);
        if (e.data.action === 'give' && e.data.recipient === PLAYER_ID && who) return `${who} hands ${name(e.data.target)} back to you.`;
        return null;
      }
      const target = e.data.target ? (names[e.data.target] ?? e.data.target) : null;
      const to = e.data.recipient ? (names[e.data.recipient] ?? e.data.recipient) : null;
      if (e.data.action === 'give' && target && to) return `You give ${target} to ${to}${how}.`;
      if (e.data.action === 'show' && target && to) return `You hold up ${target} for ${to} to see${how}.`;
      if (e.data.action === 'take' && target) return `You take ${target}${how}.`;
      if (e.data.action === 'drop' && target) return `You set down ${target}${how}.`;
      // An act the story did not author: said plainly, with the place around it.
      const verb = p.lemma && canonicalVerb(p.lemma) === e.data.action ? p.lemma : e.data.action;
      // The player's own words only when this event is the clause's own act (not one it was mapped onto).
      const own = verb === p.lemma && e.data.target === p.entity;
      const did = `You ${verb.replace(/_/g, ' ')}${actObject(own ? p : null, target)}${how}.`;
      return atmosphere ? `${did} ${capitalise(atmosphere)} — nothing here answers to it.` : `${did} Nothing here answers to it.`;
    }
    default:
      return null;
  }
}

/**
 * What the act was done to or with, in the player's own words ("a sea shanty to the gulls",
 * "to Uncle Bram"): the words naming the target become the story's name for it.
 */
function actObject(p: ParsedInput['clauses'][number] | null, target: string | null): string {
  const phrase = p?.phrase ? secondPerson(p.phrase) : undefined;
  if (phrase && target && p?.targetSpan) return ` ${phrase.replace(secondPerson(p.targetSpan), target)}`;
  if (phrase && !target) return ` ${phrase}`;
  return target ? ` ${target}` : '';
}

/** The player's "my pack" is "your pack" when it is said back. */
function secondPerson(words: string): string {
  const swap: Record<string, string> = { my: 'your', me: 'you', i: 'you', myself: 'yourself', mine: 'yours', we: 'you', us: 'you', our: 'your' };
  return words
    .split(' ')
    .map((w) => swap[w] ?? w)
    .join(' ');
}

function capitalise(s: string): string {
  return s.length === 0 ? s : s[0]!.toUpperCase() + s.slice(1);
}

/** Who or what the previous turn was about, for "take it" / "ask her" (momentary propositions of that turn). */
function pronounContext(ts: TruthSet, turn: number, w: Warm): ParseContext {
  if (ts.momentary.turn === turn) return {};
  const people = new Set(w.entities.characters.map((c) => c.id));
  const out: ParseContext = {};
  const props = [...ts.momentary.propositions].sort((a, b) => a.since - b.since);
  for (const p of props) {
    if (p.args[0] !== PLAYER_ID) continue;
    const target = p.predicate === 'did' ? p.args[2] : p.predicate === 'examined' || p.predicate === 'said' ? p.args[1] : undefined;
    if (!target) continue;
    if (people.has(target)) out.lastCharacter = target;
    else if (w.entities.objects.some((o) => o.id === target)) out.lastEntity = target;
  }
  return out;
}

/** The tone of an unauthored act this turn, as a character sees it (done to them, or only seen). */
function actToneFor(characterId: string, facts: FactResult | null, w: Warm): { tone: ActTone; toMe: boolean } | null {
  for (const e of facts?.events ?? []) {
    if (e.type !== 'ActionPerformed' || e.data.actor !== PLAYER_ID) continue;
    const verb = canonicalVerb(e.data.action);
    const toMe = e.data.target === characterId;
    const person = e.data.target !== undefined && w.data.cast.includes(e.data.target);
    if (HOSTILE_ACTIONS.has(verb) && person) return { tone: 'hostile', toMe };
    if (KIND_ACTIONS.has(verb) && person) return { tone: 'kind', toMe };
    if (['take', 'give', 'show', 'drop', 'read'].includes(verb)) continue;
    const entity = w.entities.objects.find((o) => o.id === e.data.target);
    if (entity?.affordances.some((a) => affordanceAnswers(a, e.data.action))) continue;
    return { tone: 'odd', toMe };
  }
  return null;
}
