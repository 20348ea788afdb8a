import { fromCallback, fromPromise, setup } from 'xstate';
import type { AgentActorInput, AgentReply, AgentRequestEvent, AgentRole, AgentTurnRequest, Settled } from '../actors/agent-actor.ts';
import type { Json, NarratorResult, SceneDefinition, SceneEntryRequest, SceneEntryStep, SceneExitPlan, SceneExitPlanRequest, TurnResults, WarmScene } from '../actors/behaviour.ts';
import type { PersistenceInput, PersistenceReply, PersistenceRequest } from '../actors/persistence.ts';
import { applyEvents, type TruthSet } from '../domain/truth-set.ts';
import type { FaultPoint } from '../engine/fault-points.ts';
import type { CurrentTurn, LoadedSessionOutput, SessionContext, SessionEmitted, SessionEvent, SessionInput } from './session-types.ts';
import { turnEvents } from './turn-events.ts';

/**
 * Shared setup of the session statechart (session.ts): its types, the named actor
 * logic it invokes and spawns (placeholders here that fail loudly if an engine forgets
 * to `.provide()` one), guards, the `graceRemaining` delay, the `fault` action, and the
 * helpers and actions the state files (scene-entry.ts, turn.ts, scene-exit.ts,
 * connection.ts) share. Pure: no SQL, no sockets, no clocks.
 */

export interface SceneStepInput {
  step: SceneEntryStep;
  request: Omit<SceneEntryRequest, 'signal'>;
}

export interface PlanSceneExitInput {
  request: Omit<SceneExitPlanRequest, 'signal'>;
  /** Used when the behaviour fails: stay in the scene's key (re-enter on resume). */
  fallback: SceneExitPlan;
}

const notProvided = (name: string) => () => Promise.reject(new Error(`session machine: actor logic '${name}' was not provided`));

export type AgentDone = Extract<AgentReply, { type: 'agent.done' }>;
export type PersistReply<T extends PersistenceReply['type']> = Extract<PersistenceReply, { type: T }>;

export const WARM_FIELD: Record<SceneEntryStep, keyof WarmScene> = {
  loadSceneDefinition: 'definition',
  loadEntityState: 'entities',
  loadGraphContext: 'graph',
  computeFrames: 'frames',
  buildSensitivityMap: 'sensitivity',
  warmNarratorContext: 'narrator',
};

export function sceneIdOf(context: SessionContext): string | null {
  return context.warm.definition?.sceneId ?? null;
}

export function entryRequest(context: SessionContext): Omit<SceneEntryRequest, 'signal'> {
  return {
    session: { sessionId: context.sessionId, storyId: context.storyId },
    sceneKey: context.sceneKey ?? '',
    turn: context.turn,
    truthSet: context.truthSet,
    entityState: context.entityState,
    worldState: context.worldState,
    deferredResults: context.deferredResults.slice(0, context.deferredAtEntry),
    warm: context.warm,
  };
}

export function turnRequest(context: SessionContext): AgentTurnRequest {
  const current = context.current as CurrentTurn;
  return {
    session: { sessionId: context.sessionId, storyId: context.storyId },
    scene: context.warm as WarmScene,
    truthSet: context.truthSet,
    input: current.input,
    results: current.results,
  };
}

export function requestId(context: SessionContext, member: string): string {
  return `${context.current?.input.inputId ?? 0}:${member}`;
}

/** Folds durable ledger records into the truth set, skipping what it already covers (a re-run's original rows). */
export function fold(truthSet: TruthSet | null, records: PersistReply<'persist.eventsDurable'>['records']): TruthSet | null {
  if (!truthSet) return truthSet;
  const fresh = records.filter((r) => r.narrativeTs > truthSet.lastNarrativeTs);
  return fresh.length === 0 ? truthSet : applyEvents(truthSet, fresh);
}

export function withResult(current: CurrentTurn, e: AgentDone): CurrentTurn {
  const results: TurnResults = { ...current.results };
  switch (e.role) {
    case 'stage1':
    case 'stage2':
    case 'stage3':
    case 'storykeeper':
    case 'world':
    case 'reconciler':
      results[e.role] = e.result as NonNullable<TurnResults[typeof e.role]>;
      break;
    case 'character':
      results.characters = { ...results.characters, [e.characterId ?? '?']: e.result as NonNullable<TurnResults['storykeeper']> };
      break;
    default:
      break;
  }
  return {
    ...current,
    results,
    degraded: e.degraded ? [...current.degraded, e.degraded] : current.degraded,
    pendingAgents: current.pendingAgents.filter((id) => id !== e.requestId),
    behaviourMs: current.behaviourMs + e.ms,
  };
}

export function fallbackExitPlan(context: SessionContext, requested: string | null): SceneExitPlan {
  return {
    entitySnapshots: [],
    edgeUpdates: [],
    nextSceneKey: requested ?? context.sceneKey,
    entityState: context.entityState,
    worldState: context.worldState,
    narrativePosition: { sceneKey: context.sceneKey },
  };
}

