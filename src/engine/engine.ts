import { randomUUID } from 'node:crypto';
import { createActor, fromPromise, type InspectionEvent, type Observer, type Snapshot } from 'xstate';
import { z } from 'zod';
import { createAgentLogic, DEFAULT_TIMEOUTS, runGuarded, type Settled } from '../actors/agent-actor.ts';
import type { BehaviourTimeouts, Json, SceneBehaviour, SceneDefinition, SceneEntryStep, SceneExitPlan } from '../actors/behaviour.ts';
import { createPersistenceLogic, type SessionStorage } from '../actors/persistence.ts';
import { StorytellerError, isStorytellerError } from '../errors.ts';
import { moduleLogger, silentLogger, turnTrace, type Logger, type TurnTrace } from '../logger.ts';
import { sessionMachine, type SceneStepInput, type SessionActor } from '../machines/session.ts';
import type { LoadedSessionOutput, SessionEmitted } from '../machines/session-types.ts';
import type { Database } from '../persistence/database.ts';
import type { GraphStore } from '../persistence/graph/graph-store.ts';
import { Ledger, type LedgerOptions } from '../persistence/ledger.ts';
import { SessionStore } from '../persistence/sessions.ts';
import { realClocks, type EngineClocks } from './clock.ts';
import { FaultPoints } from './fault-points.ts';
import { createSessionMetrics, type SessionMetrics } from './metrics.ts';
import { createSessionRegistry, type SessionPresence, type SessionRegistry } from './registry.ts';
import { inspectedSessionFromEnvironment, inspectorFromEnvironment } from './inspector.ts';
import { createSessionStorage } from './session-storage.ts';

/**
 * The engine (issue 3 §4): a process-level registry that creates, finds and stops
 * session actors — many per process — and shuts them all down gracefully. It is where
 * the pure session machine meets I/O: it `.provide()`s the machine's actor logic
 * (persistence, agents, scene steps) bound to this engine's ledger, database, clocks,
 * behaviour and fault points.
 *
 * @example
 * const engine = new SessionEngine({ db, behaviour: new StoryBehaviour(deps), gracePeriodMs: config.gracePeriodMs });
 * const session = await engine.createSession({ storyId: 'the-lighthouse-keeper' });
 * session.on('ack', (a) => client.send(a));
 * session.on('answer', (a) => client.send(a));
 * session.input('c-1', 'I light the lamp');
 * await engine.shutdown();
 */
export interface SessionEngineOptions {
  db: Database;
  /** The scene/turn logic (any SceneBehaviour: the story one, or the testing kit's minimal one). */
  behaviour: SceneBehaviour;
  /** Process-wide group-commit ledger; created from `ledgerOptions` when absent (and then closed by shutdown()). */
  ledger?: Ledger;
  ledgerOptions?: LedgerOptions;
  graph?: GraphStore | null;
  /** Default 5 minutes (config.gracePeriodMs). */
  gracePeriodMs?: number;
  /** An 'autosave' checkpoint every N completed turns (default: none; scene exits always checkpoint). */
  autosaveEveryTurns?: number;
  /** STORYTELLER_CHECKPOINT_FULL_EVERY: a full checkpoint every N per session, deltas between (default 20; 1 = always full). */
  checkpointFullEvery?: number;
  /** This engine's identity for session ownership (config.instanceId); random by default. */
  instanceId?: string;
  /** Scheduler clock + wall clock (SimulatedClock in tests). */
  clocks?: EngineClocks;
  timeouts?: BehaviourTimeouts;
  logger?: Logger;
  faults?: FaultPoints;
  /**
   * Inspection observer (see startInspector) attached to session root actors. When left
   * undefined, `STORYTELLER_INSPECT=1` or a `--inspect` argument starts the local
   * inspector server (inspectorFromEnvironment); `null` disables inspection outright.
   */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void) | null;
  /** Which sessions to inspect (default all when `inspect` is given). */
  inspectSession?: (sessionId: string) => boolean;
  /** Deferred dispatch after a scene-exit transaction (the outbox relay's wake-up). */
  onSceneExitCommitted?: (sessionId: string, idempotencyKey: string) => void;
  /** Replace the storage port (tests). */
  storage?: SessionStorage;
  maxPayloadBytes?: number;
}

