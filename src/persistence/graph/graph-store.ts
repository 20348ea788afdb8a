/**
 * The graph store: the relational web, the narrative graph and the setting topology
 * (seed: "Graph Data Modeling"). One interface, two implementations with identical
 * answers — `SqlGraphStore` (plain tables + recursive CTEs; the default, and the only
 * one on PGlite) and `AgeGraphStore` (Apache AGE, Cypher through `cypher()`).
 *
 * Scopes: every call names a `scope`. A story's authored baseline graph lives under the
 * story id; each session works on its own copy under the session id, made by
 * `forkScope(storyId, sessionId)` when the session starts. Scene-exit edge updates go to
 * the session's scope, so sessions never see each other's relationships.
 *
 * Vertex ids are the author's string ids (character entity_id, scene key, setting key,
 * zone key); a vertex is identified by (scope, label, id), so a scene and a setting may
 * share a key. Ids and names are data: every implementation passes them as parameters.
 *
 * Ordering: every list has a defined order so implementations compare exactly. Ids are
 * compared by Unicode code point (PostgreSQL `COLLATE "C"`, see `compareIds`).
 */
import type { Queryable } from '../database.ts';

export const VERTEX_LABELS = ['Character', 'Entity', 'Scene', 'Setting', 'Zone'] as const;
export type VertexLabel = (typeof VERTEX_LABELS)[number];

export const EDGE_LABELS = ['RELATES_TO', 'LEADS_TO', 'SCENE_AT', 'ADJACENT_TO', 'CONTAINS'] as const;
export type EdgeLabel = (typeof EDGE_LABELS)[number];

export const SCENE_TYPES = ['gravitational', 'gate', 'connective', 'threshold'] as const;
export type SceneType = (typeof SCENE_TYPES)[number];

/** The five dimensions of a directed relational edge (domain: "Relational edge"). Each in [-1, 1]. */
export const RELATIONAL_ATTRIBUTES = ['trust_reliability', 'trust_competence', 'trust_benevolence', 'affection', 'debt'] as const;
export type RelationalAttribute = (typeof RELATIONAL_ATTRIBUTES)[number];
export type RelationalValues = Record<RelationalAttribute, number>;

/** Values are clamped to this range after every write and update. */
export const RELATIONAL_MIN = -1;
export const RELATIONAL_MAX = 1;

/** Tension (seed: cross-graph query): trust_competence < -0.3 OR debt > 0.5. */
export const TENSION_TRUST_COMPETENCE_BELOW = -0.3;
export const TENSION_DEBT_ABOVE = 0.5;

// ---------------------------------------------------------------- writes

export interface PlainVertexInput {
  label: 'Character' | 'Entity' | 'Setting' | 'Zone';
  id: string;
  name: string;
}

export interface SceneVertexInput {
  label: 'Scene';
  id: string;
  name: string;
  sceneType: SceneType;
  authoredMass: number;
  /** Character ids of the scene's cast (the tension query reads it). */
  castIds: string[];
}

/** Upserting a vertex replaces all its properties. */
export type VertexInput = PlainVertexInput | SceneVertexInput;

/** character → character, directed and asymmetric. */
export type RelatesToInput = { label: 'RELATES_TO'; from: string; to: string } & RelationalValues;
/** scene → scene */
export interface LeadsToInput { label: 'LEADS_TO'; from: string; to: string }
/** scene → setting */
export interface SceneAtInput { label: 'SCENE_AT'; from: string; to: string }
/** setting → setting, directed (author both directions for a two-way passage). */
export interface AdjacentToInput { label: 'ADJACENT_TO'; from: string; to: string; traversalCost: number }
/** zone → setting or setting → setting. */
export interface ContainsInput { label: 'CONTAINS'; fromLabel: 'Zone' | 'Setting'; from: string; to: string }

/**
 * At most one edge per (scope, label, from, to); upserting replaces its attributes.
 * Both endpoints must exist in the scope (GRAPH_VERTEX_NOT_FOUND otherwise).
 */
export type EdgeInput = RelatesToInput | LeadsToInput | SceneAtInput | AdjacentToInput | ContainsInput;

/**
 * One relational shift from a scene exit. Per attribute: `set` first (absolute), then
 * `deltas` added, then clamped to [-1, 1]. A missing edge is created from zeros. Updates in a
 * batch apply in order (two updates to one edge compose).
 */
export interface EdgeUpdate {
  from: string;
  to: string;
  deltas?: Partial<Record<RelationalAttribute, number>>;
  set?: Partial<Record<RelationalAttribute, number>>;
}

// ---------------------------------------------------------------- reads

export interface CharacterVertex { id: string; name: string }
export interface SettingVertex { id: string; name: string }
export interface SceneVertex { id: string; name: string; sceneType: SceneType; authoredMass: number; castIds: string[] }

/** A stored RELATES_TO edge. */
export type RelationalEdge = { from: string; to: string } & RelationalValues;

export interface RelationalSubgraph {
  /** The cast members that exist in the scope, by id. */
  characters: CharacterVertex[];
  /** Edges with both ends in the cast (self-edges included), by (from, to). */
  edges: RelationalEdge[];
}

export interface RelationalPath {
  /** Character ids from `from` to `to`; length = hops + 1. */
  characterIds: string[];
  hops: number;
  /** One edge per hop, in stored direction; the forward edge when both directions exist. */
  edges: RelationalEdge[];
}

