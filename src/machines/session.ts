import { assign, emit, enqueueActions, fromCallback, fromPromise, raise, sendTo, setup, type ActorRefFrom, type SnapshotFrom } from 'xstate';
import type { AgentActorInput, AgentReply, AgentRequestEvent, AgentRole, AgentTurnRequest, Settled } from '../actors/agent-actor.ts';
import type { Json, NarratorResult, SceneDefinition, SceneEntryRequest, SceneEntryStep, SceneExitPlan, SceneExitPlanRequest, TurnResults, WarmScene } from '../actors/behaviour.ts';
import type { PersistenceInput, PersistenceReply, PersistenceRequest } from '../actors/persistence.ts';
import { sceneChildIds, sceneChildSpecs } from '../actors/session-children.ts';
import { event as ledgerEvent } from '../domain/events.ts';
import { applyEvents, type TruthSet } from '../domain/truth-set.ts';
import type { FaultPoint } from '../engine/fault-points.ts';
import type { CurrentTurn, LoadedSessionOutput, SessionContext, SessionEmitted, SessionEvent, SessionInput } from './session-types.ts';
import { stamp, turnEvents } from './turn-events.ts';

/**
 * The session statechart (issue 3; seed "Data Lifecycle", "Session Resilience").
 *
 * Two parallel regions:
 *   lifecycle   loading → entering (six named, timed steps) → playing (turn cycle)
 *               → exiting (drain → plan → ONE transaction) → entering | suspended | ended;
 *               suspending (graceful shutdown: flush + mid-scene checkpoint); failed.
 *   connection  connected ⇄ disconnected (grace deadline in context) → expired.
 *
 * Pure: no SQL, no sockets, no clocks. I/O enters as named actor logic (`loadSession`,
 * `sceneStep`, `planSceneExit`, `persistence`, `agent`), the wall-clock-dependent delay
 * `graceRemaining`, and the `fault` action — all given by the engine through `.provide()`.
 * The placeholders below fail loudly if an engine forgets one.
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

type AgentDone = Extract<AgentReply, { type: 'agent.done' }>;
type PersistReply<T extends PersistenceReply['type']> = Extract<PersistenceReply, { type: T }>;

const WARM_FIELD: Record<SceneEntryStep, keyof WarmScene> = {
  loadSceneDefinition: 'definition',
  loadEntityState: 'entities',
  loadGraphContext: 'graph',
  computeFrames: 'frames',
  buildSensitivityMap: 'sensitivity',
  warmNarratorContext: 'narrator',
};

function sceneIdOf(context: SessionContext): string | null {
  return context.warm.definition?.sceneId ?? null;
}

function entryRequest(context: SessionContext): Omit<SceneEntryRequest, 'signal'> {
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

function turnRequest(context: SessionContext): AgentTurnRequest {
  const current = context.current as CurrentTurn;
  return {
    session: { sessionId: context.sessionId, storyId: context.storyId },
    scene: context.warm as WarmScene,
    truthSet: context.truthSet,
    input: current.input,
    results: current.results,
  };
}

function requestId(context: SessionContext, member: string): string {
  return `${context.current?.input.inputId ?? 0}:${member}`;
}

/** Folds durable ledger records into the truth set, skipping what it already covers (a re-run's original rows). */
function fold(truthSet: TruthSet | null, records: PersistReply<'persist.eventsDurable'>['records']): TruthSet | null {
  if (!truthSet) return truthSet;
  const fresh = records.filter((r) => r.narrativeTs > truthSet.lastNarrativeTs);
  return fresh.length === 0 ? truthSet : applyEvents(truthSet, fresh);
}

function withResult(current: CurrentTurn, e: AgentDone): CurrentTurn {
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

function fallbackExitPlan(context: SessionContext, requested: string | null): SceneExitPlan {
  return {
    entitySnapshots: [],
    edgeUpdates: [],
    nextSceneKey: requested ?? context.sceneKey,
    entityState: context.entityState,
    worldState: context.worldState,
    narrativePosition: { sceneKey: context.sceneKey },
  };
}

const sessionSetup = setup({
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
    isNarratorChunk: ({ context, event }) => event.type === 'agent.chunk' && event.requestId === requestId(context, 'narrator'),
  },
});