type Emitted<T extends SessionEmitted['type']> = Extract<SessionEmitted, { type: T }>;

export interface OpenOptions {
  /** A persisted actor snapshot to restore instead of loading from the database. */
  snapshot?: Snapshot<unknown>;
  /** Open the session still disconnected, with this grace deadline (ms since epoch). */
  disconnectedUntil?: number;
}

const sceneDefinitionSchema = z.object({
  sceneId: z.guid(),
  sceneKey: z.string().min(1).max(200),
  cast: z.array(z.string().min(1).max(200)).max(64),
  data: z.unknown(),
});

/** One running session: send it inputs and connection changes, listen to what it emits. */
export class SessionHandle {
  readonly id: string;
  readonly actor: SessionActor;
  readonly #engine: SessionEngine;
  /** 'chunk' listeners: the narrator's stream arrives from its shell, beside the machine (streamed()). */
  readonly #chunkListeners = new Set<(event: Emitted<'chunk'>) => void>();

  constructor(id: string, actor: SessionActor, engine: SessionEngine) {
    this.id = id;
    this.actor = actor;
    this.#engine = engine;
  }

  /**
   * A player input; `ack` follows once it is durable.
   * @throws StorytellerError SESSION_NOT_PLAYING when this actor was released (suspended,
   *         ended, failed, crashed engine): reopen the session with `engine.open(id)`.
   */
  input(clientInputId: string, text: string): void {
    if (this.actor.getSnapshot().status !== 'active') {
      throw new StorytellerError('SESSION_NOT_PLAYING', `session ${this.id} is not running here; open it again`, { details: { sessionId: this.id } });
    }
    this.actor.send({ type: 'input', clientInputId, text });
  }

