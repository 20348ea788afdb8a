import { SimulatedClock, type InspectionEvent, type Observer } from 'xstate';
import type { BehaviourTimeouts, SceneBehaviour } from '../actors/behaviour.ts';
import { SessionEngine, type SessionHandle } from '../engine/engine.ts';
import { FaultPoints, type FaultPoint } from '../engine/fault-points.ts';
import type { SessionContext, SessionEmitted } from '../machines/session-types.ts';
import type { Database } from '../persistence/database.ts';
import type { GraphStore } from '../persistence/graph/graph-store.ts';
import { Ledger } from '../persistence/ledger.ts';
import { CrashableDatabase } from './crashable-database.ts';
import { createMinimalBehaviour } from './minimal-behaviour.ts';

/**
 * The testing kit for users of the runtime (issue 3 §6): an engine on a
 * `SimulatedClock` (its wall clock reads the same simulated time), `crash()` (every
 * actor dropped, no flush, the crashed engine's database handle made unusable),
 * `restart()` (a new engine on the same database), named fault points that crash at a
 * precise step, and helpers to play turns and await their answers. It records every
 * ack and answer across engines, so a test can check "no input lost, none answered
 * twice".
 *
 * @example
 * const kit = await TestingKit.create({ db });
 * const s = await kit.createSession();
 * const answer = await s.play('take the lamp');
 * kit.armCrash('turn.afterStage2');
 * await s.send('look').crashed;       // resolves when the engine died at that point
 * const again = await kit.restart();  // new engine, same database
 * await kit.open(s.id).answered('c-2');
 */
export interface TestingKitOptions {
  /** The database the engines use (the kit wraps it per engine so a crash can fence the handle). */
  db: Database;
  behaviour?: SceneBehaviour;
  /** Story id for created sessions (a `stories` row is inserted if missing). */
  storyId?: string;
  gracePeriodMs?: number;
  autosaveEveryTurns?: number;
  /** A full checkpoint every N (default: the engine's, 20; 1 = always full). */
  checkpointFullEvery?: number;
  timeouts?: BehaviourTimeouts;
  graph?: GraphStore | null;
  /** Ledger event flush interval (ms), default 2. */
  flushMs?: number;
  /** Simulated start time (ms since epoch) — the injected wall clock. */
  startAt?: number;
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
}

export interface SessionContextAtCrash {
  truthSet: SessionContext['truthSet'];
  turn: number;
  sceneIndex: number;
  queued: number;
}

/** The crashed engine's state at the fault point. */
export interface CrashState {
  point: FaultPoint | null;
  generation: number;
  /** How many events the kit had recorded (across engines) when the crash happened. */
  emitted: number;
  sessions: Map<string, SessionContextAtCrash>;
}

export interface AnswerRecord {
  sessionId: string;
  clientInputId: string;
  inputId: number;
  text: string;
  degraded: string[];
  /** Which engine (0 = first, 1 = after the first restart…) delivered it. */
  generation: number;
}

export class TestingKit {
  readonly clock = new SimulatedClock();
  readonly answers: AnswerRecord[] = [];
  readonly acks: Array<{ sessionId: string; clientInputId: string; inputId: number; duplicate: boolean; generation: number }> = [];
  readonly emitted: Array<{ sessionId: string; generation: number; event: SessionEmitted }> = [];
  readonly #options: TestingKitOptions;
  readonly #storyId: string;
  #engine!: SessionEngine;
  #handle!: CrashableDatabase;
  #ledger!: Ledger;
  #generation = -1;
  #crashWaiters: Array<() => void> = [];
  #crashCount = 0;
  /** What the crashed engine held at the instant of the last crash (taken at the fault point). */
  lastCrash: CrashState | null = null;

  private constructor(options: TestingKitOptions) {
    this.#options = options;
    this.#storyId = options.storyId ?? 'minimal';
    this.clock.set(options.startAt ?? Date.UTC(2026, 0, 1));
  }

