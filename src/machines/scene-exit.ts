import { assign, emit, enqueueActions, sendTo } from 'xstate';
import type { SceneDefinition, SceneExitPlan, WarmScene } from '../actors/behaviour.ts';
import type { PersistenceRequest } from '../actors/persistence.ts';
import type { TruthSet } from '../domain/truth-set.ts';
import { sessionSetup, stopSceneChildren, sceneIdOf, fallbackExitPlan } from './session-setup.ts';

/** What a player reads for an input the story ended before (its TurnCompleted says `story_ended`). */
export const STORY_ENDED_TEXT = 'The story has ended.';

/**
 * Scene exit (seed: "Scene Exit: Hot Cache → Cold Store") and graceful suspension: the
 * `exiting` and `suspending` states of the session statechart.
 */
/** Scene exit: drain the writes, plan, ONE transaction, then the next scene / suspended / ended. */
export const exitingState = sessionSetup.createStateConfig({
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
            // The story ended with inputs still queued: each got its durable answer in the transaction.
            enqueueActions(({ context, event, enqueue }) => {
              for (const r of event.written.records) {
                if (r.type !== 'TurnCompleted' || r.data.outcome !== 'story_ended') continue;
                const queued = context.queue.find((q) => q.inputId === r.data.inputId);
                if (queued) {
                  enqueue.emit({ type: 'answer', inputId: queued.inputId, clientInputId: queued.clientInputId, turn: r.data.turn, text: STORY_ENDED_TEXT, degraded: [], behaviourMs: 0, endsScene: false });
                }
                enqueue.emit({ type: 'turnRecorded', inputId: r.data.inputId });
              }
            }),
            assign(({ context, event }) => ({
              queue: context.queue.filter((q) => !event.written.records.some((r) => r.type === 'TurnCompleted' && r.data.inputId === q.inputId)),
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
});

/**
 * Graceful shutdown inside a scene: no SceneExited (the player did not leave); a
 * 'suspend' checkpoint positioned to re-enter this scene, replaying its turns.
 */
export const suspendingState = sessionSetup.createStateConfig({
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
});
