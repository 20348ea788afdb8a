import { assign, emit, enqueueActions } from 'xstate';
import type { SceneDefinition, SceneEntryStep } from '../actors/behaviour.ts';
import { sceneChildIds, sceneChildSpecs } from '../actors/session-children.ts';
import { z } from 'zod';
import { event as ledgerEvent } from '../domain/events.ts';
import { sessionSetup, appendEvents, markFailed, sceneIdOf, entryRequest, WARM_FIELD } from './session-setup.ts';

/**
 * Scene entry (seed: "Scene Entry: Cold Store → Hot Cache"): six named steps, each an
 * invoked `sceneStep` (timed, with a timeout and a fallback), then the scene's children
 * are spawned and SceneEntered is written. Part of the session statechart (session.ts).
 */
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

/** Scene entry: the seed's six steps, each invoked and timed, then the scene's children. */
export const enteringState = sessionSetup.createStateConfig({
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
        // Deferred workflow results this entry consumes become ledger facts (their effects
        // fold into the truth set; replay sees them), before the consumed ones are dropped.
        appendEvents('deferred', (context) => deferredApplied(context.deferredResults.slice(0, context.deferredAtEntry), (context.warm.definition as SceneDefinition | undefined)?.sceneId ?? null)),
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
});

const deferredResultShape = z.object({ workflow_key: z.string().min(1).max(200), checkpoint_id: z.string().uuid(), effects: z.array(z.record(z.string(), z.unknown())).max(1_000) });

/** DeferredResultApplied events for results in the scene-boundary workflow's shape; idempotent per workflow. */
function deferredApplied(results: readonly unknown[], sceneId: string | null) {
  return results.flatMap((r) => {
    const parsed = deferredResultShape.safeParse(r);
    if (!parsed.success) return [];
    const { workflow_key: workflowKey, checkpoint_id: checkpointId, effects } = parsed.data;
    return [ledgerEvent('DeferredResultApplied', { workflowKey, checkpointId, effects }, { source: 'session', sceneId, turn: null, idempotencyKey: `${workflowKey}:applied` })];
  });
}