  static async create(options: TestingKitOptions): Promise<TestingKit> {
    const kit = new TestingKit(options);
    await options.db.query(
      `INSERT INTO stories (id, title, definition, checksum) VALUES ($1, $2, '{}'::jsonb, 'testing-kit') ON CONFLICT (id) DO NOTHING`,
      [kit.#storyId, kit.#storyId],
    );
    kit.#start();
    return kit;
  }

  get engine(): SessionEngine {
    return this.#engine;
  }

  get generation(): number {
    return this.#generation;
  }

  get crashes(): number {
    return this.#crashCount;
  }

  /** The simulated wall clock (ms since epoch). */
  now(): number {
    return this.clock.now();
  }

  /** Advances simulated time, firing due timers (grace deadlines, agent timeouts). */
  advance(ms: number): void {
    this.clock.increment(ms);
  }

  #start(): void {
    this.#generation += 1;
    this.#handle = new CrashableDatabase(this.#options.db);
    this.#ledger = new Ledger(this.#handle, { maxPayloadBytes: 64 * 1024, maxBatch: 512, flushMs: this.#options.flushMs ?? 2, retry: { attempts: 2, baseMs: 1, maxMs: 2 } });
    this.#engine = new SessionEngine({
      db: this.#handle,
      ledger: this.#ledger,
      behaviour: this.#options.behaviour ?? createMinimalBehaviour(),
      graph: this.#options.graph ?? null,
      gracePeriodMs: this.#options.gracePeriodMs ?? 5 * 60_000,
      autosaveEveryTurns: this.#options.autosaveEveryTurns ?? 0,
      ...(this.#options.checkpointFullEvery !== undefined ? { checkpointFullEvery: this.#options.checkpointFullEvery } : {}),
      clocks: { clock: this.clock, now: () => this.clock.now() },
      faults: new FaultPoints(),
      ...(this.#options.timeouts ? { timeouts: this.#options.timeouts } : {}),
      ...(this.#options.inspect ? { inspect: this.#options.inspect } : {}),
    });
  }

  /** Creates a session on the current engine and records what it emits. */
  async createSession(options: { id?: string } = {}): Promise<TestSession> {
    const handle = await this.#engine.createSession({ storyId: this.#storyId, ...options });
    return this.#attach(handle);
  }

  /** `engine.resumeInterrupted()` on the current engine, recording what the sessions emit. */
  async resumeInterrupted(options: { ownedBy?: string | null } = { ownedBy: null }): Promise<TestSession[]> {
    const handles = await this.#engine.resumeInterrupted(options);
    return handles.map((h) => this.#attach(h));
  }

  /** Opens (recovers, resumes) a session on the current engine. */
  async open(sessionId: string, options: Parameters<SessionEngine['open']>[1] = {}): Promise<TestSession> {
    const handle = await this.#engine.open(sessionId, options);
    return this.#attach(handle);
  }

  #attach(handle: SessionHandle): TestSession {
    const generation = this.#generation;
    const record = (event: SessionEmitted): void => {
      this.emitted.push({ sessionId: handle.id, generation, event });
    };
    for (const type of ['ack', 'inputRejected', 'turnStarted', 'chunk', 'answer', 'turnRecorded', 'sceneEntered', 'sceneExited', 'checkpointed', 'suspended', 'ended', 'failed'] as const) {
      handle.on(type, record);
    }
    handle.on('ack', (a) => this.acks.push({ sessionId: handle.id, clientInputId: a.clientInputId, inputId: a.inputId, duplicate: a.duplicate, generation }));
    handle.on('answer', (a) =>
      this.answers.push({ sessionId: handle.id, clientInputId: a.clientInputId, inputId: a.inputId, text: a.text, degraded: a.degraded, generation }),
    );
    return new TestSession(this, handle, generation);
  }

  /**
   * Crashes the engine the first time `point` is reached (by `sessionId`, if given): the
   * engine halts right there — the rest of that step does not run (the point throws).
   */
  armCrash(point: FaultPoint, sessionId?: string): void {
    this.#engine.faults.arm(point, (p) => this.crash(p), sessionId);
  }

  /** The database becomes unreachable for the current engine, which keeps running (storage outage). */
  loseDatabase(): void {
    this.#handle.fence();
  }

  /** Resolves at the next crash. */
  nextCrash(): Promise<void> {
    return new Promise((resolve) => this.#crashWaiters.push(resolve));
  }

  /**
   * The process dies: the database handle of this engine is fenced (nothing more it
   * sends succeeds), every actor is dropped, nothing is flushed or checkpointed.
   */
  crash(point: FaultPoint | null = null): void {
    if (this.#engine.crashed) return;
    this.#crashCount += 1;
    // Taken before anything stops: inside a transition, getSnapshot() is the state before it.
    const sessions = new Map<string, SessionContextAtCrash>();
    for (const [id, handle] of this.#engine.handles()) {
      const { context } = handle.actor.getSnapshot();
      sessions.set(id, { truthSet: context.truthSet, turn: context.turn, sceneIndex: context.sceneIndex, queued: context.queue.length });
    }
    this.lastCrash = { point, generation: this.#generation, emitted: this.emitted.length, sessions };
    this.#handle.fence();
    this.#engine.abandon();
    // Stop the dead ledger's timers; its flush fails on the fenced handle (and is not awaited).
    void this.#ledger.close().catch(() => undefined);
    const waiters = this.#crashWaiters;
    this.#crashWaiters = [];
    for (const w of waiters) w();
  }

  /** A new engine on the same database and the same simulated clock (crash() first if still alive). */
  restart(): SessionEngine {
    if (!this.#engine.crashed) this.crash();
    this.#start();
    return this.#engine;
  }

  /** Graceful shutdown of the current engine. */
  async shutdown(): Promise<void> {
    if (!this.#engine.crashed) await this.#engine.shutdown();
  }

  readonly #inputNumbers = new Map<string, number>();

  /** @internal Numbering of automatic client input ids per session. */
  nextInputNumber(sessionId: string): number {
    const n = (this.#inputNumbers.get(sessionId) ?? 0) + 1;
    this.#inputNumbers.set(sessionId, n);
    return n;
  }

  /** Answers delivered for one input (across engines). */
  answersFor(sessionId: string, clientInputId: string): AnswerRecord[] {
    return this.answers.filter((a) => a.sessionId === sessionId && a.clientInputId === clientInputId);
  }
}

/** A session under test: play turns, await what it emits. */
export class TestSession {
  readonly handle: SessionHandle;
  readonly generation: number;
  readonly #kit: TestingKit;

  constructor(kit: TestingKit, handle: SessionHandle, generation: number) {
    this.#kit = kit;
    this.handle = handle;
    this.generation = generation;
  }

  get id(): string {
    return this.handle.id;
  }

  /** Next automatic client input id (`c-1`, `c-2`, … per session, continued across engines). */
  nextClientInputId(): string {
    return `c-${this.#kit.nextInputNumber(this.id)}`;
  }

  /** Sends an input and resolves with its answer (or rejects when the input is rejected / the session fails). */
  async play(text: string, clientInputId: string = this.nextClientInputId()): Promise<{ text: string; inputId: number; degraded: string[] }> {
    const answered = this.answered(clientInputId);
    this.handle.input(clientInputId, text);
    return answered;
  }

  /** Sends an input without waiting. */
  send(text: string, clientInputId: string = this.nextClientInputId()): string {
    this.handle.input(clientInputId, text);
    return clientInputId;
  }

  /** Resolves with the answer to `clientInputId`. */
  answered(clientInputId: string): Promise<{ text: string; inputId: number; degraded: string[] }> {
    return new Promise((resolve, reject) => {
      const offs: Array<() => void> = [];
      const done = (): void => offs.forEach((off) => off());
      offs.push(
        this.handle.on('answer', (a) => {
          if (a.clientInputId !== clientInputId) return;
          done();
          resolve({ text: a.text, inputId: a.inputId, degraded: a.degraded });
        }),
        this.handle.on('inputRejected', (r) => {
          if (r.clientInputId !== clientInputId) return;
          done();
          reject(new Error(`${r.error.code}: ${r.error.message}`));
        }),
        this.handle.on('failed', (f) => {
          done();
          reject(new Error(`session failed: ${f.error.code}: ${f.error.message}`));
        }),
      );
    });
  }

  /** Resolves with the next emitted event of `type` matching `predicate`. */
  next<T extends SessionEmitted['type']>(type: T, predicate: (e: Extract<SessionEmitted, { type: T }>) => boolean = () => true): Promise<Extract<SessionEmitted, { type: T }>> {
    return new Promise((resolve) => {
      const off = this.handle.on(type, (e) => {
        if (!predicate(e)) return;
        off();
        resolve(e);
      });
    });
  }

  /** Resolves once the session's lifecycle is `state` (now or later). */
  whenLifecycle(state: string): Promise<void> {
    return new Promise((resolve) => {
      if (this.handle.lifecycle === state) {
        resolve();
        return;
      }
      const sub = this.handle.actor.subscribe(() => {
        if (this.handle.lifecycle === state) {
          sub.unsubscribe();
          resolve();
        }
      });
    });
  }

  /** Resolves when the session is idle: playing, no turn running, nothing queued, all writes durable. */
  whenIdle(): Promise<void> {
    const idle = (): boolean => {
      const s = this.handle.actor.getSnapshot();
      return s.matches({ lifecycle: { playing: 'idle' } }) && s.context.queue.length === 0 && s.context.pendingWrites === 0;
    };
    return new Promise((resolve) => {
      if (idle()) {
        resolve();
        return;
      }
      const sub = this.handle.actor.subscribe(() => {
        if (idle()) {
          sub.unsubscribe();
          resolve();
        }
      });
    });
  }

  /** The kit this session belongs to. */
  get kit(): TestingKit {
    return this.#kit;
  }
}
