import { isStorytellerError, StorytellerError } from '../../errors.ts';
import type { Database, Queryable } from '../database.ts';
import {
  RELATIONAL_ATTRIBUTES,
  TENSION_DEBT_ABOVE,
  TENSION_TRUST_COMPETENCE_BELOW,
  type AdjacentSetting,
  type EdgeInput,
  type EdgeUpdate,
  type ForkResult,
  type GraphStore,
  type ReachableScene,
  type RelationalEdge,
  type RelationalPath,
  type RelationalSubgraph,
  type SceneGraphContext,
  type SceneGraphRequest,
  type SceneNearSetting,
  type SceneType,
  type SceneVertex,
  type TenseScene,
  type TensionWithSnapshot,
  type TrustingCharacter,
  type TrustThresholds,
  type VertexInput,
} from './graph-store.ts';
import {
  resolveThresholds,
  validateEdges,
  validateEdgeUpdates,
  validateId,
  validateIds,
  validateMaxHops,
  validateUuid,
  validateVertices,
} from './graph-validation.ts';
import { findShortestRelationalPath } from './relational-path.ts';
import { applyEdgeUpdate, clampValues, pickValues, ZERO_RELATION } from './relational-values.ts';
import { edgeEndpoints, lastWins, pathEdges } from './graph-rows.ts';

/** Rows per INSERT … SELECT FROM jsonb_to_recordset (keeps one parameter a few MB at most). */
const WRITE_CHUNK = 5_000;
const REL_COLUMNS = RELATIONAL_ATTRIBUTES.join(', ');
/**
 * The distinct ids of $2 as rows `c(id)`. Queries drive index probes from this small side
 * through LATERAL subqueries fenced with OFFSET 0 (so the planner cannot flatten them back
 * into a join), and their plans do not hinge on statistics: a just-forked session scope has
 * none, and unfenced the planner scanned the whole scope per query (measured 10–180 ms
 * instead of 0.1–3 ms).
 */
const CAST_IDS = '(SELECT DISTINCT id FROM unnest($2::text[]) AS id) c';

interface SceneRow { id: string; name: string; scene_type: string; authored_mass: number; cast_ids: string[] }
type EdgeRow = { from_id: string; to_id: string } & Record<(typeof RELATIONAL_ATTRIBUTES)[number], number>;

const sceneFromRow = (r: SceneRow): SceneVertex => ({
  id: r.id,
  name: r.name,
  sceneType: r.scene_type as SceneType,
  authoredMass: Number(r.authored_mass),
  castIds: [...r.cast_ids],
});
const edgeFromRow = (r: EdgeRow): RelationalEdge => ({ from: r.from_id, to: r.to_id, ...pickValues(r) });

/**
 * The graph store on plain PostgreSQL tables (`graph_vertices`, `graph_edges`, migration
 * 0002) with recursive CTEs: the default, and the only store on PGlite. Answers are
 * identical to AgeGraphStore's (the contract suite checks both against one oracle).
 *
 * @example
 * const graph = new SqlGraphStore(db);
 * await graph.upsertVertices('lighthouse', [{ label: 'Character', id: 'mara', name: 'Mara' }]);
 */
export class SqlGraphStore implements GraphStore {
  readonly kind = 'sql' as const;
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  // ------------------------------------------------------------------ writes