  disconnect(): void {
    this.actor.send({ type: 'disconnect', at: this.#engine.now() });
  }

  reconnect(): void {
    this.actor.send({ type: 'reconnect', at: this.#engine.now() });
  }

  /**
   * A deferred scene-boundary workflow completed (the bridge's completion consumer): its
   * result is applied at the next scene entry (`SceneEntryRequest.deferredResults`).
   */
  deferredCompleted(result: unknown): void {
    this.actor.send({ type: 'deferred.completed', result });
  }

  /** Manual save: a mid-scene checkpoint ('checkpointed' follows). */
  save(): void {
    this.actor.send({ type: 'save' });
  }

  /** Listens to an emitted event; events of a crashed engine are dropped. Returns the unsubscribe function. */
  on<T extends SessionEmitted['type']>(type: T, listener: (event: Emitted<T>) => void): () => void {
    const sub = this.actor.on(type, (event) => {
      if (!this.#engine.crashed) listener(event as Emitted<T>);
    });
    if (type !== 'chunk') return () => sub.unsubscribe();
    // The machine itself emits a chunk only for a narrator that streamed nothing (its fallback prose).
    const chunkListener = listener as (event: Emitted<'chunk'>) => void;
    this.#chunkListeners.add(chunkListener);
    return () => {
      sub.unsubscribe();
      this.#chunkListeners.delete(chunkListener);
    };
  }

  /** A chunk of the narrator's stream for this session (the engine's AgentDeps.onChunk). */
  streamed(inputId: number, text: string): void {
    if (this.#engine.crashed) return;
    const chunk: Emitted<'chunk'> = { type: 'chunk', inputId, text };
    for (const listener of this.#chunkListeners) listener(chunk);
  }

  /** Top-level lifecycle state: loading, entering, playing, exiting, suspending, suspended, ended, failed. */
  get lifecycle(): string {
    return topLevel(this.actor.getSnapshot().value, 'lifecycle');
  }

  get connection(): string {
    return topLevel(this.actor.getSnapshot().value, 'connection');
  }
}

function topLevel(value: unknown, region: string): string {
  const v = (value as Record<string, unknown>)[region];
  return typeof v === 'string' ? v : Object.keys(v as object)[0] ?? '';
}

const TERMINAL = new Set(['suspended', 'ended', 'failed']);

export class SessionEngine {
  readonly instanceId: string;
  readonly registry: SessionRegistry = createSessionRegistry();
  readonly metrics: SessionMetrics = createSessionMetrics(() => {
    const counts: Record<string, number> = {};
    for (const p of Object.values(this.registry.getSnapshot().context.sessions)) counts[p.lifecycle] = (counts[p.lifecycle] ?? 0) + 1;
    return counts;
  });
  readonly faults: FaultPoints;
  readonly ledger: Ledger;
  readonly sessions: SessionStore;
  readonly #options: SessionEngineOptions;
  readonly #ownsLedger: boolean;
  readonly #clocks: EngineClocks;
  readonly #logger: Logger;
  /** Per-session lines (module `session`); a child per session binds its id. */
  readonly #sessionLog: Logger;
  readonly #trace: TurnTrace;
  readonly #handles = new Map<string, SessionHandle>();
  readonly #machine;
  #closing = false;
  #crashed = false;
  readonly #opening = new Map<string, Promise<SessionHandle>>();
  #presenceUpserts: Record<string, SessionPresence> = {};
  #presenceRemovals: string[] = [];
  #presenceScheduled = false;

  constructor(options: SessionEngineOptions) {
    this.#options = options;
    this.instanceId = options.instanceId ?? `engine-${randomUUID()}`;
    this.#clocks = options.clocks ?? realClocks();
    const baseLogger = options.logger ?? silentLogger;
    this.#logger = moduleLogger(baseLogger, 'engine');
    this.#sessionLog = moduleLogger(baseLogger, 'session');
    this.#trace = turnTrace(baseLogger);
    // STORYTELLER_FAULT arms one point for crash trials of a child process; otherwise all disarmed.
    this.faults = options.faults ?? FaultPoints.fromEnv();
    this.#ownsLedger = !options.ledger;
    this.ledger = options.ledger ?? new Ledger(options.db, options.ledgerOptions ?? { maxPayloadBytes: 64 * 1024, maxBatch: 512, flushMs: 20, logger: baseLogger });
    this.sessions = new SessionStore(options.db);
    const storage =
      options.storage ??
      createSessionStorage({
        db: options.db,
        ledger: this.ledger,
        sessions: this.sessions,
        graph: options.graph ?? null,
        maxPayloadBytes: options.maxPayloadBytes ?? 64 * 1024,
        logger: moduleLogger(baseLogger, 'persistence'),
        fault: (point, sessionId) => this.faults.hit(point, sessionId),
        onRefused: (effect, code) => this.metrics.effectsRefused.inc({ effect, code }),
        ...(options.checkpointFullEvery !== undefined ? { checkpointFullEvery: options.checkpointFullEvery } : {}),
        onCheckpointChainBroken: (info) => this.metrics.checkpointFallbacks.inc({ reason: info.reason }),
      });
    const behaviour = options.behaviour;
    const timeouts = { ...DEFAULT_TIMEOUTS, ...behaviour.timeouts, ...options.timeouts };
    const clock = this.#clocks.clock;
    const now = this.#clocks.now;
    const faults = this.faults;

    this.#machine = sessionMachine.provide({
      actors: {
        loadSession: fromPromise<LoadedSessionOutput, { sessionId: string }>(async ({ input, signal }) => {
          const loaded = await storage.loadSession(input.sessionId);
          const sceneKey = loaded.sceneKey ?? (await behaviour.openingSceneKey({ sessionId: input.sessionId, storyId: loaded.storyId }, signal));
          return { ...loaded, sceneKey };
        }),
        sceneStep: fromPromise<Settled<Json>, SceneStepInput>(({ input, signal }) => runStep(input.step, input.request, signal)),
        planSceneExit: fromPromise<Settled<SceneExitPlan>, { request: Omit<Parameters<SceneBehaviour['planSceneExit']>[0], 'signal'>; fallback: SceneExitPlan }>(
          ({ input, signal }) =>
            runGuarded((s) => behaviour.planSceneExit({ ...input.request, signal: s }), { clock, timeoutMs: timeouts.planSceneExit, parentSignal: signal }).promise,
        ),
        persistence: createPersistenceLogic({
          storage,
          fault: (point, sessionId) => faults.hit(point, sessionId),
          halted: () => this.#crashed,
          onRetry: (sessionId, op, error, attempt) =>
            this.#logger.warn({ sessionId, op, attempt, code: 'STORAGE_UNAVAILABLE', err: error }, 'session write: database unavailable; retrying'),
          ...(options.onSceneExitCommitted ? { onSceneExitCommitted: options.onSceneExitCommitted } : {}),
        }),
        agent: createAgentLogic({
          behaviour,
          clock,
          timeouts,
          halted: () => this.#crashed,
          onChunk: ({ sessionId, inputId, text }) => {
            this.#handles.get(sessionId)?.streamed(inputId, text);
            faults.hit('turn.duringNarrator', sessionId);
          },
        }),
      },
      actions: {
        // An armed point crashes the engine and throws FaultHalt: the actor's transition
        // unwinds there (XState puts the actor in error status), so none of its later actions run.
        fault: ({ context }, params) => {
          faults.hit(params.point, context.sessionId);
        },
      },
      delays: {
        graceRemaining: ({ context }) => Math.max(0, (context.graceDeadline ?? now() + context.gracePeriodMs) - now()),
      },
    });

    const runStep = async (step: SceneEntryStep, request: SceneStepInput['request'], signal: AbortSignal): Promise<Settled<Json>> => {
      const settled = await runGuarded((s) => behaviour[step]({ ...request, signal: s }) as Promise<Json>, { clock, timeoutMs: timeouts[step], parentSignal: signal }).promise;
      this.metrics.sceneEntryStep.observe({ step }, settled.ms);
      if (settled.ok && step === 'loadSceneDefinition') {
        const parsed = sceneDefinitionSchema.safeParse(settled.value);
        if (!parsed.success) return { ok: false, reason: 'error', message: `invalid scene definition: ${parsed.error.issues[0]?.message ?? ''}`, ms: settled.ms };
        return { ok: true, value: parsed.data as SceneDefinition, ms: settled.ms };
      }
      return settled;
    };
  }

  /** The wall clock every timestamp of this engine reads. */
  now(): number {
    return this.#clocks.now();
  }

  get crashed(): boolean {
    return this.#crashed;
  }

  /** Running sessions. */
  get size(): number {
    return this.#handles.size;
  }

  get(sessionId: string): SessionHandle | undefined {
    return this.#handles.get(sessionId);
  }

  /** The running sessions' handles. */
  handles(): IterableIterator<[string, SessionHandle]> {
    return this.#handles.entries();
  }

  /**
   * Creates a session row (and the session's copy of the story graph) and starts it at
   * the behaviour's opening scene.
   */
  async createSession(options: { storyId: string; id?: string }): Promise<SessionHandle> {
    this.#assertOpen();
    const row = await this.sessions.create({ storyId: options.storyId, ...(options.id ? { id: options.id } : {}) });
    const graph = this.#options.graph;
    if (graph) {
      try {
        await graph.forkScope(options.storyId, row.id);
      } catch (error) {
        // A story without an authored graph is allowed; anything else is real.
        if (!isStorytellerError(error) || !String(error.code).startsWith('GRAPH_SCOPE')) throw error;
      }
    }
    return this.open(row.id);
  }

  /**
   * Opens (resumes, recovers) a session: takes ownership (a new epoch fences any older
   * owner), loads the newest checkpoint + ledger delta, enters the scene, re-runs
   * unanswered inputs. With `snapshot` (a persisted actor snapshot), restores it instead
   * and re-arms the grace timer from the deadline in context.
   */
  async open(sessionId: string, options: OpenOptions = {}): Promise<SessionHandle> {
    this.#assertOpen();
    const existing = this.#handles.get(sessionId);
    if (existing && !TERMINAL.has(existing.lifecycle)) return existing;
    if (existing) this.#release(existing);
    // Two opens of one session at once share one actor (a second acquire would fence the first).
    const pending = this.#opening.get(sessionId);
    if (pending) return pending;
    const opening = this.#openNow(sessionId, options).finally(() => this.#opening.delete(sessionId));
    this.#opening.set(sessionId, opening);
    return opening;
  }

  async #openNow(sessionId: string, options: OpenOptions): Promise<SessionHandle> {
    const row = await this.sessions.get(sessionId);
    if (!row) throw new StorytellerError('SESSION_NOT_FOUND', `no session ${sessionId}`, { details: { sessionId } });
    if (row.status === 'ended') throw new StorytellerError('SESSION_NOT_PLAYING', `session ${sessionId} has ended`, { details: { sessionId } });
    const epoch = await this.sessions.acquire(sessionId, this.instanceId);
    const disconnectedUntil = options.disconnectedUntil ?? null;
    if (!options.snapshot && disconnectedUntil === null && row.status !== 'active') {
      await this.sessions.update(sessionId, { status: 'active', disconnectedAt: null, graceDeadline: null });
    }
    if (this.#handles.has(sessionId)) return this.#handles.get(sessionId) as SessionHandle;

    const fromEnvironment = this.#options.inspect === undefined;
    const observer = fromEnvironment ? inspectorFromEnvironment()?.inspect : this.#options.inspect;
    const chosen = fromEnvironment ? inspectedSessionFromEnvironment() : null;
    const selected = this.#options.inspectSession?.(sessionId) ?? (chosen === null || chosen === sessionId);
    const inspect = observer && selected ? observer : undefined;
    const snapshot = options.snapshot ? withEpoch(options.snapshot, epoch) : undefined;
    const actor = createActor(this.#machine, {
      id: `session:${sessionId}`,
      input: { sessionId, epoch, gracePeriodMs: this.#options.gracePeriodMs ?? 5 * 60_000, autosaveEveryTurns: this.#options.autosaveEveryTurns ?? 0 },
      clock: this.#clocks.clock,
      logger: (...args: unknown[]) => this.#sessionLog.debug({ sessionId, args }, 'xstate'),
      ...(snapshot ? { snapshot } : {}),
      ...(inspect ? { inspect } : {}),
    });
    const handle = new SessionHandle(sessionId, actor, this);
    this.#handles.set(sessionId, handle);
    this.metrics.activeSessions.set(this.#handles.size);
    this.#track(handle, epoch);
    actor.start();
    if (snapshot && handle.connection === 'disconnected') actor.send({ type: 'connection.rearm' });
    // Still disconnected: keep the original deadline (at = deadline − grace period).
    if (!snapshot && disconnectedUntil !== null) actor.send({ type: 'disconnect', at: disconnectedUntil - (this.#options.gracePeriodMs ?? 5 * 60_000) });
    return handle;
  }

  /**
   * After a crash, resumes the sessions this engine's instance owned that were still
   * active or disconnected (`ownedBy: null`: every such session — only for a single
   * engine instance). Each is recovered like `open()` (unanswered inputs are re-run);
   * disconnected ones keep their original grace deadline and suspend when it passes.
   */
  async resumeInterrupted(options: { ownedBy?: string | null } = {}): Promise<SessionHandle[]> {
    const owner = options.ownedBy === undefined ? this.instanceId : options.ownedBy;
    const rows = [...(await this.sessions.listByStatus('active')), ...(await this.sessions.listByStatus('disconnected'))].filter(
      (r) => owner === null || r.ownerInstance === owner,
    );
    const handles: SessionHandle[] = [];
    for (const row of rows) {
      const deadline = row.status === 'disconnected' && row.graceDeadline ? row.graceDeadline.getTime() : null;
      handles.push(await this.open(row.id, deadline === null ? {} : { disconnectedUntil: deadline }));
    }
    return handles;
  }

  /** Gracefully suspends one session (finish the turn in flight, flush, checkpoint) and releases it. */
  async stop(sessionId: string): Promise<void> {
    const handle = this.#handles.get(sessionId);
    if (!handle) return;
    await this.#suspend(handle);
  }

  /**
   * Graceful shutdown: every session finishes its turn in flight, flushes its ledger
   * writes and writes a 'suspend' checkpoint; then the ledger is closed (if this engine
   * created it). New sessions and inputs are refused meanwhile.
   */
  async shutdown(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    await Promise.all([...this.#handles.values()].map((h) => this.#suspend(h)));
    if (this.#ownsLedger) await this.ledger.close();
  }

  /**
   * The testing kit's crash: halts the engine at once. From this call on nothing of it
   * runs — no reply from persistence or agents, no emitted event, no write (its
   * persistence and agent logic check `crashed`); every actor is stopped now. An actor
   * that is in the middle of a transition (the fault point is inside it) finishes no
   * more of it: the fault point throws right after this returns. The ledger is NOT flushed.
   * @internal
   */
  abandon(): void {
    this.#crashed = true;
    this.#closing = true;
    const handles = [...this.#handles.values()];
    this.#handles.clear();
    this.registry.send({ type: 'clear' });
    for (const h of handles) h.actor.stop();
  }

  #assertOpen(): void {
    if (this.#closing) throw new StorytellerError('ENGINE_SHUTTING_DOWN', 'the engine is shutting down');
  }

  #suspend(handle: SessionHandle): Promise<void> {
    return new Promise<void>((resolve) => {
      if (TERMINAL.has(handle.lifecycle) || handle.actor.getSnapshot().status !== 'active') {
        resolve();
        return;
      }
      const sub = handle.actor.subscribe({
        next: (s) => {
          if (TERMINAL.has(topLevel(s.value, 'lifecycle'))) {
            sub.unsubscribe();
            resolve();
          }
        },
        complete: () => resolve(),
        error: () => resolve(),
      });
      handle.actor.send({ type: 'shutdown' });
    });
  }

  /** Drops a finished session actor (idempotent). */
  #release(handle: SessionHandle): void {
    if (this.#handles.get(handle.id) !== handle) return;
    this.#handles.delete(handle.id);
    this.#presence(handle.id, null);
    this.metrics.activeSessions.set(this.#handles.size);
    handle.actor.stop();
  }

  /** Queues a presence change; one registry update per tick. */
  #presence(id: string, presence: SessionPresence | null): void {
    if (presence) {
      this.#presenceUpserts[id] = presence;
    } else {
      delete this.#presenceUpserts[id];
      this.#presenceRemovals.push(id);
    }
    if (this.#presenceScheduled) return;
    this.#presenceScheduled = true;
    setImmediate(() => {
      this.#presenceScheduled = false;
      const upserts = this.#presenceUpserts;
      const removals = this.#presenceRemovals;
      this.#presenceUpserts = {};
      this.#presenceRemovals = [];
      if (!this.#crashed) this.registry.send({ type: 'apply', upserts, removals });
    });
  }

  #track(handle: SessionHandle, epoch: number): void {
    const openedAt = this.now();
    let last = '';
    const turnStarts = new Map<number, number>();
    // The turn cycle's log lines (docs/operations.md, "Logs"): the session's child logger, and
    // per turn a child bound to turn / inputId (the client's) / ledgerId (the PlayerInput row),
    // also bound in the turn trace so other modules' lines naming the session carry them.
    const log = this.#sessionLog.child({ sessionId: handle.id });
    const turns = new Map<number, Logger>();
    handle.actor.subscribe({
      next: (snapshot) => {
        const lifecycle = topLevel(snapshot.value, 'lifecycle');
        const connection = topLevel(snapshot.value, 'connection');
        const key = `${lifecycle}/${connection}`;
        if (key === last) return;
        last = key;
        if (this.#crashed) return;
        log.debug({ lifecycle, connection, turn: snapshot.context.turn, ...this.#trace.get(handle.id) }, 'session state');
        this.#presence(handle.id, { lifecycle, connection, sceneKey: snapshot.context.sceneKey, epoch, openedAt });
        if (TERMINAL.has(lifecycle)) {
          this.#trace.release(handle.id);
          // Release the actor (and its memory); a later open() resumes from the checkpoint.
          queueMicrotask(() => this.#release(handle));
        }
      },
      error: (error) => {
        if (!this.#crashed) log.error({ err: error, ...this.#trace.get(handle.id) }, 'session actor error');
      },
    });
    handle.on('ack', (e) => log.debug({ turn: e.turn, inputId: e.clientInputId, ledgerId: e.inputId, duplicate: e.duplicate }, 'input durable (ack)'));
    handle.on('inputRejected', (e) => log.warn({ turn: null, inputId: e.clientInputId, ledgerId: null, code: e.error.code, reason: e.error.message }, 'input refused'));
    handle.on('turnStarted', (e) => {
      turnStarts.set(e.inputId, performance.now());
      const fields = { turn: e.turn, inputId: e.clientInputId, ledgerId: e.inputId };
      this.#trace.bind(handle.id, fields);
      const turnLog = log.child(fields);
      turns.set(e.inputId, turnLog);
      turnLog.debug('turn started');
    });
    handle.on('answer', (e) => {
      const started = turnStarts.get(e.inputId);
      turnStarts.delete(e.inputId);
      const ms = started === undefined ? null : performance.now() - started;
      if (ms !== null) {
        this.metrics.turnOverhead.observe(Math.max(0, ms - e.behaviourMs));
        this.metrics.turnMs.observe(ms);
      }
      for (const member of e.degraded) this.metrics.turnsDegraded.inc({ member });
      const turnLog = turns.get(e.inputId) ?? log.child({ turn: e.turn, inputId: e.clientInputId, ledgerId: e.inputId });
      turnLog.info({ ms, behaviourMs: e.behaviourMs, degraded: e.degraded }, 'turn answered');
    });
    handle.on('turnRecorded', (e) => {
      const turnLog = turns.get(e.inputId);
      turns.delete(e.inputId);
      turnLog?.debug('turn recorded (TurnCompleted durable)');
      this.#trace.release(handle.id, e.inputId);
    });
    handle.on('sceneEntered', (e) => log.info({ sceneIndex: e.sceneIndex, sceneKey: e.sceneKey, timings: e.timings, degraded: e.degraded }, 'scene entered'));
    handle.on('sceneExited', (e) => log.info({ sceneIndex: e.sceneIndex, sceneKey: e.sceneKey, nextSceneKey: e.nextSceneKey, checkpointId: e.checkpointId, reason: e.reason }, 'scene exited'));
    handle.on('checkpointed', (e) => log.debug({ checkpointType: e.checkpointType, checkpointId: e.checkpointId }, 'checkpoint written'));
    handle.on('suspended', (e) => log.info({ reason: e.reason }, 'session suspended'));
    handle.on('ended', () => log.info('session ended'));
    handle.on('failed', (e) => log.error({ code: e.error.code, reason: e.error.message, ...this.#trace.get(handle.id) }, 'session failed'));
  }
}

/** A restored snapshot carries the previous owner's epoch; the new owner's replaces it. */
function withEpoch(snapshot: Snapshot<unknown>, epoch: number): Snapshot<unknown> {
  const s = snapshot as unknown as { context?: Record<string, unknown> };
  return { ...s, context: { ...s.context, epoch } } as unknown as Snapshot<unknown>;
}
