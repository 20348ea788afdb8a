import type { AdjacentSetting, GraphStore, ReachableScene, RelationalSubgraph } from './graph-store.ts';

/** What scene entry step 3 loads (seed: "LOAD GRAPH CONTEXT"). Plain JSON. */
export interface SceneGraphContext {
  relational: RelationalSubgraph;
  reachableScenes: ReachableScene[];
  adjacentSettings: AdjacentSetting[];
}

export interface SceneGraphRequest {
  /** The session's scope (its own copy of the story graph). */
  scope: string;
  castIds: readonly string[];
  sceneId: string;
  settingId: string;
}

/**
 * Scene entry step 3: the cast's relational subgraph, the narrative neighbourhood (scenes
 * 1..3 hops ahead) and the setting's adjacency, queried concurrently.
 *
 * @example
 * const graph = await loadSceneGraphContext(store, { scope: sessionId, castIds: ['mara', 'tomas'], sceneId: 'arrival', settingId: 'harbor' });
 */
export async function loadSceneGraphContext(store: GraphStore, req: SceneGraphRequest): Promise<SceneGraphContext> {
  const [relational, reachableScenes, adjacentSettings] = await Promise.all([
    store.relationalSubgraph(req.scope, req.castIds),
    store.reachableScenes(req.scope, req.sceneId, 3),
    store.adjacentSettings(req.scope, req.settingId),
  ]);
  return { relational, reachableScenes, adjacentSettings };
}
