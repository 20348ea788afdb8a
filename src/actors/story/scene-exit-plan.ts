import { holds } from '../../domain/truth-set.ts';
import type { SceneExitPlan, SceneExitPlanRequest } from '../behaviour.ts';
import { emotionsNow } from '../agents/emotions.ts';
import { worldView } from '../agents/world.ts';
import { truthOf, warmOf } from './warm.ts';

/**
 * The scene-exit plan (what the exit transaction writes): relationship edge updates as the
 * difference of the accumulators since entry, every cast member's and object's snapshot,
 * where the story goes next (only the ending ends it), and the narrative position.
 */
export function planSceneExit(req: SceneExitPlanRequest): SceneExitPlan {
  const w = warmOf(req.scene);
  const ts = truthOf(req.truthSet);
  const view = worldView(w.data.baseline, ts);
  const edges = new Map<string, Record<string, number>>();
  for (const [key, value] of Object.entries(ts.accumulators)) {
    if (!key.startsWith('rel:')) continue;
    const delta = value - (w.data.entryAccumulators[key] ?? 0);
    if (Math.abs(delta) < 1e-9) continue;
    const [, from, to, dimension] = key.split(':');
    if (!from || !to || !dimension) continue;
    const k = `${from}→${to}`;
    edges.set(k, { ...(edges.get(k) ?? {}), [dimension]: delta });
  }
  const edgeUpdates = [...edges].map(([k, deltas]) => {
    const [from, to] = k.split('→') as [string, string];
    return { from, to, deltas };
  });
  const entitySnapshots = [
    ...w.entities.characters.map((c) => ({
      entityId: c.id,
      kind: 'character',
      components: { emotions: emotionsNow(c, ts), axes: c.axes, persistence: c.persistence, communicability: c.communicability, lastScene: w.data.sceneKey },
    })),
    ...w.entities.objects.map((o) => ({
      entityId: o.id,
      kind: 'object',
      components: { heldBy: view.holders[o.id] ?? null, location: view.locations[o.id] ?? null, persistence: o.persistence },
    })),
  ];
  // Only the story's ending ends it; an exit for another reason (grace expired, shutdown) without a
  // departure keeps the player in this scene, re-entered on resume.
  const ended = req.reason === 'ending';
  const nextSceneKey = ended ? null : (req.requestedNextSceneKey ?? w.data.sceneKey);
  return {
    entitySnapshots,
    edgeUpdates,
    nextSceneKey,
    entityState: { holders: view.holders, locations: view.locations },
    worldState: view,
    narrativePosition: {
      storyId: w.data.storyId,
      sceneKey: w.data.sceneKey,
      nextSceneKey,
      ended,
      goalsCompleted: w.data.scene.goals.filter((g) => holds(ts, 'goal_completed', g.id)).map((g) => g.id),
      posteriors: w.graph.posteriors,
    },
  };
}

