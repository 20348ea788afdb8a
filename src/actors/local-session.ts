import type { NewEvent } from '../domain/events.ts';
import { applyEvents, emptyTruthSet, type TruthSet } from '../domain/truth-set.ts';
import {
  SCENE_ENTRY_STEPS,
  type AgentResult,
  type SceneBehaviour,
  type SceneExitRequest,
  type SessionInfo,
  type TurnRequest,
  type TurnResults,
  type WarmScene,
} from './behaviour.ts';
import { isHistoryAware, type HistorySource } from './scene-history.ts';

/**
 * A whole play session in memory, driving a `SceneBehaviour` in the same order as the
 * session machine (six entry steps → SceneEntered → stage 1 → 2 → 3 → characters,
 * storykeeper and world in parallel, stage 4 beside them → reconciler → narrator →
 * scene exit). No database, no actors: the pure harness for playthrough tests, the
 * turn benchmark, and a fallback terminal game. Failures of a member are replaced by
 * an empty result and reported in `degraded`, as the real runtime does.
 *
 * @example
 * const s = new LocalSession(behaviour, { sessionId: 'local', storyId: null });
 * await s.start();
 * const turn = await s.send('ask ewan about the light', (chunk) => process.stdout.write(chunk));
 */
export interface LocalTurn {
  turn: number;
  text: string;
  events: NewEvent[];
  degraded: string[];
  sceneExit: SceneExitRequest | null;
  /** Set when the turn moved the session into a new scene. */
  enteredScene: string | null;
  ended: boolean;
  results: TurnResults;
}

export interface LocalSessionOptions {
  /** Timeout (ms) for every member; default none. */
  timeoutMs?: number;
  /** Timeouts (ms) for single members, by the name `degraded` reports (`stage2`, `character:ewan`…). */
  timeouts?: Record<string, number>;
  /** Await stage 4 before the next turn (deterministic tests). Default true. */
  awaitStage4?: boolean;
}

export class LocalSession implements HistorySource {
  truthSet: TruthSet = emptyTruthSet();
  /** Every event applied, in order, with its narrative timestamp. */
  readonly history: Array<NewEvent & { narrativeTs: number }> = [];
  scene: WarmScene | null = null;
  sceneKey: string | null = null;
  turn = 0;
  ended = false;
  readonly visited: string[] = [];
  #inputId = 0;
  #pendingStage4: Promise<void> = Promise.resolve();

  constructor(
    readonly behaviour: SceneBehaviour,
    readonly session: SessionInfo,
    readonly options: LocalSessionOptions = {},
  ) {
    // No ledger here: this session's in-memory history is what temporal story conditions
    // (After / Since / Sequence / eventOccurred) read, as the engine's read its ledger rows.
    if (isHistoryAware(behaviour)) behaviour.attachHistory(session.sessionId, this);
  }

  /** `HistorySource`: the events applied so far after `afterNarrativeTs` (the in-memory stand-in for `Ledger.eventsSince`). */
  async eventsSince(sessionId: string, afterNarrativeTs: number): Promise<ReadonlyArray<NewEvent & { narrativeTs: number }>> {
    if (sessionId !== this.session.sessionId) return [];
    return this.history.filter((e) => e.narrativeTs > afterNarrativeTs);
  }

  /** Enters the opening scene. */
  async start(): Promise<WarmScene> {
    const key = await this.behaviour.openingSceneKey(this.session, new AbortController().signal);
    return this.enter(key);
  }

  async enter(sceneKey: string): Promise<WarmScene> {
    const warm: Partial<WarmScene> = {};
    for (const step of SCENE_ENTRY_STEPS) {
      const value = await this.behaviour[step]({
        session: this.session,
        sceneKey,
        turn: this.turn,
        truthSet: this.truthSet,
        entityState: null,
        worldState: null,
        deferredResults: [],
        warm: { ...warm },
        signal: new AbortController().signal,
      });
      const field = ({ loadSceneDefinition: 'definition', loadEntityState: 'entities', loadGraphContext: 'graph', computeFrames: 'frames', buildSensitivityMap: 'sensitivity', warmNarratorContext: 'narrator' } as const)[step];
      (warm as Record<string, unknown>)[field] = value;
    }
    const scene = warm as WarmScene;
    this.scene = scene;
    this.sceneKey = sceneKey;
    this.visited.push(sceneKey);
    this.#apply([{ type: 'SceneEntered', data: { sceneId: scene.definition.sceneId, sceneKey, characters: scene.definition.cast }, source: 'session' }]);
    return scene;
  }