// Shared actions are built on the setup (typed for the whole event union); inline ones use
// xstate's functions, which narrow `event` to the transition's event type.
const S = sessionSetup;

// ---------------------------------------------------------------- shared actions

const askMember = (member: 'stage1' | 'stage2' | 'stage3' | 'reconciler' | 'narrator') =>
  S.sendTo(member, ({ context }): AgentRequestEvent => ({ type: 'agent.run', requestId: requestId(context, member), request: turnRequest(context) }));

const recordReply = S.assign({
  current: ({ context, event }) => (context.current && event.type === 'agent.done' ? withResult(context.current, event) : context.current),
  exitRequest: ({ context, event }) => {
    if (event.type !== 'agent.done' || context.exitRequest) return context.exitRequest;
    if (event.role !== 'storykeeper' && event.role !== 'reconciler') return context.exitRequest;
    const exit = 'sceneExit' in event.result ? event.result.sceneExit : undefined;
    return exit ? { reason: exit.reason, nextSceneKey: exit.nextSceneKey } : null;
  },
});

const stopSceneChildren = S.enqueueActions(({ context, enqueue }) => {
  for (const id of context.children) enqueue.stopChild(id);
  enqueue.assign({ children: [] });
});

const appendEvents = (batch: string, build: (context: SessionContext) => ReturnType<typeof turnEvents>) =>
  S.enqueueActions(({ context, enqueue }) => {
    const events = build(context);
    if (events.length === 0) return;
    enqueue.sendTo('persistence', { type: 'persist.events', batchId: `${batch}:${context.batchSeq}`, events } satisfies PersistenceRequest);
    enqueue.assign({ pendingWrites: context.pendingWrites + 1, batchSeq: context.batchSeq + 1 });
  });

const markFailed = S.assign({
  error: ({ event }) => {
    if (event.type === 'persist.failed') return event.error;
    const e = event as unknown as { error?: unknown };
    return { code: 'SESSION_FAILED', message: e.error instanceof Error ? e.error.message : String(e.error ?? 'unknown error') };
  },
});

/** A mid-scene checkpoint: the scene's entry state + the truth set (replay resumes after it). */
const midSceneCheckpoint = (type: 'manual_save' | 'autosave') =>
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

// ---------------------------------------------------------------- scene entry

function entryStep(step: SceneEntryStep, next: string) {
  return sessionSetup.createStateConfig({
    invoke: {
      src: 'sceneStep',
      input: ({ context }) => ({ step, request: entryRequest(context) }),
      onDone: [
        {
          // Without a scene definition there is no scene: the session fails (and is recovered by a later open).
          guard: ({ event }) => !event.output.ok && step === 'loadSceneDefinition',
          target: '#session.lifecycle.failed',
          actions: assign({ error: ({ event }) => ({ code: 'SCENE_NOT_FOUND', message: event.output.ok ? '' : event.output.message }) }),
        },
        {
          target: next,
          actions: [
            assign(({ context, event }) => ({
              warm: { ...context.warm, [WARM_FIELD[step]]: event.output.ok ? event.output.value : null },
              entryTimings: { ...context.entryTimings, [step]: event.output.ms },
              entryDegraded: event.output.ok ? context.entryDegraded : [...context.entryDegraded, step],
            })),
            { type: 'fault', params: { point: 'entry.duringEntry' } },
          ],
        },
      ],
      onError: { target: '#session.lifecycle.failed', actions: markFailed },
    },
  });
}

// ---------------------------------------------------------------- the machine

/**
 * The session machine. Provide its I/O with `.provide()` (the engine does).
 *
 * @example
 * const actor = createActor(sessionMachine.provide(engineImplementations), { input: { sessionId, epoch, gracePeriodMs }, clock });
 * actor.on('answer', (a) => send(a.text));
 * actor.start();
 * actor.send({ type: 'input', clientInputId: 'c1', text: 'look around' });
 */