export const sessionSetup = setup({
  types: {
    context: {} as SessionContext,
    events: {} as SessionEvent,
    input: {} as SessionInput,
    emitted: {} as SessionEmitted,
  },
  actors: {
    loadSession: fromPromise<LoadedSessionOutput, { sessionId: string }>(notProvided('loadSession')),
    sceneStep: fromPromise<Settled<Json>, SceneStepInput>(notProvided('sceneStep')),
    planSceneExit: fromPromise<Settled<SceneExitPlan>, PlanSceneExitInput>(notProvided('planSceneExit')),
    persistence: fromCallback<PersistenceRequest, PersistenceInput>(() => undefined),
    agent: fromCallback<AgentRequestEvent, AgentActorInput>(() => undefined),
  },
  actions: {
    /** A named fault point (the engine's FaultPoints); a no-op unless armed. */
    fault: (_: unknown, _params: { point: FaultPoint }) => undefined,
  },
  delays: {
    /** Time left until `graceDeadline` — the engine provides it from its wall clock. */
    graceRemaining: ({ context }) => context.gracePeriodMs,
  },
  guards: {
    noPendingWrites: ({ context }) => context.pendingWrites === 0,
    autosaveDue: ({ context }) =>
      context.autosaveEveryTurns > 0 && context.pendingWrites === 0 && context.turn - context.lastSavedTurn >= context.autosaveEveryTurns && context.exitRequest === null,
    canStartTurn: ({ context }) => context.queue.length > 0 && context.pendingWrites === 0,
    mustExitScene: ({ context }) => context.exitRequest !== null || context.suspendReason === 'grace_expired',
    mustSuspendMidScene: ({ context }) => context.suspendReason === 'shutdown',
    suspendRequested: ({ context }) => context.suspendReason !== null,
    storyEnded: ({ context }) => context.sceneKey === null,
    allAgentsAnswered: ({ context }) => (context.current?.pendingAgents.length ?? 0) === 0,
    isReplyFrom: ({ context, event }, params: { member: AgentRole }) =>
      event.type === 'agent.done' && context.current !== null && event.requestId === requestId(context, params.member),
    isPendingAgentReply: ({ context, event }) => event.type === 'agent.done' && (context.current?.pendingAgents.includes(event.requestId) ?? false),
    isStage4Reply: ({ event }) => event.type === 'agent.done' && event.role === 'stage4',
  },
});

// Shared actions are built on the setup (typed for the whole event union); inline ones use
// xstate's functions, which narrow `event` to the transition's event type.
export const S = sessionSetup;

// ---------------------------------------------------------------- shared actions

export const askMember = (member: 'stage1' | 'stage2' | 'stage3' | 'reconciler' | 'narrator') =>
  S.sendTo(member, ({ context }): AgentRequestEvent => ({ type: 'agent.run', requestId: requestId(context, member), request: turnRequest(context) }));

export const recordReply = S.assign({
  current: ({ context, event }) => (context.current && event.type === 'agent.done' ? withResult(context.current, event) : context.current),
  exitRequest: ({ context, event }) => {
    if (event.type !== 'agent.done' || context.exitRequest) return context.exitRequest;
    if (event.role !== 'storykeeper' && event.role !== 'reconciler') return context.exitRequest;
    const exit = 'sceneExit' in event.result ? event.result.sceneExit : undefined;
    return exit ? { reason: exit.reason, nextSceneKey: exit.nextSceneKey } : null;
  },
});

export const stopSceneChildren = S.enqueueActions(({ context, enqueue }) => {
  for (const id of context.children) enqueue.stopChild(id);
  enqueue.assign({ children: [] });
});

export const appendEvents = (batch: string, build: (context: SessionContext) => ReturnType<typeof turnEvents>) =>
  S.enqueueActions(({ context, enqueue }) => {
    const events = build(context);
    if (events.length === 0) return;
    enqueue.sendTo('persistence', { type: 'persist.events', batchId: `${batch}:${context.batchSeq}`, events, epoch: context.epoch } satisfies PersistenceRequest);
    enqueue.assign({ pendingWrites: context.pendingWrites + 1, batchSeq: context.batchSeq + 1 });
  });

export const markFailed = S.assign({
  error: ({ event }) => {
    if (event.type === 'persist.failed') return event.error;
    const e = event as unknown as { error?: unknown };
    return { code: 'SESSION_FAILED', message: e.error instanceof Error ? e.error.message : String(e.error ?? 'unknown error') };
  },
});

/** A mid-scene checkpoint: the scene's entry state + the truth set (replay resumes after it). */
export const midSceneCheckpoint = (type: 'manual_save' | 'autosave') =>
  S.enqueueActions(({ context, enqueue }) => {
    const sceneId = sceneIdOf(context);
    if (!sceneId || !context.truthSet) return;
    enqueue.sendTo('persistence', {
      type: 'persist.checkpoint',
      write: {
        type,
        sessionId: context.sessionId,
        epoch: context.epoch,
        sceneId,
        turn: context.turn,
        truthSet: context.truthSet,
        entityState: context.entityState,
        worldState: context.worldState,
        sessionState: { sceneIndex: context.sceneIndex, sceneKey: context.sceneKey, reason: type, ended: false },
      },
    } satisfies PersistenceRequest);
    enqueue.assign({ lastSavedTurn: context.turn });
  });