export interface TrustThresholds {
  /** Strictly greater than; default 0.5 (seed). */
  minCompetence?: number;
  /** Strictly greater than; default 0.3 (seed). */
  minBenevolence?: number;
}

export interface TrustingCharacter { character: CharacterVertex; edge: RelationalEdge }

export interface ReachableScene { scene: SceneVertex; /** Fewest LEADS_TO hops. */ hops: number }

export interface TenseScene {
  scene: SceneVertex;
  hops: number;
  /** Distinct RELATES_TO edges between two cast members that are tense. */
  tensionEdges: number;
}

export interface AdjacentSetting { setting: SettingVertex; traversalCost: number }

export interface SceneNearSetting { setting: SettingVertex; scene: SceneVertex; /** Fewest ADJACENT_TO hops to `setting`. */ hops: number }

export interface TensionWithSnapshot {
  edge: RelationalEdge;
  /** `entity_snapshots.components` of the edge's source in the session. */
  fromComponents: unknown;
  /** The target's snapshot components, null when it has none. */
  toComponents: unknown;
}

export interface ForkResult { vertices: number; edges: number }

/** Scene entry step 3 (seed: "LOAD GRAPH CONTEXT"). Plain JSON. */
export interface SceneGraphRequest {
  /** The session's scope (its own copy of the story graph). */
  scope: string;
  castIds: readonly string[];
  sceneId: string;
  settingId: string;
}

export interface SceneGraphContext {
  /** relationalSubgraph(scope, castIds) */
  relational: RelationalSubgraph;
  /** reachableScenes(scope, sceneId, 3) */
  reachableScenes: ReachableScene[];
  /** adjacentSettings(scope, settingId) */
  adjacentSettings: AdjacentSetting[];
}

/**
 * @example
 * const graph = await openGraphStore(db, config);
 * await graph.forkScope(storyId, sessionId);
 * const { edges } = await graph.relationalSubgraph(sessionId, ['mara', 'tomas']);
 * await db.transaction((tx) => graph.applyEdgeUpdates(sessionId, [{ from: 'mara', to: 'tomas', deltas: { trust_benevolence: 0.1 } }], tx));
 */
export interface GraphStore {
  readonly kind: 'sql' | 'age';

  // writes — each runs in its own transaction unless `tx` is given
  upsertVertices(scope: string, vertices: readonly VertexInput[], tx?: Queryable): Promise<void>;
  upsertEdges(scope: string, edges: readonly EdgeInput[], tx?: Queryable): Promise<void>;
  /** The scene-exit batch; pass the scene-exit transaction as `tx`. Returns the edges after the update, in input order. */
  applyEdgeUpdates(scope: string, updates: readonly EdgeUpdate[], tx?: Queryable): Promise<RelationalEdge[]>;
  /** Copies every vertex and edge of `fromScope` into the empty `toScope` (GRAPH_SCOPE_NOT_FOUND / GRAPH_SCOPE_EXISTS). */
  forkScope(fromScope: string, toScope: string, tx?: Queryable): Promise<ForkResult>;
  /** Removes a scope's vertices and edges (an ended session, a reloaded story). Returns the vertices removed. */
  deleteScope(scope: string, tx?: Queryable): Promise<number>;

  // relational web
  relationalSubgraph(scope: string, castIds: readonly string[]): Promise<RelationalSubgraph>;
  /** Fewest hops (1..4, edges in either direction); among equals the smallest id sequence. Null if none. */
  shortestRelationalPath(scope: string, fromId: string, toId: string): Promise<RelationalPath | null>;
  /** Sources of RELATES_TO → target above both thresholds; by trust_competence desc, trust_benevolence desc, id. */
  trustingCharacters(scope: string, targetId: string, thresholds?: TrustThresholds): Promise<TrustingCharacter[]>;

  // narrative graph
  /** Scenes 1..maxHops (1..3, default 3) LEADS_TO ahead; by hops, id. The start scene appears if a cycle returns to it. */
  reachableScenes(scope: string, sceneId: string, maxHops?: number): Promise<ReachableScene[]>;
  /** Scenes 1..2 hops ahead with ≥ 1 tense edge among their cast; by tensionEdges desc, hops, id. */
  tenseScenesAhead(scope: string, sceneId: string): Promise<TenseScene[]>;

  // setting topology
  /** ADJACENT_TO neighbours; by traversalCost, id. */
  adjacentSettings(scope: string, settingId: string): Promise<AdjacentSetting[]>;
  /** Scenes SCENE_AT settings 1..2 ADJACENT_TO hops away (the start setting excluded); by hops, setting id, scene id. */
  scenesNearSetting(scope: string, settingId: string): Promise<SceneNearSetting[]>;

  // graph ↔ SQL
  /** Tense edges whose source has an entity snapshot in `sessionId` (UUID), with the snapshots; one round trip; by (from, to). */
  tensionWithSnapshots(scope: string, sessionId: string): Promise<TensionWithSnapshot[]>;

  /**
   * Optional: all of scene entry step 3 in one round trip, identical to the three queries.
   * Call it through `loadSceneGraphContext`, which falls back to the three queries.
   */
  sceneGraphContext?(req: SceneGraphRequest): Promise<SceneGraphContext>;

  close(): Promise<void>;
}