export const sessionMachine = sessionSetup.createMachine({
  id: 'session',
  type: 'parallel',
  context: ({ input }) => ({
    sessionId: input.sessionId,
    epoch: input.epoch,
    storyId: null,
    gracePeriodMs: input.gracePeriodMs,
    graceDeadline: null,
    disconnectedAt: null,
    truthSet: null,
    turn: 0,
    sceneIndex: 0,
    sceneKey: null,
    entityState: null,
    worldState: null,
    deferredResults: [],
    warm: {},
    entryTimings: {},
    entryDegraded: [],
    children: [],
    queue: [],
    current: null,
    pendingWrites: 0,
    exitRequest: null,
    exitPlan: null,
    suspendReason: null,
    batchSeq: 0,
    lastCheckpointId: null,
    error: null,
    inbox: [],
    heldEvents: [],
    autosaveEveryTurns: input.autosaveEveryTurns ?? 0,
    lastSavedTurn: 0,
    deferredAtEntry: 0,
  }),
  invoke: {
    src: 'persistence',
    id: 'persistence',
    systemId: 'persistence',
    input: ({ context }) => ({ sessionId: context.sessionId }),
  },
  on: {
    // Every input is appended at once (durable before its ack), then queued in order.
    input: {
      actions: sendTo('persistence', ({ context, event }): PersistenceRequest => ({
        type: 'persist.input',
        clientInputId: event.clientInputId,
        text: event.text,
        epoch: context.epoch,
        sceneId: sceneIdOf(context),
        turn: context.turn + context.queue.length + (context.current ? 2 : 1),
      })),
    },
    'persist.inputDurable': {
      actions: [
        emit(({ event }) => ({ type: 'ack', clientInputId: event.clientInputId, inputId: event.input.id, duplicate: event.input.duplicate })),
        assign(({ context, event }) => {
          const known = event.input.duplicate || context.queue.some((q) => q.inputId === event.input.id) || context.current?.input.inputId === event.input.id;
          return {
            truthSet: fold(context.truthSet, [event.input.record]),
            queue: known
              ? context.queue
              : [...context.queue, { inputId: event.input.id, clientInputId: event.clientInputId, text: event.text, narrativeTs: event.input.narrativeTs }],
          };
        }),
      ],
    },
    'persist.inputFailed': {
      actions: emit(({ event }) => ({ type: 'inputRejected', clientInputId: event.clientInputId, error: event.error })),
    },
    'persist.eventsDurable': {
      actions: [
        assign(({ context, event }) => ({ truthSet: fold(context.truthSet, event.records), pendingWrites: Math.max(0, context.pendingWrites - 1) })),
        enqueueActions(({ event, enqueue }) => {
          const match = /^turn:(\d+):/.exec(event.batchId);
          if (match) enqueue.emit({ type: 'turnRecorded', inputId: Number(match[1]) });
        }),
      ],
    },
    'persist.failed': { target: '.lifecycle.failed', actions: markFailed },
    // Stage 4 never blocks a turn: whenever it answers, its judgments are written and apply from the next turn.
    'agent.done': {
      guard: 'isStage4Reply',
      actions: enqueueActions(({ context, event, enqueue }) => {
        if (event.type !== 'agent.done' || event.result.events.length === 0) return;
        // requestId = <inputId>:stage4:<turn>
        const [inputId, , turn] = event.requestId.split(':').map(Number) as [number, number, number];
        const events = stamp(event.result.events, { sceneId: sceneIdOf(context), turn, inputId, member: 'stage4' });
        enqueue.sendTo('persistence', { type: 'persist.events', batchId: `stage4:${inputId}:${context.batchSeq}`, events } satisfies PersistenceRequest);
        enqueue.assign({ pendingWrites: context.pendingWrites + 1, batchSeq: context.batchSeq + 1 });
      }),
    },
    'grace.expired': { actions: assign({ suspendReason: ({ context }) => context.suspendReason ?? 'grace_expired' }) },
    shutdown: { actions: assign({ suspendReason: ({ context }) => context.suspendReason ?? 'shutdown' }) },
    save: { actions: midSceneCheckpoint('manual_save') },
    'deferred.completed': { actions: assign({ deferredResults: ({ context, event }) => [...context.deferredResults, event.result] }) },
    'persist.checkpointDone': {
      actions: [
        assign({ lastCheckpointId: ({ event }) => event.checkpointId }),
        emit(({ event }) => ({ type: 'checkpointed', checkpointType: event.checkpointType, checkpointId: event.checkpointId })),
      ],
    },
  },
  states: {
    lifecycle: {
      initial: 'loading',
      states: {
        loading: {
          // Inputs wait until the truth set is loaded (their durable rows must fold after it).
          on: { input: { actions: assign({ inbox: ({ context, event }) => [...context.inbox, { clientInputId: event.clientInputId, text: event.text }] }) } },
          invoke: {
            src: 'loadSession',
            input: ({ context }) => ({ sessionId: context.sessionId }),
            onDone: {
              target: 'entering',
              actions: [
              assign(({ event }) => ({
                storyId: event.output.storyId,
                truthSet: event.output.truthSet,
                turn: event.output.turn,
                sceneIndex: event.output.sceneIndex,
                sceneKey: event.output.sceneKey,
                entityState: event.output.entityState,
                worldState: event.output.worldState,
                deferredResults: event.output.deferredResults,
                queue: event.output.pendingInputs.map(({ turn: _turn, ...rest }) => rest),
                lastCheckpointId: event.output.checkpointId,
              })),
              enqueueActions(({ context, enqueue }) => {
                for (const early of context.inbox) enqueue.raise({ type: 'input', clientInputId: early.clientInputId, text: early.text });
                enqueue.assign({ inbox: [] });
              }),
            ],
            },
            onError: { target: 'failed', actions: markFailed },
          },
        },

        entering: {
          initial: 'loadSceneDefinition',
          entry: assign({ warm: {}, entryTimings: {}, entryDegraded: [], deferredAtEntry: ({ context }) => context.deferredResults.length }),
          states: {
            loadSceneDefinition: entryStep('loadSceneDefinition', 'loadEntityState'),
            loadEntityState: entryStep('loadEntityState', 'loadGraphContext'),
            loadGraphContext: entryStep('loadGraphContext', 'computeFrames'),
            computeFrames: entryStep('computeFrames', 'buildSensitivityMap'),
            buildSensitivityMap: entryStep('buildSensitivityMap', 'warmNarratorContext'),
            warmNarratorContext: entryStep('warmNarratorContext', 'ready'),
            ready: {
              entry: [
                enqueueActions(({ context, enqueue }) => {
                  const definition = context.warm.definition as SceneDefinition;
                  const specs = sceneChildSpecs(definition.cast);
                  for (const spec of specs) enqueue.spawnChild('agent', { id: spec.id, systemId: spec.id, input: spec.input });
                  // Results that arrived during this entry wait for the next one.
                  enqueue.assign({ children: sceneChildIds(definition.cast), deferredResults: context.deferredResults.slice(context.deferredAtEntry) });
                }),
                appendEvents('scene', (context) => {
                  const definition = context.warm.definition as SceneDefinition;
                  return [
                    ledgerEvent(
                      'SceneEntered',
                      { sceneId: definition.sceneId, sceneKey: definition.sceneKey, characters: definition.cast },
                      { source: 'session', sceneId: definition.sceneId, turn: null, idempotencyKey: `scene:${context.sceneIndex}:entered` },
                    ),
                  ];
                }),
                emit(({ context }) => ({
                  type: 'sceneEntered',
                  sceneIndex: context.sceneIndex,
                  sceneKey: context.sceneKey ?? '',
                  sceneId: sceneIdOf(context) ?? '',
                  timings: context.entryTimings,
                  degraded: context.entryDegraded,
                })),
              ],
              always: '#session.lifecycle.playing',
            },
          },
        },

        playing: {
          initial: 'idle',
          states: {
            idle: {
              always: [
                // Targetless: writes the checkpoint, then the other candidates are evaluated again.
                { guard: 'autosaveDue', actions: midSceneCheckpoint('autosave') },
                { guard: 'mustExitScene', target: '#session.lifecycle.exiting' },
                { guard: 'mustSuspendMidScene', target: '#session.lifecycle.suspending' },
                { guard: 'canStartTurn', target: 'turn' },
              ],
            },
            turn: {
              initial: 'stage1',
              entry: [
                assign(({ context }) => {
                  const [next, ...rest] = context.queue;
                  const input = { ...(next as NonNullable<typeof next>), turn: context.turn + 1 };
                  return {
                    queue: rest,
                    turn: input.turn,
                    current: { input, results: {}, degraded: [], pendingAgents: [], behaviourMs: 0, chunks: 0 },
                  };
                }),
                emit(({ context }) => ({ type: 'turnStarted', inputId: context.current?.input.inputId ?? 0, turn: context.turn })),
              ],
              states: {
                stage1: {
                  entry: askMember('stage1'),
                  on: { 'agent.done': { guard: { type: 'isReplyFrom', params: { member: 'stage1' } }, target: 'stage2', actions: [recordReply, { type: 'fault', params: { point: 'turn.afterStage1' } }] } },
                },
                stage2: {
                  entry: askMember('stage2'),
                  on: { 'agent.done': { guard: { type: 'isReplyFrom', params: { member: 'stage2' } }, target: 'stage3', actions: [recordReply, { type: 'fault', params: { point: 'turn.afterStage2' } }] } },
                },
                stage3: {
                  entry: askMember('stage3'),
                  on: { 'agent.done': { guard: { type: 'isReplyFrom', params: { member: 'stage3' } }, target: 'agents', actions: [recordReply, { type: 'fault', params: { point: 'turn.afterStage3' } }] } },
                },
                // Characters in parallel with storykeeper and world; stage 4 starts beside them and is not awaited.
                agents: {
                  entry: [
                    enqueueActions(({ context, enqueue }) => {
                      const request = turnRequest(context);
                      const cast = (context.warm.definition as SceneDefinition).cast;
                      const pending: string[] = [];
                      for (const id of cast) {
                        const rid = requestId(context, `character:${id}`);
                        pending.push(rid);
                        enqueue.sendTo(`character:${id}`, { type: 'agent.run', requestId: rid, request } satisfies AgentRequestEvent);
                      }
                      for (const member of ['storykeeper', 'world'] as const) {
                        const rid = requestId(context, member);
                        pending.push(rid);
                        enqueue.sendTo(member, { type: 'agent.run', requestId: rid, request } satisfies AgentRequestEvent);
                      }
                      enqueue.sendTo('stage4', { type: 'agent.run', requestId: `${requestId(context, 'stage4')}:${context.turn}`, request } satisfies AgentRequestEvent);
                      enqueue.assign({ current: { ...(context.current as CurrentTurn), pendingAgents: pending } });
                    }),
                    { type: 'fault', params: { point: 'turn.duringAgents' } },
                  ],
                  on: { 'agent.done': { guard: 'isPendingAgentReply', actions: recordReply } },
                  always: { guard: 'allAgentsAnswered', target: 'reconciler' },
                },
                reconciler: {
                  entry: askMember('reconciler'),
                  on: { 'agent.done': { guard: { type: 'isReplyFrom', params: { member: 'reconciler' } }, target: 'narrator', actions: recordReply } },
                },
                narrator: {
                  entry: askMember('narrator'),
                  on: {
                    'agent.chunk': {
                      guard: 'isNarratorChunk',
                      actions: [
                        emit(({ context, event }) => ({ type: 'chunk', inputId: context.current?.input.inputId ?? 0, text: event.type === 'agent.chunk' ? event.text : '' })),
                        assign({ current: ({ context }) => (context.current ? { ...context.current, chunks: context.current.chunks + 1 } : null) }),
                        { type: 'fault', params: { point: 'turn.duringNarrator' } },
                      ],
                    },
                    'agent.done': {
                      guard: { type: 'isReplyFrom', params: { member: 'narrator' } },
                      target: '#session.lifecycle.playing.idle',
                      actions: [
                        recordReply,
                        enqueueActions(({ context, event, enqueue }) => {
                          const current = context.current as CurrentTurn;
                          const narration = (event as AgentDone).result as NarratorResult;
                          enqueue.emit({
                            type: 'answer',
                            inputId: current.input.inputId,
                            clientInputId: current.input.clientInputId,
                            turn: current.input.turn,
                            text: narration.text,
                            degraded: current.degraded.map((d) => d.member),
                            behaviourMs: current.behaviourMs,
                          });
                          const events = turnEvents(current, sceneIdOf(context), narration.events);
                          // The turn that ends the scene keeps its TurnCompleted for the scene-exit transaction:
                          // a crash before that transaction leaves the input unanswered, so recovery re-runs the
                          // turn (its effects dedupe) and the exit is decided again — never lost.
                          const ending = context.exitRequest !== null;
                          const held = ending ? events.splice(events.length - 1, 1) : [];
                          if (events.length > 0) {
                            const batchId = `${ending ? 'effects' : 'turn'}:${current.input.inputId}:${context.batchSeq}`;
                            enqueue.sendTo('persistence', { type: 'persist.events', batchId, events } satisfies PersistenceRequest);
                          }
                          enqueue.assign({
                            pendingWrites: context.pendingWrites + (events.length > 0 ? 1 : 0),
                            batchSeq: context.batchSeq + 1,
                            current: null,
                            heldEvents: [...context.heldEvents, ...held],
                          });
                        }),
                        { type: 'fault', params: { point: 'turn.afterAnswer' } },
                      ],
                    },
                  },
                },
              },
            },
          },
        },

        exiting: {
          entry: stopSceneChildren,
          initial: 'draining',
          states: {
            draining: { always: { guard: 'noPendingWrites', target: 'planning' } },
            planning: {
              invoke: {
                src: 'planSceneExit',
                input: ({ context }) => {
                  const reason = context.exitRequest?.reason ?? context.suspendReason ?? 'scene_exit';
                  const requested = context.exitRequest?.nextSceneKey ?? null;
                  return {
                    request: {
                      session: { sessionId: context.sessionId, storyId: context.storyId },
                      scene: context.warm as WarmScene,
                      truthSet: context.truthSet,
                      turn: context.turn,
                      reason,
                      requestedNextSceneKey: requested,
                    },
                    fallback: fallbackExitPlan(context, requested),
                  };
                },
                onDone: {
                  target: 'flushing',
                  actions: assign({
                    exitPlan: ({ context, event }) => (event.output.ok ? event.output.value : fallbackExitPlan(context, context.exitRequest?.nextSceneKey ?? null)),
                  }),
                },
                onError: { target: 'flushing', actions: assign({ exitPlan: ({ context }) => fallbackExitPlan(context, context.exitRequest?.nextSceneKey ?? null) }) },
              },
            },
            flushing: {
              entry: sendTo('persistence', ({ context }): PersistenceRequest => {
                const plan = context.exitPlan as SceneExitPlan;
                const definition = context.warm.definition as SceneDefinition;
                const suspend = context.suspendReason !== null;
                return {
                  type: 'persist.sceneExit',
                  write: {
                    sessionId: context.sessionId,
                    epoch: context.epoch,
                    sceneId: definition.sceneId,
                    sceneKey: definition.sceneKey,
                    turn: context.turn,
                    reason: context.exitRequest?.reason ?? context.suspendReason ?? 'scene_exit',
                    plan,
                    truthSet: context.truthSet as TruthSet,
                    suspend,
                    sessionState: { sceneIndex: context.sceneIndex + 1, sceneKey: plan.nextSceneKey, reason: context.exitRequest?.reason ?? context.suspendReason ?? 'scene_exit', ended: plan.nextSceneKey === null },
                    idempotencyKey: `session:${context.sessionId}:scene-exit:${context.sceneIndex}`,
                    leadingEvents: context.heldEvents,
                  },
                };
              }),
              on: {
                'persist.sceneExitDone': {
                  target: 'done',
                  actions: [
                    emit(({ context, event }) => ({
                      type: 'sceneExited',
                      sceneIndex: context.sceneIndex,
                      sceneKey: context.sceneKey ?? '',
                      nextSceneKey: context.exitPlan?.nextSceneKey ?? null,
                      checkpointId: event.written.checkpointId,
                      reason: context.exitRequest?.reason ?? context.suspendReason ?? 'scene_exit',
                    })),
                    enqueueActions(({ context, enqueue }) => {
                      for (const held of context.heldEvents) if (held.type === 'TurnCompleted') enqueue.emit({ type: 'turnRecorded', inputId: held.data.inputId });
                    }),
                    assign(({ context, event }) => ({
                      heldEvents: [],
                      truthSet: event.written.truthSet,
                      lastCheckpointId: event.written.checkpointId,
                      sceneIndex: context.sceneIndex + 1,
                      sceneKey: context.exitPlan?.nextSceneKey ?? null,
                      entityState: context.exitPlan?.entityState ?? null,
                      worldState: context.exitPlan?.worldState ?? null,
                      warm: {},
                      exitRequest: null,
                      exitPlan: null,
                    })),
                  ],
                },
              },
            },
            done: {
              always: [
                { guard: 'suspendRequested', target: '#session.lifecycle.suspended' },
                { guard: 'storyEnded', target: '#session.lifecycle.ended' },
                { target: '#session.lifecycle.entering' },
              ],
            },
          },
        },

        // Graceful shutdown inside a scene: no SceneExited (the player did not leave); a
        // 'suspend' checkpoint positioned to re-enter this scene, replaying its turns.
        suspending: {
          entry: stopSceneChildren,
          initial: 'draining',
          on: { input: { actions: emit(({ event }) => ({ type: 'inputRejected', clientInputId: event.clientInputId, error: { code: 'ENGINE_SHUTTING_DOWN', message: 'the engine is shutting down' } })) } },
          states: {
            draining: { always: { guard: 'noPendingWrites', target: 'writing' } },
            writing: {
              entry: sendTo('persistence', ({ context }): PersistenceRequest => ({
                type: 'persist.checkpoint',
                write: {
                  type: 'suspend',
                  sessionId: context.sessionId,
                  epoch: context.epoch,
                  sceneId: sceneIdOf(context) ?? '00000000-0000-0000-0000-000000000000',
                  turn: context.turn,
                  truthSet: context.truthSet as TruthSet,
                  entityState: context.entityState,
                  worldState: context.worldState,
                  sessionState: { sceneIndex: context.sceneIndex, sceneKey: context.sceneKey, reason: context.suspendReason ?? 'shutdown', ended: false },
                },
              })),
              on: { 'persist.checkpointDone': { target: '#session.lifecycle.suspended', actions: assign({ lastCheckpointId: ({ event }) => event.checkpointId }) } },
            },
          },
        },

        suspended: {
          entry: [stopSceneChildren, emit(({ context }) => ({ type: 'suspended', reason: context.suspendReason ?? 'suspended' }))],
          on: { input: { actions: emit(({ event }) => ({ type: 'inputRejected', clientInputId: event.clientInputId, error: { code: 'SESSION_NOT_PLAYING', message: 'the session is suspended' } })) } },
        },
        ended: {
          entry: [stopSceneChildren, emit({ type: 'ended' })],
          on: { input: { actions: emit(({ event }) => ({ type: 'inputRejected', clientInputId: event.clientInputId, error: { code: 'SESSION_NOT_PLAYING', message: 'the story has ended' } })) } },
        },
        failed: {
          entry: [stopSceneChildren, emit(({ context }) => ({ type: 'failed', error: context.error ?? { code: 'SESSION_FAILED', message: 'unknown' } }))],
          on: { input: { actions: emit(({ event }) => ({ type: 'inputRejected', clientInputId: event.clientInputId, error: { code: 'SESSION_NOT_PLAYING', message: 'the session failed; reopen it' } })) } },
        },
      },
    },

    connection: {
      initial: 'connected',
      states: {
        connected: {
          on: {
            disconnect: {
              target: 'disconnected',
              actions: [
                assign(({ context, event }) => ({ disconnectedAt: event.at, graceDeadline: event.at + context.gracePeriodMs })),
                sendTo('persistence', ({ context }): PersistenceRequest => ({
                  type: 'persist.status',
                  status: { status: 'disconnected', disconnectedAt: context.disconnectedAt, graceDeadline: context.graceDeadline },
                })),
              ],
            },
          },
        },
        disconnected: {
          after: { graceRemaining: { target: 'expired' } },
          on: {
            reconnect: {
              target: 'connected',
              actions: [
                assign({ disconnectedAt: null, graceDeadline: null }),
                sendTo('persistence', { type: 'persist.status', status: { status: 'active', disconnectedAt: null, graceDeadline: null } } satisfies PersistenceRequest),
              ],
            },
            // After a restore: xstate does not persist `after` timers, so re-enter to arm it from the deadline.
            'connection.rearm': { target: 'disconnected', reenter: true },
          },
        },
        expired: {
          entry: raise({ type: 'grace.expired' }),
          on: { reconnect: { target: 'connected', actions: assign({ disconnectedAt: null, graceDeadline: null }) } },
        },
      },
    },
  },
});

export type SessionMachine = typeof sessionMachine;
export type SessionActor = ActorRefFrom<SessionMachine>;
export type SessionSnapshot = SnapshotFrom<SessionMachine>;
