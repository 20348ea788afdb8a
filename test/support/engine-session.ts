import { randomUUID } from 'node:crypto';
import { afterAll } from 'vitest';
import { DEFAULT_TIMEOUTS } from '../../src/actors/agent-actor.ts';
import type { BehaviourTimeouts, SceneBehaviour, SceneExitRequest, SessionInfo, TurnResults, WarmScene } from '../../src/actors/behaviour.ts';
import { isHistoryAware, ledgerHistoryReader, type HistorySource } from '../../src/actors/scene-history.ts';
import type { LedgerRecord } from '../../src/domain/events.ts';
import type { TruthSet } from '../../src/domain/truth-set.ts';
import { SessionEngine, type SessionHandle } from '../../src/engine/engine.ts';
import type { Database } from '../../src/persistence/database.ts';
import { migrate } from '../../src/persistence/migrations.ts';
import { PgliteDatabase } from '../../src/persistence/pglite-database.ts';

/**
 * A play session for story tests, run by the REAL session machine and engine (statechart,
 * agent child actors, group-committed ledger, scene-exit transactions) on an in-memory
 * PGlite database — the same turn pipeline `--local` play, `playtest` and the gateway run,
 * so no second orchestration of the turn order can drift from the machine.
 *
 * It only drives the engine and reads back what it did: the answer, the turn's events (from
 * the ledger), the truth set and warm scene (from the machine's context).
 *
 * Why the timeouts are huge by default: a member's real timeout on a loaded 2-core machine
 * would degrade a turn at random; tests that want a timeout name the member.
 *
 * @example
 * const s = new EngineSession(new StoryBehaviour({ stories: async () => story }), { storyId: story.id });
 * await s.start();
 * const turn = await s.send('ask ewan about the light');
 */
export interface EngineTurn {
  turn: number;
  text: string;
  /** The turn's effects as the ledger holds them (no PlayerInput / TurnCompleted; stage 4's come later). */
  events: LedgerRecord[];
  degraded: string[];
  sceneExit: SceneExitRequest | null;
  /** Set when the turn moved the session into a new scene. */
  enteredScene: string | null;
  ended: boolean;
  /** The members' results as the machine collected them (stages, agents, reconciler). */
  results: TurnResults;
}

export interface EngineSessionOptions {
  /** Timeouts (ms) by behaviour member (`stage2`, `character`, …); every other member: none in practice. */
  timeouts?: BehaviourTimeouts;
  /** Wait for the previous turn's stage 4 to be durable before the next input (deterministic tests). Default true. */
  awaitStage4?: boolean;
}

/** ~23 days: below setTimeout's limit; in a test it never fires. */
const NEVER_MS = 2_000_000_000;

let shared: Promise<Database> | null = null;
const engines: SessionEngine[] = [];

/** One in-memory database per test file (PGlite takes seconds to start): every session of the file lives in it. */
function database(): Promise<Database> {
  shared ??= (async () => {
    const db = await PgliteDatabase.open();
    await migrate(db);
    return db;
  })();
  return shared;
}

afterAll(async () => {
  if (!shared) return;
  const db = await shared;
  await Promise.all(engines.splice(0).map((e) => e.shutdown()));
  shared = null;
  await db.close();
});

export class EngineSession implements HistorySource {
  readonly session: SessionInfo;
  readonly #storyId: string;
  readonly visited: string[] = [];
  /** Every ledger row of the session, in narrative order (refreshed after each turn and by `settle()`). */
  history: LedgerRecord[] = [];
  /** The scene being played (the last one, once the story has ended). */
  sceneKey: string | null = null;
  #handle: SessionHandle | null = null;
  #db: Database | null = null;
  #context: { truthSet: TruthSet | null; warm: Partial<WarmScene>; turn: number } | null = null;
  #seq = 0;
  /** The stage-4 calls still running (the harness waits for them when `awaitStage4`). */
  readonly #stage4 = new Set<Promise<unknown>>();
  readonly #behaviour: SceneBehaviour;