  async upsertVertices(scope: string, vertices: readonly VertexInput[], tx?: Queryable): Promise<void> {
    validateId(scope, 'scope');
    const rows = lastWins(validateVertices(vertices), (v) => `${v.label}\u0000${v.id}`).map((v) =>
      v.label === 'Scene'
        ? { label: v.label, id: v.id, name: v.name, scene_type: v.sceneType, authored_mass: v.authoredMass, cast_ids: v.castIds }
        : { label: v.label, id: v.id, name: v.name, scene_type: null, authored_mass: null, cast_ids: null },
    );
    if (rows.length === 0) return;
    await this.#write(tx, async (q) => {
      for (let i = 0; i < rows.length; i += WRITE_CHUNK) {
        await q.query(
          `INSERT INTO graph_vertices (scope, label, id, name, scene_type, authored_mass, cast_ids)
           SELECT $1, v.label, v.id, v.name, v.scene_type, v.authored_mass,
                  CASE WHEN v.cast_ids IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(v.cast_ids)) END
           FROM jsonb_to_recordset($2::jsonb) AS v(label TEXT, id TEXT, name TEXT, scene_type TEXT, authored_mass FLOAT8, cast_ids JSONB)
           ON CONFLICT (scope, label, id) DO UPDATE SET
             name = EXCLUDED.name, scene_type = EXCLUDED.scene_type,
             authored_mass = EXCLUDED.authored_mass, cast_ids = EXCLUDED.cast_ids`,
          [scope, JSON.stringify(rows.slice(i, i + WRITE_CHUNK))],
        );
      }
    });
  }

  async upsertEdges(scope: string, edges: readonly EdgeInput[], tx?: Queryable): Promise<void> {
    validateId(scope, 'scope');
    const rows = lastWins(validateEdges(edges), (e) => `${e.label}\u0000${edgeEndpoints(e).fromLabel}\u0000${e.from}\u0000${e.to}`).map((e) => {
      const { fromLabel, toLabel } = edgeEndpoints(e);
      const values = e.label === 'RELATES_TO' ? clampValues(pickValues(e)) : null;
      return {
        label: e.label,
        from_label: fromLabel,
        from_id: e.from,
        to_label: toLabel,
        to_id: e.to,
        ...(values ?? {}),
        traversal_cost: e.label === 'ADJACENT_TO' ? e.traversalCost : null,
      };
    });
    if (rows.length === 0) return;
    await this.#write(tx, async (q) => {
      for (let i = 0; i < rows.length; i += WRITE_CHUNK) {
        await q.query(
          `INSERT INTO graph_edges (scope, label, from_label, from_id, to_label, to_id, ${REL_COLUMNS}, traversal_cost)
           SELECT $1, e.label, e.from_label, e.from_id, e.to_label, e.to_id, ${REL_COLUMNS.replaceAll(/(\w+)/g, 'e.$1')}, e.traversal_cost
           FROM jsonb_to_recordset($2::jsonb) AS e(label TEXT, from_label TEXT, from_id TEXT, to_label TEXT, to_id TEXT,
             trust_reliability FLOAT8, trust_competence FLOAT8, trust_benevolence FLOAT8, affection FLOAT8, debt FLOAT8, traversal_cost FLOAT8)
           ON CONFLICT (from_id, scope, label, to_id, from_label) DO UPDATE SET
             ${RELATIONAL_ATTRIBUTES.map((a) => `${a} = EXCLUDED.${a}`).join(', ')}, traversal_cost = EXCLUDED.traversal_cost`,
          [scope, JSON.stringify(rows.slice(i, i + WRITE_CHUNK))],
        );
      }
    });
  }

  async applyEdgeUpdates(scope: string, updates: readonly EdgeUpdate[], tx?: Queryable): Promise<RelationalEdge[]> {
    validateId(scope, 'scope');
    const valid = validateEdgeUpdates(updates);
    if (valid.length === 0) return [];
    return this.#write(tx, async (q) => {
      // Read (and lock) the current values, compose the batch in order, write the finals.
      const { rows } = await q.query<EdgeRow>(
        `SELECT e.from_id, e.to_id, ${RELATIONAL_ATTRIBUTES.map((a) => `e.${a}`).join(', ')}
         FROM (SELECT DISTINCT f, t FROM unnest($2::text[], $3::text[]) AS u(f, t)) u
         CROSS JOIN LATERAL (
           SELECT * FROM graph_edges
           WHERE scope = $1 AND label = 'RELATES_TO' AND from_id = u.f AND to_id = u.t
           OFFSET 0 FOR UPDATE
         ) e`,
        [scope, valid.map((u) => u.from), valid.map((u) => u.to)],
      );
      const current = new Map(rows.map((r) => [pairKey(r.from_id, r.to_id), pickValues(r)]));
      const results: RelationalEdge[] = [];
      for (const u of valid) {
        const key = pairKey(u.from, u.to);
        const next = applyEdgeUpdate(current.get(key) ?? ZERO_RELATION, u);
        current.set(key, next);
        results.push({ from: u.from, to: u.to, ...next });
      }
      const finals = lastWins(results, (e) => pairKey(e.from, e.to)).map((e) => ({ label: 'RELATES_TO' as const, ...e }));
      await this.upsertEdges(scope, finals, q);
      return results;
    });
  }

  async forkScope(fromScope: string, toScope: string, tx?: Queryable): Promise<ForkResult> {
    validateId(fromScope, 'fromScope');
    validateId(toScope, 'toScope');
    return this.#write(tx, async (q) => {
      const counts = await q.query<{ from_n: number; to_n: number }>(
        `SELECT (SELECT count(*) FROM graph_vertices WHERE scope = $1) AS from_n,
                (SELECT count(*) FROM graph_vertices WHERE scope = $2) AS to_n`,
        [fromScope, toScope],
      );
      const { from_n, to_n } = counts.rows[0]!;
      if (Number(from_n) === 0) throw new StorytellerError('GRAPH_SCOPE_NOT_FOUND', `graph scope ${JSON.stringify(fromScope)} has no vertices to copy`);
      if (Number(to_n) > 0) throw new StorytellerError('GRAPH_SCOPE_EXISTS', `graph scope ${JSON.stringify(toScope)} already has ${to_n} vertices`);
      const vertices = await q.query(
        `INSERT INTO graph_vertices (scope, label, id, name, scene_type, authored_mass, cast_ids)
         SELECT $2, label, id, name, scene_type, authored_mass, cast_ids FROM graph_vertices WHERE scope = $1`,
        [fromScope, toScope],
      );
      const edges = await q.query(
        // Driven from the scope's vertices: graph_edges has no index on scope alone (see 0002).
        `INSERT INTO graph_edges (scope, label, from_label, from_id, to_label, to_id, ${REL_COLUMNS}, traversal_cost)
         SELECT $2, e.label, e.from_label, e.from_id, e.to_label, e.to_id, ${RELATIONAL_ATTRIBUTES.map((a) => `e.${a}`).join(', ')}, e.traversal_cost
         FROM graph_vertices v
         CROSS JOIN LATERAL (SELECT * FROM graph_edges WHERE from_id = v.id AND scope = $1 AND from_label = v.label OFFSET 0) e
         WHERE v.scope = $1`,
        [fromScope, toScope],
      );
      return { vertices: vertices.rowCount, edges: edges.rowCount };
    });
  }

  async deleteScope(scope: string, tx?: Queryable): Promise<number> {
    validateId(scope, 'scope');
    return this.#write(tx, async (q) => {
      // The edges go by ON DELETE CASCADE (probes on the id-led indexes; no scope scan).
      return (await q.query('DELETE FROM graph_vertices WHERE scope = $1', [scope])).rowCount;
    });
  }

  // ------------------------------------------------------------------ relational web

  async relationalSubgraph(scope: string, castIds: readonly string[]): Promise<RelationalSubgraph> {
    validateId(scope, 'scope');
    const ids = validateIds(castIds, 'castIds');
    // One round trip: both lists as JSON aggregates.
    const { rows } = await this.#read<{ characters: Array<{ id: string; name: string }> | null; edges: EdgeRow[] | null }>(
      `SELECT ${SUBGRAPH_COLUMNS}`,
      [scope, ids],
    );
    const row = rows[0]!;
    return { characters: row.characters ?? [], edges: (row.edges ?? []).map(edgeFromRow) };
  }

  async shortestRelationalPath(scope: string, fromId: string, toId: string): Promise<RelationalPath | null> {
    validateId(scope, 'scope');
    const from = validateId(fromId, 'fromId');
    const to = validateId(toId, 'toId');
    const ids = await findShortestRelationalPath(from, to, async (frontier) => {
      const { rows } = await this.#read<{ a: string; b: string }>(
        `SELECT e.from_id AS a, e.to_id AS b FROM ${CAST_IDS}
           CROSS JOIN LATERAL (SELECT from_id, to_id FROM graph_edges WHERE scope = $1 AND label = 'RELATES_TO' AND from_id = c.id OFFSET 0) e
         UNION
         SELECT e.to_id AS a, e.from_id AS b FROM ${CAST_IDS}
           CROSS JOIN LATERAL (SELECT from_id, to_id FROM graph_edges WHERE scope = $1 AND label = 'RELATES_TO' AND to_id = c.id OFFSET 0) e`,
        [scope, frontier],
      );
      return rows.map((r) => [r.a, r.b] as const);
    });
    if (!ids) return null;
    const { edges } = await this.relationalSubgraph(scope, ids);
    return { characterIds: ids, hops: ids.length - 1, edges: pathEdges(ids, edges) };
  }

  async trustingCharacters(scope: string, targetId: string, thresholds?: TrustThresholds): Promise<TrustingCharacter[]> {
    validateId(scope, 'scope');
    const target = validateId(targetId, 'targetId');
    const { minCompetence, minBenevolence } = resolveThresholds(thresholds);
    const { rows } = await this.#read<EdgeRow & { name: string }>(
      `SELECT e.from_id, e.to_id, ${RELATIONAL_ATTRIBUTES.map((a) => `e.${a}`).join(', ')}, v.name
       FROM graph_edges e
       CROSS JOIN LATERAL (SELECT name FROM graph_vertices WHERE scope = $1 AND label = 'Character' AND id = e.from_id OFFSET 0) v
       WHERE e.to_id = $2 AND e.scope = $1 AND e.label = 'RELATES_TO'
         AND e.trust_competence > $3::float8 AND e.trust_benevolence > $4::float8
       ORDER BY e.trust_competence DESC, e.trust_benevolence DESC, e.from_id COLLATE "C"`,
      [scope, target, minCompetence, minBenevolence],
    );
    return rows.map((r) => ({ character: { id: r.from_id, name: r.name }, edge: edgeFromRow(r) }));
  }

  // ------------------------------------------------------------------ narrative graph

  async reachableScenes(scope: string, sceneId: string, maxHops?: number): Promise<ReachableScene[]> {
    validateId(scope, 'scope');
    const start = validateId(sceneId, 'sceneId');
    const hops = validateMaxHops(maxHops);
    const { rows } = await this.#read<SceneRow & { hops: number }>(
      `${walkCte('LEADS_TO')}
       SELECT v.id, v.name, v.scene_type, v.authored_mass, v.cast_ids, w.hops
       FROM (SELECT id, min(hops) AS hops FROM walk GROUP BY id) w
       CROSS JOIN LATERAL (SELECT * FROM graph_vertices WHERE scope = $1 AND label = 'Scene' AND id = w.id OFFSET 0) v
       ORDER BY w.hops, v.id COLLATE "C"`,
      [scope, start, hops],
    );
    return rows.map((r) => ({ scene: sceneFromRow(r), hops: r.hops }));
  }

  async tenseScenesAhead(scope: string, sceneId: string): Promise<TenseScene[]> {
    validateId(scope, 'scope');
    const start = validateId(sceneId, 'sceneId');
    const { rows } = await this.#read<SceneRow & { hops: number; tension_edges: number }>(
      `${walkCte('LEADS_TO')}
       SELECT v.id, v.name, v.scene_type, v.authored_mass, v.cast_ids, w.hops, count(*) AS tension_edges
       FROM (SELECT id, min(hops) AS hops FROM walk GROUP BY id) w
       CROSS JOIN LATERAL (SELECT * FROM graph_vertices WHERE scope = $1 AND label = 'Scene' AND id = w.id OFFSET 0) v
       CROSS JOIN LATERAL (SELECT DISTINCT m FROM unnest(v.cast_ids) AS m) c
       CROSS JOIN LATERAL (
         SELECT 1 FROM graph_edges r
         WHERE r.scope = $1 AND r.label = 'RELATES_TO' AND r.from_id = c.m AND r.to_id = ANY(v.cast_ids)
           AND (r.trust_competence < $4::float8 OR r.debt > $5::float8)
         OFFSET 0
       ) r
       GROUP BY v.id, v.name, v.scene_type, v.authored_mass, v.cast_ids, w.hops
       ORDER BY tension_edges DESC, w.hops, v.id COLLATE "C"`,
      [scope, start, 2, TENSION_TRUST_COMPETENCE_BELOW, TENSION_DEBT_ABOVE],
    );
    return rows.map((r) => ({ scene: sceneFromRow(r), hops: r.hops, tensionEdges: Number(r.tension_edges) }));
  }

  // ------------------------------------------------------------------ setting topology

  async adjacentSettings(scope: string, settingId: string): Promise<AdjacentSetting[]> {
    validateId(scope, 'scope');
    const start = validateId(settingId, 'settingId');
    const { rows } = await this.#read<{ id: string; name: string; traversal_cost: number }>(
      `SELECT v.id, v.name, e.traversal_cost
       FROM graph_edges e
       CROSS JOIN LATERAL (SELECT id, name FROM graph_vertices WHERE scope = $1 AND label = 'Setting' AND id = e.to_id OFFSET 0) v
       WHERE e.from_id = $2 AND e.scope = $1 AND e.label = 'ADJACENT_TO'
       ORDER BY e.traversal_cost, v.id COLLATE "C"`,
      [scope, start],
    );
    return rows.map((r) => ({ setting: { id: r.id, name: r.name }, traversalCost: Number(r.traversal_cost) }));
  }

  async scenesNearSetting(scope: string, settingId: string): Promise<SceneNearSetting[]> {
    validateId(scope, 'scope');
    const start = validateId(settingId, 'settingId');
    const { rows } = await this.#read<SceneRow & { setting_id: string; setting_name: string; hops: number }>(
      `${walkCte('ADJACENT_TO')}
       SELECT st.id AS setting_id, st.name AS setting_name, sc.id, sc.name, sc.scene_type, sc.authored_mass, sc.cast_ids, w.hops
       FROM (SELECT id, min(hops) AS hops FROM walk WHERE id <> $2 GROUP BY id) w
       CROSS JOIN LATERAL (SELECT * FROM graph_vertices WHERE scope = $1 AND label = 'Setting' AND id = w.id OFFSET 0) st
       CROSS JOIN LATERAL (SELECT from_id FROM graph_edges WHERE to_id = w.id AND scope = $1 AND label = 'SCENE_AT' OFFSET 0) sa
       CROSS JOIN LATERAL (SELECT * FROM graph_vertices WHERE scope = $1 AND label = 'Scene' AND id = sa.from_id OFFSET 0) sc
       ORDER BY w.hops, st.id COLLATE "C", sc.id COLLATE "C"`,
      [scope, start, 2],
    );
    return rows.map((r) => ({ setting: { id: r.setting_id, name: r.setting_name }, scene: sceneFromRow(r), hops: r.hops }));
  }

  // ------------------------------------------------------------------ graph ↔ SQL

  async tensionWithSnapshots(scope: string, sessionId: string): Promise<TensionWithSnapshot[]> {
    validateId(scope, 'scope');
    const session = validateUuid(sessionId);
    const { rows } = await this.#read<EdgeRow & { from_components: unknown; to_components: unknown }>(
      `SELECT r.from_id, r.to_id, ${RELATIONAL_ATTRIBUTES.map((a) => `r.${a}`).join(', ')},
              f.components AS from_components,
              (SELECT t.components FROM entity_snapshots t WHERE t.session_id = $2::uuid AND t.entity_id = r.to_id) AS to_components
       FROM entity_snapshots f
       CROSS JOIN LATERAL (
         SELECT * FROM graph_edges
         WHERE scope = $1 AND label = 'RELATES_TO' AND from_id = f.entity_id
           AND (trust_competence < $3::float8 OR debt > $4::float8)
         OFFSET 0
       ) r
       WHERE f.session_id = $2::uuid
       ORDER BY r.from_id COLLATE "C", r.to_id COLLATE "C"`,
      [scope, session, TENSION_TRUST_COMPETENCE_BELOW, TENSION_DEBT_ABOVE],
    );
    return rows.map((r) => ({ edge: edgeFromRow(r), fromComponents: r.from_components, toComponents: r.to_components ?? null }));
  }

  /** Scene entry step 3 in one statement: the three answers as JSON columns of one row. */
  async sceneGraphContext(req: SceneGraphRequest): Promise<SceneGraphContext> {
    const scope = validateId(req.scope, 'scope');
    const ids = validateIds(req.castIds, 'castIds');
    const sceneId = validateId(req.sceneId, 'sceneId');
    const settingId = validateId(req.settingId, 'settingId');
    const { rows } = await this.#read<{
      characters: Array<{ id: string; name: string }> | null;
      edges: EdgeRow[] | null;
      reachable: Array<SceneRow & { hops: number }> | null;
      adjacent: Array<{ id: string; name: string; traversal_cost: number }> | null;
    }>(
      `${walkCte('LEADS_TO', '$3', '3')}
       SELECT ${SUBGRAPH_COLUMNS},
         (SELECT json_agg(json_build_object('id', v.id, 'name', v.name, 'scene_type', v.scene_type,
                   'authored_mass', v.authored_mass, 'cast_ids', v.cast_ids, 'hops', w.hops) ORDER BY w.hops, v.id COLLATE "C")
            FROM (SELECT id, min(hops) AS hops FROM walk GROUP BY id) w
            CROSS JOIN LATERAL (SELECT * FROM graph_vertices WHERE scope = $1 AND label = 'Scene' AND id = w.id OFFSET 0) v) AS reachable,
         (SELECT json_agg(json_build_object('id', v.id, 'name', v.name, 'traversal_cost', e.traversal_cost) ORDER BY e.traversal_cost, v.id COLLATE "C")
            FROM graph_edges e
            CROSS JOIN LATERAL (SELECT id, name FROM graph_vertices WHERE scope = $1 AND label = 'Setting' AND id = e.to_id OFFSET 0) v
            WHERE e.from_id = $4 AND e.scope = $1 AND e.label = 'ADJACENT_TO') AS adjacent`,
      [scope, ids, sceneId, settingId],
    );
    const row = rows[0]!;
    return {
      relational: { characters: row.characters ?? [], edges: (row.edges ?? []).map(edgeFromRow) },
      reachableScenes: (row.reachable ?? []).map((r) => ({ scene: sceneFromRow(r), hops: r.hops })),
      adjacentSettings: (row.adjacent ?? []).map((r) => ({ setting: { id: r.id, name: r.name }, traversalCost: Number(r.traversal_cost) })),
    };
  }

  async close(): Promise<void> {
    // The database belongs to the caller.
  }

  // ------------------------------------------------------------------ plumbing

  async #read<R extends object>(sql: string, params: unknown[]): Promise<{ rows: R[] }> {
    try {
      return await this.#db.query<R>(sql, params);
    } catch (error) {
      throw mapSqlError(error);
    }
  }

  async #write<T>(tx: Queryable | undefined, fn: (q: Queryable) => Promise<T>): Promise<T> {
    try {
      return tx ? await fn(tx) : await this.#db.transaction(fn);
    } catch (error) {
      throw mapSqlError(error);
    }
  }
}

