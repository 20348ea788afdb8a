import { fromCallback } from 'xstate';
import type { Clock } from '../engine/clock.ts';
import { isFaultHalt } from '../engine/fault-points.ts';
import { createTimeSlicer, type TimeSlicer } from './time-slice.ts';
import type { AgentResult, BehaviourMember, BehaviourTimeouts, NarratorResult, SceneBehaviour, StageResult, TurnRequest } from './behaviour.ts';

/**
 * The generic child-actor shell (issue 3 §3): one long-lived actor per agent or
 * classifier stage per scene (`systemId` narrator, storykeeper, world, reconciler,
 * character:<id>, stage1..stage4). It runs one behaviour member per request with an
 * AbortSignal and a timeout on the injected clock, and ALWAYS answers: a member that
 * throws or times out is answered with a fallback and marked degraded, so the session
 * never waits on a stuck agent. Stopping the actor (scene exit, shutdown) aborts
 * whatever is running.
 */
export type AgentRole = 'stage1' | 'stage2' | 'stage3' | 'stage4' | 'character' | 'storykeeper' | 'world' | 'reconciler' | 'narrator';

export const AGENT_ROLES: readonly AgentRole[] = ['stage1', 'stage2', 'stage3', 'stage4', 'character', 'storykeeper', 'world', 'reconciler', 'narrator'];

export interface AgentActorInput {
  role: AgentRole;
  /** For role 'character'. */
  characterId?: string;
}

/** The turn request without its signal (the shell owns the AbortController). */
export type AgentTurnRequest = Omit<TurnRequest, 'signal'>;

export type AgentRequestEvent = { type: 'agent.run'; requestId: string; request: AgentTurnRequest } | { type: 'agent.cancel' };

export interface Degradation {
  member: string;
  reason: 'timeout' | 'error';
  message: string;
}

export type AgentOutput = AgentResult | NarratorResult;

export type AgentReply =
  | {
      type: 'agent.done';
      requestId: string;
      role: AgentRole;
      characterId: string | null;
      result: AgentOutput;
      degraded: Degradation | null;
      /** Time spent in the behaviour member (the "LLM time" excluded from turn overhead). */
      ms: number;
      /** Narrative chunks this run streamed before it settled (AgentDeps.onChunk). */
      streamed: number;
    };

/** One piece of the narrator's stream, addressed to its session's listeners. */
export interface NarratorChunk {
  sessionId: string;
  inputId: number;
  text: string;
}

export const DEFAULT_TIMEOUTS: Required<BehaviourTimeouts> = {
  loadSceneDefinition: 5_000,
  loadEntityState: 5_000,
  loadGraphContext: 5_000,
  computeFrames: 10_000,
  buildSensitivityMap: 5_000,
  warmNarratorContext: 5_000,
  stage1: 1_000,
  stage2: 2_000,
  stage3: 2_000,
  stage4: 15_000,
  character: 20_000,
  storykeeper: 20_000,
  world: 20_000,
  reconciler: 20_000,
  narrator: 45_000,
  planSceneExit: 10_000,
};

export const DEFAULT_FALLBACK_NARRATION = 'A moment passes; the scene holds its breath.';

export type Settled<T> = { ok: true; value: T; ms: number } | { ok: false; reason: 'timeout' | 'error'; message: string; ms: number };

/**
 * Runs `fn` with an AbortSignal, settling at most once: with its value, its error, or a
 * timeout on `clock` (which aborts the signal). Never rejects.
 */
export function runGuarded<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  options: { clock: Clock; timeoutMs: number; parentSignal?: AbortSignal },
): { promise: Promise<Settled<T>>; abort: () => void } {
  return runGuardedLazily((signal) => fn(signal()), options);
}

/**
 * runGuarded with the AbortSignal made on first use: `signal()` creates it (already aborted
 * if the run was). An AbortController costs ~9 µs in Node 20 and a turn asks nine members,
 * most of which (rule-based stages, scripted replies) never look at it.
 */