  constructor(
    readonly behaviour: SceneBehaviour,
    session: { storyId: string },
    readonly options: EngineSessionOptions = {},
  ) {
    this.#storyId = session.storyId;
    this.session = { sessionId: randomUUID(), storyId: session.storyId };
    // Stage 4 never blocks a turn in the machine; the harness only watches it to know when it is done.
    const stage4 = this.#stage4;
    this.#behaviour = new Proxy(behaviour, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        if (prop !== 'stage4') return value.bind(target);
        return (...args: unknown[]) => {
          const p = (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          const tracked = p.then(
            () => undefined,
            () => undefined,
          );
          stage4.add(tracked);
          void tracked.then(() => stage4.delete(tracked));
          return p;
        };
      },
    });
  }

  get truthSet(): TruthSet {
    const ts = this.#context?.truthSet;
    if (!ts) throw new Error('the session has not started');
    return ts;
  }

  get scene(): WarmScene | null {
    return (this.#context?.warm.narrator ? this.#context.warm : null) as WarmScene | null;
  }

  /** Completed turns. */
  get turn(): number {
    return this.#context?.turn ?? 0;
  }

  get ended(): boolean {
    return this.#handle?.lifecycle === 'ended';
  }

  get handle(): SessionHandle {
    if (!this.#handle) throw new Error('the session has not started');
    return this.#handle;
  }

  /** `HistorySource`: this session's ledger rows after `afterNarrativeTs`. */
  async eventsSince(sessionId: string, afterNarrativeTs: number): Promise<LedgerRecord[]> {
    const db = await database();
    return (await ledgerHistoryReader(db).eventsSince(sessionId, afterNarrativeTs)) as LedgerRecord[];
  }

  /** Creates the session in the engine and waits until its opening scene is entered. */
  async start(): Promise<WarmScene> {
    const db = await database();
    this.#db = db;
    await db.query(`INSERT INTO stories (id, title, definition, checksum) VALUES ($1, $1, '{}'::jsonb, 'engine-session') ON CONFLICT (id) DO NOTHING`, [this.#storyId]);
    const timeouts = Object.fromEntries(Object.keys(DEFAULT_TIMEOUTS).map((k) => [k, NEVER_MS])) as BehaviourTimeouts;
    const engine = new SessionEngine({
      db,
      behaviour: this.#behaviour,
      inspect: null,
      timeouts: { ...timeouts, ...this.options.timeouts },
      ledgerOptions: { maxPayloadBytes: 65_536, maxBatch: 512, flushMs: 2 },
    });
    engines.push(engine);
    // Temporal conditions (After / Since / Sequence) read this session's ledger rows (`eventsSince` below).
    if (isHistoryAware(this.behaviour)) this.behaviour.attachHistory(this.session.sessionId, this);
    const handle = await engine.createSession({ storyId: this.#storyId, id: this.session.sessionId });
    this.#handle = handle;
    handle.actor.subscribe({
      next: (snapshot) => {
        this.#context = snapshot.context;
      },
      // A failed session is reported by `send` (its 'failed' event); nothing to rethrow here.
      error: () => undefined,
    });
    this.#context = handle.actor.getSnapshot().context;
    handle.on('sceneEntered', (e) => {
      this.sceneKey = e.sceneKey;
      this.visited.push(e.sceneKey);
    });
    await this.#settled();
    if (handle.lifecycle !== 'playing') throw new Error(`the session did not start: ${handle.lifecycle}`);
    await this.#refreshHistory();
    return this.scene as WarmScene;
  }

  /** Plays one input through the engine; `onChunk` gets the narration as it streams. */
  async send(text: string, onChunk: (chunk: string) => void = () => {}): Promise<EngineTurn> {
    const h = this.handle;
    if (this.ended || h.lifecycle !== 'playing') throw new Error('the session has ended');
    if (this.options.awaitStage4 !== false) await this.settle();
    this.#seq += 1;
    const clientInputId = `engine-session-${this.#seq}`;
    let results: TurnResults = {};
    let inputId = 0;
    let enteredScene: string | null = null;
    const offs: Array<() => void> = [];
    const sub = h.actor.subscribe((s) => {
      const current = s.context.current;
      if (current && current.input.clientInputId === clientInputId) results = current.results;
    });
    try {
      const answered = new Promise<{ text: string; degraded: string[]; inputId: number }>((resolve, reject) => {
        offs.push(
          h.on('chunk', (c) => {
            if (c.inputId === inputId) onChunk(c.text);
          }),
          h.on('ack', (a) => {
            if (a.clientInputId === clientInputId) inputId = a.inputId;
          }),
          h.on('answer', (a) => {
            if (a.clientInputId === clientInputId) resolve({ text: a.text, degraded: a.degraded, inputId: a.inputId });
          }),
          h.on('inputRejected', (r) => {
            if (r.clientInputId === clientInputId) reject(new Error(`${r.error.code}: ${r.error.message}`));
          }),
          h.on('failed', (f) => reject(new Error(`the session failed: ${f.error.code}: ${f.error.message}`))),
        );
      });
      const recorded = new Promise<void>((resolve) => {
        offs.push(h.on('turnRecorded', (r) => r.inputId === inputId && resolve()));
      });
      offs.push(
        h.on('sceneEntered', (e) => {
          if (inputId !== 0) enteredScene = e.sceneKey;
        }),
      );
      h.input(clientInputId, text);
      const answer = await answered;
      await recorded;
      await this.#settled();
      await this.#refreshHistory();
      const events = this.history.filter(
        (e) => e.inputId === answer.inputId && e.type !== 'PlayerInput' && e.type !== 'TurnCompleted' && !(e.idempotencyKey ?? '').startsWith(`input:${answer.inputId}:stage4:`),
      );
      const sceneExit = results.storykeeper?.sceneExit ?? results.reconciler?.sceneExit ?? null;
      return { turn: this.turn, text: answer.text, events, degraded: answer.degraded, sceneExit, enteredScene, ended: this.ended, results };
    } finally {
      sub.unsubscribe();
      for (const off of offs) off();
    }
  }

  /** Waits for lagging stage-4 calls and their ledger writes, then reads the history again. */
  async settle(): Promise<void> {
    while (this.#stage4.size > 0) await Promise.all([...this.#stage4]);
    // The stage-4 reply reaches the machine a few microtasks after the member settles.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await this.#settled();
    await this.#refreshHistory();
  }

  /** Resolves when the session is playing with nothing in flight, or has stopped. */
  #settled(): Promise<void> {
    const h = this.handle;
    const done = (): boolean => {
      if (['ended', 'failed', 'suspended'].includes(h.lifecycle)) return true;
      const s = h.actor.getSnapshot();
      return s.matches({ lifecycle: { playing: 'idle' } }) && s.context.queue.length === 0 && s.context.pendingWrites === 0;
    };
    return new Promise((resolve) => {
      if (done()) return resolve();
      const sub = h.actor.subscribe(() => {
        if (!done()) return;
        sub.unsubscribe();
        resolve();
      });
    });
  }

  async #refreshHistory(): Promise<void> {
    if (!this.#db) return;
    this.history = (await ledgerHistoryReader(this.#db).eventsSince(this.session.sessionId, 0)) as LedgerRecord[];
  }
}