const pairKey = (from: string, to: string) => `${from}\u0000${to}`;

/** Min-hop walk along one edge label from $2, up to $3 hops; PostgreSQL's UNION keeps it finite. */
function walkCte(label: 'LEADS_TO' | 'ADJACENT_TO', start = '$2', maxHops = '$3::int'): string {
  return `WITH RECURSIVE walk(id, hops) AS (
      SELECT to_id, 1 FROM graph_edges WHERE scope = $1 AND label = '${label}' AND from_id = ${start}
      UNION
      SELECT e.to_id, w.hops + 1 FROM walk w
        JOIN graph_edges e ON e.scope = $1 AND e.label = '${label}' AND e.from_id = w.id
      WHERE w.hops < ${maxHops}
    )`;
}

/** The relational subgraph of the ids in $2 as two JSON columns, `characters` and `edges`. */
const SUBGRAPH_COLUMNS = `
         (SELECT json_agg(json_build_object('id', v.id, 'name', v.name) ORDER BY v.id COLLATE "C")
            FROM ${CAST_IDS} CROSS JOIN LATERAL (
              SELECT id, name FROM graph_vertices WHERE scope = $1 AND label = 'Character' AND id = c.id OFFSET 0) v) AS characters,
         (SELECT json_agg(json_build_object('from_id', e.from_id, 'to_id', e.to_id,
                   ${RELATIONAL_ATTRIBUTES.map((a) => `'${a}', e.${a}`).join(', ')})
                   ORDER BY e.from_id COLLATE "C", e.to_id COLLATE "C")
            FROM ${CAST_IDS} CROSS JOIN LATERAL (
              SELECT * FROM graph_edges
              WHERE scope = $1 AND label = 'RELATES_TO' AND from_id = c.id AND to_id = ANY($2::text[]) OFFSET 0) e) AS edges`;

function mapSqlError(error: unknown): unknown {
  if (isStorytellerError(error)) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === '23503') {
    return new StorytellerError('GRAPH_VERTEX_NOT_FOUND', `an edge names a vertex missing from its scope: ${(error as Error).message}`, { cause: error });
  }
  if (code === '23505') {
    return new StorytellerError('GRAPH_SCOPE_EXISTS', `graph rows already exist: ${(error as Error).message}`, { cause: error });
  }
  return new StorytellerError('GRAPH_QUERY_FAILED', `graph query failed: ${(error as Error).message}`, { cause: error });
}