export function runGuardedLazily<T>(
  fn: (signal: () => AbortSignal) => Promise<T>,
  options: { clock: Clock; timeoutMs: number; parentSignal?: AbortSignal },
): { promise: Promise<Settled<T>>; abort: () => void; readonly settled: boolean } {
  return new GuardedRun<T>(options, fn);
}

/**
 * One guarded call. A class, not closures: the turn cycle makes nine of these per turn, and
 * tsx (esbuild `keepNames`) wraps every named closure in a `defineProperty` call.
 */
class GuardedRun<T> {
  readonly #options: { clock: Clock; timeoutMs: number; parentSignal?: AbortSignal | undefined };
  readonly #started = performance.now();
  #controller: AbortController | null = null;
  #aborted: { reason: unknown } | null = null;
  #settled = false;
  #timer: unknown = null;
  #resolve: ((value: Settled<T>) => void) | null = null;
  readonly #onParentAbort: (() => void) | null;
  readonly promise: Promise<Settled<T>>;

  constructor(options: { clock: Clock; timeoutMs: number; parentSignal?: AbortSignal }, fn: (signal: () => AbortSignal) => Promise<T>) {
    this.#options = options;
    this.#onParentAbort = options.parentSignal ? () => this.abort(options.parentSignal?.reason) : null;
    this.promise = this.#start(fn);
  }

  #start(fn: (signal: () => AbortSignal) => Promise<T>): Promise<Settled<T>> {
    const { clock, timeoutMs, parentSignal } = this.#options;
    if (this.#onParentAbort) parentSignal?.addEventListener('abort', this.#onParentAbort, { once: true });
    const promise = new Promise<Settled<T>>((resolve) => (this.#resolve = resolve));
    this.#timer = clock.setTimeout(() => {
      this.abort(new Error('timeout'));
      this.#settle({ ok: false, reason: 'timeout', message: `timed out after ${timeoutMs} ms`, ms: performance.now() - this.#started });
    }, timeoutMs);
    let running: Promise<T>;
    try {
      running = fn(() => this.signal());
    } catch (error) {
      this.#fail(error);
      return promise;
    }
    running.then(
      (value) => this.#settle({ ok: true, value, ms: performance.now() - this.#started }),
      (error: unknown) => this.#fail(error),
    );
    return promise;
  }

  /** True once the run has its outcome (value, error or timeout): later work of the member is ignored. */
  get settled(): boolean {
    return this.#settled;
  }

  signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#aborted.reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown = new Error('aborted')): void {
    if (this.#aborted) return;
    this.#aborted = { reason };
    this.#controller?.abort(reason);
  }

  #fail(error: unknown): void {
    this.#settle({ ok: false, reason: 'error', message: error instanceof Error ? error.message : String(error), ms: performance.now() - this.#started });
  }

  #settle(value: Settled<T>): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#options.clock.clearTimeout(this.#timer);
    if (this.#onParentAbort) this.#options.parentSignal?.removeEventListener('abort', this.#onParentAbort);
    this.#resolve?.(value);
  }
}

/** `request` plus a `signal` property that makes the AbortSignal when first read. */
function withLazySignal<R extends object>(request: R, signal: () => AbortSignal): R & { signal: AbortSignal } {
  return {
    ...request,
    get signal() {
      return signal();
    },
  };
}

export interface AgentDeps {
  behaviour: SceneBehaviour;
  clock: Clock;
  timeouts: Required<BehaviourTimeouts>;
  /** True once the engine crashed: no reply is sent back any more. */
  halted?: () => boolean;
  /** When a busy stretch of the turn cycle should let pending I/O in (default: 2 ms slices). */
  slicer?: TimeSlicer;
  /**
   * Where the narrator's stream goes, chunk by chunk, while its run has not settled. Not
   * through the session statechart: a narrator streams token by token, and every event into
   * the session machine costs a macrostep; the machine needs only the count (agent.done).
   * A FaultHalt it throws (the engine crashed at a fault point) ends the stream there.
   */
  onChunk?: (chunk: NarratorChunk) => void;
}

