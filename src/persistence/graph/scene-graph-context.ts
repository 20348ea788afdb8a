import type { GraphStore, SceneGraphContext, SceneGraphRequest } from './graph-store.ts';

export type { SceneGraphContext, SceneGraphRequest } from './graph-store.ts';

/**
 * Scene entry step 3: the cast's relational subgraph, the narrative neighbourhood (scenes
 * 1..3 hops ahead) and the setting's adjacency. One round trip where the store offers it
 * (SqlGraphStore), otherwise the three queries concurrently.
 *
 * @example
 * const graph = await loadSceneGraphContext(store, { scope: sessionId, castIds: ['mara', 'tomas'], sceneId: 'arrival', settingId: 'harbor' });
 */
export async function loadSceneGraphContext(store: GraphStore, req: SceneGraphRequest): Promise<SceneGraphContext> {
  if (store.sceneGraphContext) return store.sceneGraphContext(req);
  const [relational, reachableScenes, adjacentSettings] = await Promise.all([
    store.relationalSubgraph(req.scope, req.castIds),
    store.reachableScenes(req.scope, req.sceneId, 3),
    store.adjacentSettings(req.scope, req.settingId),
  ]);
  return { relational, reachableScenes, adjacentSettings };
}
