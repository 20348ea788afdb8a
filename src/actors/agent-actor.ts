import { fromCallback } from 'xstate';
import type { Clock } from '../engine/clock.ts';
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
    }
  | { type: 'agent.chunk'; requestId: string; text: string };

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
  const controller = new AbortController();
  const started = performance.now();
  const onParentAbort = (): void => controller.abort(options.parentSignal?.reason);
  options.parentSignal?.addEventListener('abort', onParentAbort, { once: true });
  let timer: unknown;
  const promise = new Promise<Settled<T>>((resolve) => {
    let settled = false;
    const settle = (value: Settled<T>): void => {
      if (settled) return;
      settled = true;
      options.clock.clearTimeout(timer);
      options.parentSignal?.removeEventListener('abort', onParentAbort);
      resolve(value);
    };
    timer = options.clock.setTimeout(() => {
      controller.abort(new Error('timeout'));
      settle({ ok: false, reason: 'timeout', message: `timed out after ${options.timeoutMs} ms`, ms: performance.now() - started });
    }, options.timeoutMs);
    let running: Promise<T>;
    try {
      running = fn(controller.signal);
    } catch (error) {
      settle({ ok: false, reason: 'error', message: error instanceof Error ? error.message : String(error), ms: performance.now() - started });
      return;
    }
    running.then(
      (value) => settle({ ok: true, value, ms: performance.now() - started }),
      (error: unknown) => settle({ ok: false, reason: 'error', message: error instanceof Error ? error.message : String(error), ms: performance.now() - started }),
    );
  });
  return { promise, abort: () => controller.abort(new Error('aborted')) };
}

export interface AgentDeps {
  behaviour: SceneBehaviour;
  clock: Clock;
  timeouts: Required<BehaviourTimeouts>;
  /** True once the engine crashed: no reply is sent back any more. */
  halted?: () => boolean;
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

/**
 * Builds the agent shell logic for one engine (provided to the machine as `agent`).
 *
 * @example
 * spawnChild('agent', { id: 'narrator', systemId: 'narrator', input: { role: 'narrator' } })
 */
export function createAgentLogic(deps: AgentDeps) {
  return fromCallback<AgentRequestEvent, AgentActorInput>(({ input, receive, sendBack }) => {
    const running = new Set<() => void>();
    let stopped = false;
    const dead = (): boolean => stopped || (deps.halted?.() ?? false);
    const member: BehaviourMember = input.role;
    const name = input.role === 'character' ? `character:${input.characterId ?? '?'}` : input.role;

    receive((event) => {
      if (event.type === 'agent.cancel') {
        for (const abort of running) abort();
        return;
      }
      const { requestId } = event;
      const call = (signal: AbortSignal): Promise<AgentOutput> => {
        const req: TurnRequest = { ...event.request, signal };
        const b = deps.behaviour;
        switch (input.role) {
          case 'stage1':
            return b.stage1(req);
          case 'stage2':
            return b.stage2(req);
          case 'stage3':
            return b.stage3(req);
          case 'stage4':
            return b.stage4(req);
          case 'character':
            return b.character({ ...req, characterId: input.characterId ?? '' });
          case 'storykeeper':
            return b.storykeeper(req);
          case 'world':
            return b.world(req);
          case 'reconciler':
            return b.reconciler(req);
          case 'narrator':
            return b.narrator(req, (text) => {
              if (!dead()) sendBack({ type: 'agent.chunk', requestId, text } satisfies AgentReply);
            });
        }
      };
      const guarded = runGuarded(call, { clock: deps.clock, timeoutMs: deps.timeouts[member] });
      running.add(guarded.abort);
      void guarded.promise.then((settled) => {
        running.delete(guarded.abort);
        if (dead()) return;
        let result: AgentOutput;
        let degraded: Degradation | null = null;
        if (settled.ok) {
          result = settled.value;
        } else {
          degraded = { member: name, reason: settled.reason, message: settled.message };
          result = input.role === 'narrator' ? { text: fallbackNarration(deps.behaviour, event.request), events: [] } : emptyResult();
        }
        sendBack({ type: 'agent.done', requestId, role: input.role, characterId: input.characterId ?? null, result, degraded, ms: settled.ms } satisfies AgentReply);
      });
    });

    return () => {
      stopped = true;
      for (const abort of running) abort();
      running.clear();
    };
  });
}