function fallbackNarration(behaviour: SceneBehaviour, request: AgentTurnRequest): string {
  try {
    return behaviour.fallbackNarration?.({ ...request, signal: AbortSignal.abort() }) ?? DEFAULT_FALLBACK_NARRATION;
  } catch {
    return DEFAULT_FALLBACK_NARRATION;
  }
}

function emptyResult(): StageResult {
  return { output: null, events: [] };
}

/** Calls the behaviour member for the actor's role. */
function askMember(b: SceneBehaviour, input: AgentActorInput, request: AgentTurnRequest, signal: () => AbortSignal, onChunk: (text: string) => void): Promise<AgentOutput> {
  switch (input.role) {
    case 'character':
      return b.character(withLazySignal({ ...request, characterId: input.characterId ?? '' }, signal));
    case 'narrator':
      return b.narrator(withLazySignal(request, signal), onChunk);
    default:
      return b[input.role](withLazySignal(request, signal));
  }
}

/**
 * Builds the agent shell logic for one engine (provided to the machine as `agent`).
 *
 * @example
 * spawnChild('agent', { id: 'narrator', systemId: 'narrator', input: { role: 'narrator' } })
 */
export function createAgentLogic(deps: AgentDeps) {
  const slicer = deps.slicer ?? createTimeSlicer();
  return fromCallback<AgentRequestEvent, AgentActorInput>(({ input, receive, sendBack }) => {
    const running = new Set<{ abort(): void }>();
    let stopped = false;
    const dead = (): boolean => stopped || (deps.halted?.() ?? false);
    const member: BehaviourMember = input.role;
    const name = input.role === 'character' ? `character:${input.characterId ?? '?'}` : input.role;

    receive((event) => {
      if (event.type === 'agent.cancel') {
        for (const run of running) run.abort();
        return;
      }
      const { requestId } = event;
      let streamed = 0;
      // A turn starts at once unless the loop has been busy past a time slice: then its first
      // member (stage 1) waits its turn in the slicer's queue and starts on a later event-loop
      // iteration, after pending I/O such as other players' acks (time-slice.ts). Only the
      // turn's start moves, so the order of one turn's members — and of what they write —
      // never depends on timing.
      // (Anonymous functions here: see GuardedRun.) `guarded` is null while the run starts: a
      // narrator may stream before runGuardedLazily returns.
      let guarded: { readonly settled: boolean } | null = null;
      const run = runGuardedLazily(
        (signal) => {
          const chunk = (text: string): void => {
            if (dead() || guarded?.settled === true || !deps.onChunk) return;
            streamed += 1;
            try {
              deps.onChunk({ sessionId: event.request.session.sessionId, inputId: event.request.input.inputId, text });
            } catch (error) {
              if (!isFaultHalt(error)) throw error;
            }
          };
          if (input.role !== 'stage1') return askMember(deps.behaviour, input, event.request, signal, chunk);
          return new Promise<AgentOutput>((resolve, reject) =>
            slicer.run(() => {
              if (dead()) return reject(new Error('stopped'));
              try {
                askMember(deps.behaviour, input, event.request, signal, chunk).then(resolve, reject);
              } catch (error) {
                reject(error);
              }
            }),
          );
        },
        { clock: deps.clock, timeoutMs: deps.timeouts[member] },
      );
      guarded = run;
      running.add(run);
      void run.promise.then((settled) => {
        running.delete(run);
        if (dead()) return;
        let result: AgentOutput;
        let degraded: Degradation | null = null;
        if (settled.ok) {
          result = settled.value;
        } else {
          degraded = { member: name, reason: settled.reason, message: settled.message };
          result = input.role === 'narrator' ? { text: fallbackNarration(deps.behaviour, event.request), events: [] } : emptyResult();
        }
        sendBack({ type: 'agent.done', requestId, role: input.role, characterId: input.characterId ?? null, result, degraded, ms: settled.ms, streamed } satisfies AgentReply);
      });
    });

    return () => {
      stopped = true;
      for (const run of running) run.abort();
      running.clear();
    };
  });
}
