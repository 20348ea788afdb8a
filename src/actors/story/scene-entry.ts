import type { LedgerRecordLike } from '../../domain/temporal.ts';
import { PLAYER_ID } from '../../domain/story/schema.ts';
import { holds, type TruthSet } from '../../domain/truth-set.ts';
import type { FrameComputer } from '../../inference/frame/features.ts';
import type { Json, SceneDefinition, SceneEntryRequest, SessionInfo } from '../behaviour.ts';
import { emotionsNow } from '../agents/emotions.ts';
import { frameHistoryOf, frameInputFor } from '../agents/frame-input.ts';
import { progressiveHint } from '../agents/hints.ts';
import { buildSensitivityMap as sensitivityMapOf } from '../classifiers/sensitivity-map.ts';
import { assembleCast, buildSceneData, buildSceneEntities, buildSceneGraph, type SceneEntities, type SceneGraph } from '../scene-model.ts';
import { sceneHistoryNeeds } from '../scene-history.ts';
import type { NarratorWarm, StoryBehaviourServices, StorySceneData } from './types.ts';
import { rolesOf, truthOf } from './warm.ts';

/**
 * Scene entry in the seed's six steps, each a function of the request and what the steps
 * before it warmed (`req.warm`): the scene definition (cast assembled, first meetings,
 * which conditions read the history), entity state, the relational graph (the session's
 * own, forked from the story), the cast's frames, the sensitivity map, the narrator context.
 */
export interface SceneEntryDeps {
  services: StoryBehaviourServices;
  frames: FrameComputer;
  /** The session's rows up to the truth set when `needed` (temporal conditions), else none. */
  earlier(session: SessionInfo, ts: TruthSet, needed: boolean): Promise<LedgerRecordLike[]>;
}

export async function loadSceneDefinition(deps: SceneEntryDeps, req: SceneEntryRequest): Promise<SceneDefinition> {
  const story = await deps.services.stories(req.session.storyId);
  const data = buildSceneData(story, req.sceneKey);
  const ts = truthOf(req.truthSet);
  const historyNeeds = sceneHistoryNeeds(data.scene);
  const cast = assembleCast(data.scene, ts, data.setting.features, await deps.earlier(req.session, ts, historyNeeds.entry));
  const entryAccumulators = Object.fromEntries(Object.entries(ts.accumulators).filter(([k]) => k.startsWith('rel:')));
  const metBefore = new Set(
    story.scenes
      .filter((s) => s.id !== req.sceneKey && holds(ts, 'visited', s.id))
      .flatMap((s) => [...s.cast.required, ...s.cast.contingent.map((c) => c.character)]),
  );
  // Re-entering a scene (a resumed game) greets nobody again.
  const reentry = holds(ts, 'visited', req.sceneKey);
  const firstMeetings = reentry ? [] : cast.filter((id) => !metBefore.has(id));
  const full: StorySceneData = { ...data, cast, entryTurn: req.turn, entryAccumulators, firstMeetings, historyNeeds };
  return { sceneId: data.sceneId, sceneKey: data.sceneKey, cast, data: full };
}

export async function loadEntityState(deps: SceneEntryDeps, req: SceneEntryRequest): Promise<Json> {
  const story = await deps.services.stories(req.session.storyId);
  const data = req.warm.definition?.data as StorySceneData;
  const entities = buildSceneEntities(story, data, data.cast, truthOf(req.truthSet));
  if (!deps.services.snapshots) return entities;
  return { ...entities, snapshots: await deps.services.snapshots(req.session.sessionId, data.cast) } as unknown as Json;
}

export async function loadGraphContext(deps: SceneEntryDeps, req: SceneEntryRequest): Promise<Json> {
  const story = await deps.services.stories(req.session.storyId);
  const data = req.warm.definition?.data as StorySceneData;
  const authored = buildSceneGraph(story, data, data.cast);
  const graph = deps.services.graph;
  if (!graph) return authored;
  const sub = await graph.relationalSubgraph(req.session.sessionId, [PLAYER_ID, ...data.cast]);
  // A session without its own graph scope (not forked) keeps the authored web.
  if (sub.characters.length === 0) return authored;
  const edges = sub.edges
    .filter((e) => e.from !== e.to)
    .map((e) => {
      const a = authored.edges.find((r) => r.from === e.from && r.to === e.to);
      return {
        from: e.from,
        to: e.to,
        trust_reliability: e.trust_reliability,
        trust_competence: e.trust_competence,
        trust_benevolence: e.trust_benevolence,
        affection: e.affection,
        debt: e.debt,
        knows: a?.knows ?? [],
        believes: a?.believes ?? [],
        blindTo: a?.blindTo ?? [],
        substrate: a?.substrate ?? {},
      };
    });
  return { ...authored, edges } satisfies SceneGraph;
}

export async function computeFrames(deps: SceneEntryDeps, req: SceneEntryRequest): Promise<Json> {
  const data = req.warm.definition?.data as StorySceneData;
  const entities = req.warm.entities as SceneEntities;
  const graph = req.warm.graph as SceneGraph;
  const ts = truthOf(req.truthSet);
  const roles = rolesOf(entities);
  const inputs = entities.characters.map((c) => frameInputFor({ ...c, emotions: emotionsNow(c, ts) }, graph.edges, data.scene, { castSize: entities.characters.length, roles }, undefined, frameHistoryOf(ts, c.id)));
  const frames = await deps.frames.computeFrames(inputs);
  frames.forEach((f, i) =>
    deps.services.onFrame?.({ sessionId: req.session.sessionId, sceneKey: data.sceneKey, phase: 'scene_entry', turn: null, characterId: f.characterId, schema: f.schema, prediction: f.prediction, history: inputs[i]!.history, text: f.text, tokenCount: f.tokenCount }),
  );
  return Object.fromEntries(frames.map((f) => [f.characterId, { text: f.text, tokenCount: f.tokenCount, prediction: f.prediction }]));
}

export async function buildSensitivityMap(_deps: SceneEntryDeps, req: SceneEntryRequest): Promise<Json> {
  const data = req.warm.definition?.data as StorySceneData;
  return sensitivityMapOf(data.scene, (req.warm.entities as SceneEntities).characters);
}

export async function warmNarratorContext(_deps: SceneEntryDeps, req: SceneEntryRequest): Promise<Json> {
  const data = req.warm.definition?.data as StorySceneData;
  const entities = req.warm.entities as SceneEntities;
  const warm: NarratorWarm = {
    title: data.storyTitle,
    sceneName: data.scene.name,
    opening: data.scene.description,
    atmosphere: data.setting.atmosphere,
    cast: entities.characters.map((c) => ({ id: c.id, name: c.name, description: c.description })),
    hint: progressiveHint(data, entities.objects, truthOf(req.truthSet)),
  };
  return warm;
}

