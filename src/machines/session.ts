import { assign, emit, enqueueActions, raise, sendTo, type ActorRefFrom, type SnapshotFrom } from 'xstate';
import type { PersistenceRequest } from '../actors/persistence.ts';
import { connectionRegion } from './connection.ts';
import { exitingState, suspendingState } from './scene-exit.ts';
import { enteringState } from './scene-entry.ts';
import { fold, markFailed, midSceneCheckpoint, sceneIdOf, sessionSetup, stopSceneChildren } from './session-setup.ts';
import { stamp } from './turn-events.ts';
import { playingState } from './turn.ts';

export type { PlanSceneExitInput, SceneStepInput } from './session-setup.ts';

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
 * `graceRemaining`, and the `fault` action — all given by the engine through `.provide()`
 * (see session-setup.ts). The states live beside this file: scene-entry.ts, turn.ts,
 * scene-exit.ts, connection.ts.
 */

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
    autosaveEveryTurns: input.autosaveEveryTurns ?? 0,
    lastSavedTurn: 0,
    deferredAtEntry: 0,
    recentlyPlayed: [],
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
        // context.turn already counts the turn in progress (it is incremented when a turn starts).
        turn: context.turn + context.queue.length + 1,
      })),
    },
    'persist.inputDurable': {
      actions: [
        emit(({ event }) => ({ type: 'ack', clientInputId: event.clientInputId, inputId: event.input.id, turn: event.input.record.turn ?? null, duplicate: event.input.duplicate })),
        // An input never folded before whose row precedes what the truth set covers (its first
        // append's outcome was unknown): the fold cannot place it, so the truth set is rebuilt.
        enqueueActions(({ context, event, enqueue }) => {
          const ts = context.truthSet;
          const fresh = !context.recentlyPlayed.includes(event.input.id) && !context.queue.some((q) => q.inputId === event.input.id) && context.current?.input.inputId !== event.input.id;
          if (ts && fresh && event.input.duplicate && event.input.answered === false && event.input.narrativeTs <= ts.lastNarrativeTs) {
            enqueue.sendTo('persistence', { type: 'persist.reloadTruthSet' } satisfies PersistenceRequest);
            enqueue.assign({ pendingWrites: context.pendingWrites + 1 });
          }
        }),
        assign(({ context, event }) => {
          // A retransmission is played unless it is already queued, running or answered (an input
          // whose first append had an unknown outcome was never queued: its retransmission is).
          // An input whose turn this actor started was played here (its TurnCompleted may not have
          // been durable yet when the retransmission's append checked).
          const known =
            (event.input.duplicate && event.input.answered !== false) ||
            context.recentlyPlayed.includes(event.input.id) ||
            context.queue.some((q) => q.inputId === event.input.id) ||
            context.current?.input.inputId === event.input.id;
          return {
            truthSet: fold(context.truthSet, [event.input.record]),
            queue: known
              ? context.queue
              : [...context.queue, { inputId: event.input.id, clientInputId: event.clientInputId, text: event.text, narrativeTs: event.input.narrativeTs, ...(event.input.duplicate ? { replay: true as const } : {}) }],
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
    'persist.truthSetReloaded': { actions: assign(({ context, event }) => ({ truthSet: event.truthSet, pendingWrites: Math.max(0, context.pendingWrites - 1) })) },
    // The persistence actor saw an input and an event batch come back out of commit order: the ledger's replay.
    'persist.truthSetRebuilt': { actions: assign({ truthSet: ({ event }) => event.truthSet }) },
    'persist.failed': { target: '.lifecycle.failed', actions: markFailed },
    // Stage 4 never blocks a turn: whenever it answers, its judgments are written and apply from the next turn.
    'agent.done': {
      guard: 'isStage4Reply',
      actions: enqueueActions(({ context, event, enqueue }) => {
        if (event.type !== 'agent.done' || event.result.events.length === 0) return;
        // requestId = <inputId>:stage4:<turn>[:replay]
        const [inputId, , turn] = event.requestId.split(':').map(Number) as [number, number, number];
        const events = stamp(event.result.events, { sceneId: sceneIdOf(context), turn, inputId, member: 'stage4' });
        // A unit: a re-run of the turn after a crash never mixes its stage-4 events with the first
        // run's. Only a replayed input can have had a first run (the check costs a query).
        const replay = event.requestId.endsWith(':replay');
        enqueue.sendTo('persistence', {
          type: 'persist.events', batchId: `stage4:${inputId}:${context.batchSeq}`, events, epoch: context.epoch, ...(replay ? { unit: `input:${inputId}:stage4` } : {}),
        } satisfies PersistenceRequest);
        enqueue.assign({ pendingWrites: context.pendingWrites + 1, batchSeq: context.batchSeq + 1 });
      }),
    },
    'grace.expired': { actions: assign({ suspendReason: ({ context }) => context.suspendReason ?? 'grace_expired' }) },
    shutdown: { actions: assign({ suspendReason: ({ context }) => context.suspendReason ?? 'shutdown' }) },
    // While a scene exit is pending its own checkpoint is next; a manual save then would hide
    // the exit decision from a recovery (it resumes from the newest checkpoint's delta).
    save: { guard: ({ context }) => context.exitRequest === null, actions: midSceneCheckpoint('manual_save') },
    'deferred.completed': {
      actions: [
        assign({ deferredResults: ({ context, event }) => [...context.deferredResults, event.result] }),
        // The player sees it now; its effects apply at the next scene entry.
        emit(({ event }) => ({ type: 'deferred.applied', result: event.result })),
      ],
    },
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
                queue: event.output.pendingInputs.map(({ turn: _turn, ...rest }) => ({ ...rest, replay: true as const })),
                lastCheckpointId: event.output.checkpointId,
                exitRequest: event.output.exitRequest,
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

        entering: enteringState,

        playing: playingState,

        exiting: exitingState,

        suspending: suspendingState,

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

    connection: connectionRegion,
  },
});

export type SessionMachine = typeof sessionMachine;
export type SessionActor = ActorRefFrom<SessionMachine>;
export type SessionSnapshot = SnapshotFrom<SessionMachine>;