  /** Plays one input; streams narration through `onChunk`. */
  async send(text: string, onChunk: (chunk: string) => void = () => {}): Promise<LocalTurn> {
    if (this.ended || !this.scene) throw new Error('the session has ended');
    if (this.options.awaitStage4 !== false) await this.#pendingStage4;
    const scene = this.scene;
    this.turn += 1;
    this.#inputId += 1;
    const narrativeTs = this.truthSet.lastNarrativeTs + 1;
    const input = { inputId: this.#inputId, clientInputId: `local-${this.#inputId}`, text, turn: this.turn, narrativeTs };
    this.#apply([{ type: 'PlayerInput', data: { clientInputId: input.clientInputId, text }, source: 'player', turn: this.turn }]);
    const before = this.truthSet;
    const results: TurnResults = {};
    const degraded: string[] = [];
    const request = (): TurnRequest => ({ session: this.session, scene, truthSet: before, input, results: { ...results }, signal: new AbortController().signal });
    const guarded = async <T extends { events: NewEvent[] }>(member: string, run: () => Promise<T>, fallback: T): Promise<T> => {
      try {
        const pending = run();
        const limit = this.options.timeouts?.[member] ?? this.options.timeoutMs;
        if (limit === undefined) return await pending;
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${member} timed out`)), limit);
        });
        try {
          return await Promise.race([pending, timeout]);
        } finally {
          clearTimeout(timer);
        }
      } catch {
        degraded.push(member);
        return fallback;
      }
    };
    const empty = () => ({ output: null, events: [] as NewEvent[] });

    results.stage1 = await guarded('stage1', () => this.behaviour.stage1(request()), empty());
    results.stage2 = await guarded('stage2', () => this.behaviour.stage2(request()), empty());
    results.stage3 = await guarded('stage3', () => this.behaviour.stage3(request()), empty());
    const stage4Request = request();
    const stage4 = guarded('stage4', () => this.behaviour.stage4(stage4Request), empty());
    const cast = scene.definition.cast;
    const [characters, storykeeper, world] = await Promise.all([
      Promise.all(cast.map((id) => guarded(`character:${id}`, () => this.behaviour.character({ ...request(), characterId: id }), empty() as AgentResult))),
      guarded('storykeeper', () => this.behaviour.storykeeper(request()), empty() as AgentResult),
      guarded('world', () => this.behaviour.world(request()), empty() as AgentResult),
    ]);
    results.characters = Object.fromEntries(cast.map((id, i) => [id, characters[i] as AgentResult]));
    results.storykeeper = storykeeper;
    results.world = world;
    results.reconciler = await guarded('reconciler', () => this.behaviour.reconciler(request()), empty() as AgentResult);
    const narration = await guarded(
      'narrator',
      () => this.behaviour.narrator(request(), onChunk),
      { text: this.behaviour.fallbackNarration?.(request()) ?? 'The moment passes.', events: [] },
    );
    if (degraded.includes('narrator')) onChunk(narration.text);

    const events = [
      ...results.stage1.events,
      ...results.stage2.events,
      ...results.stage3.events,
      ...characters.flatMap((c) => c.events),
      ...storykeeper.events,
      ...world.events,
      ...results.reconciler.events,
      ...narration.events,
    ];
    this.#apply(events);
    this.#apply([{ type: 'TurnCompleted', data: { inputId: input.inputId, turn: this.turn, degraded }, source: 'session', turn: this.turn }]);
    this.#pendingStage4 = stage4.then((r) => this.#apply(r.events));

    const sceneExit = storykeeper.sceneExit ?? results.reconciler.sceneExit ?? null;
    let enteredScene: string | null = null;
    if (sceneExit) {
      await this.#pendingStage4;
      const plan = await this.behaviour.planSceneExit({
        session: this.session,
        scene,
        truthSet: this.truthSet,
        turn: this.turn,
        reason: sceneExit.reason,
        requestedNextSceneKey: sceneExit.nextSceneKey,
        signal: new AbortController().signal,
      });
      this.#apply([{ type: 'SceneExited', data: { sceneId: scene.definition.sceneId, sceneKey: scene.definition.sceneKey, reason: sceneExit.reason, nextSceneKey: plan.nextSceneKey }, source: 'session' }]);
      if (plan.nextSceneKey) {
        await this.enter(plan.nextSceneKey);
        enteredScene = plan.nextSceneKey;
      } else {
        this.ended = true;
      }
    }
    return { turn: this.turn, text: narration.text, events, degraded, sceneExit, enteredScene, ended: this.ended, results };
  }

  /** Waits for a lagging stage 4. */
  async settle(): Promise<void> {
    await this.#pendingStage4;
  }

  #apply(events: readonly NewEvent[]): void {
    if (events.length === 0) return;
    let ts = this.truthSet.lastNarrativeTs;
    const stamped = events.map((e) => ({ ...e, narrativeTs: ++ts, turn: e.turn ?? this.turn }) as NewEvent & { narrativeTs: number });
    this.history.push(...stamped);
    this.truthSet = applyEvents(this.truthSet, stamped);
  }
}
