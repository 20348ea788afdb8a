import { z } from 'zod';
import type { NewEvent } from '../../domain/events.ts';
import { applyEvents, emptyTruthSet, truthSetSchema, type TruthSet } from '../../domain/truth-set.ts';
import type { CharacterPrediction } from '../../inference/frame/character-schema.ts';
import type { TurnRequest, WarmScene } from '../behaviour.ts';
import { worldConsequences } from '../agents/world.ts';
import type { SensitivityMap } from '../classifiers/sensitivity-map.ts';
import type { SceneEntities, SceneGraph } from '../scene-model.ts';
import { sceneHistoryNeeds, type SceneHistoryNeeds } from '../scene-history.ts';
import type { NarratorWarm, StorykeeperOutput, StorySceneData } from './types.ts';

/**
 * Reading the seam back: the truth set and warm scene arrive as plain JSON (possibly restored
 * from a snapshot), are checked once per object, and typed here; and the small views of a
 * turn request every member shares (stage 2's facts, the storykeeper's output, the input).
 */
export interface Warm {
  data: StorySceneData;
  entities: SceneEntities;
  graph: SceneGraph;
  frames: Record<string, { text: string; prediction?: CharacterPrediction }>;
  sensitivity: SensitivityMap;
  narrator: NarratorWarm;
}


// The same truth-set and warm-scene objects reach every member of a turn: validate each once.
const checkedTruth = new WeakMap<object, TruthSet>();
const checkedWarm = new WeakSet<object>();

export function truthOf(value: unknown): TruthSet {
  if (value === null || typeof value !== 'object') return emptyTruthSet();
  const cached = checkedTruth.get(value);
  if (cached) return cached;
  const parsed = truthSetSchema.safeParse(value);
  const ts = parsed.success ? parsed.data : emptyTruthSet();
  checkedTruth.set(value, ts);
  return ts;
}

const warmShape = z.object({ definition: z.object({ data: z.object({ sceneKey: z.string(), cast: z.array(z.string()) }).passthrough() }).passthrough() }).passthrough();

export function warmOf(scene: WarmScene): Warm {
  // Shape check at the seam (once per warm-scene object): our own JSON, possibly restored from a snapshot.
  if (!checkedWarm.has(scene)) {
    warmShape.parse(scene);
    checkedWarm.add(scene);
  }
  return {
    data: scene.definition.data as StorySceneData,
    entities: scene.entities as SceneEntities,
    graph: scene.graph as SceneGraph,
    frames: (scene.frames ?? {}) as Record<string, { text: string }>,
    sensitivity: (scene.sensitivity ?? { sceneKey: '', entries: [] }) as SensitivityMap,
    narrator: scene.narrator as NarratorWarm,
  };
}

/** Each cast member's topological role (the target role of edges pointing at it). */
export function rolesOf(entities: SceneEntities): Record<string, NonNullable<SceneEntities['characters'][number]['role']>> {
  return Object.fromEntries(entities.characters.map((c) => [c.id, c.role ?? 'periphery']));
}

export function historyNeedsOf(data: StorySceneData): SceneHistoryNeeds {
  return data.historyNeeds ?? sceneHistoryNeeds(data.scene);
}

export function factEventsOf(req: TurnRequest): NewEvent[] {
  return req.results.stage2?.events ?? [];
}

export function storykeeperOutputOf(req: TurnRequest): StorykeeperOutput | null {
  const out = req.results.storykeeper?.output as StorykeeperOutput | null | undefined;
  return out && Array.isArray(out.released) ? out : null;
}

export function stampAll(ts: TruthSet, events: readonly NewEvent[]): Array<NewEvent & { narrativeTs: number }> {
  let next = ts.lastNarrativeTs;
  return events.map((e) => ({ ...e, narrativeTs: ++next }) as NewEvent & { narrativeTs: number });
}

/** The truth set before the turn, and the PlayerInput event if the runtime has not applied it yet (momentary scope, topics). */
export function withInput(req: TurnRequest): { ts: TruthSet; inputEvents: NewEvent[] } {
  const ts = truthOf(req.truthSet);
  if (ts.momentary.turn === req.input.turn) return { ts, inputEvents: [] };
  return {
    ts,
    inputEvents: [{ type: 'PlayerInput', data: { clientInputId: req.input.clientInputId, text: req.input.text }, source: 'player', turn: req.input.turn }],
  };
}

/** World consequences of the accepted facts, from the truth set with the input (and the baseline, on the first turn) applied. */
export function worldTurnOf(w: Warm, ts: TruthSet, inputEvents: readonly NewEvent[], facts: readonly NewEvent[]) {
  const before = applyEvents(ts, stampAll(ts, [...inputEvents, ...facts.filter((e) => e.type === 'DeferredResultApplied')]));
  return worldConsequences(w.data, w.entities.objects, before, facts.filter((e) => e.type !== 'DeferredResultApplied'));
}
