import { z } from 'zod';
import { isStorytellerError, StorytellerError } from '../../errors.ts';
import type { Queryable } from '../database.ts';
import type { PgDatabase } from '../pg-database.ts';
import { PoolAgeConnections, type AgeConnections } from './age-connections.ts';
import { AGE_GRAPH, CYPHER, cypherSelect, cypherStatement, idListParams, idListSize } from './age-cypher.ts';
import { ageSchemaStatements, forkScopeSql, insertVerticesSql, LABEL_TABLES, updateVerticesSql, upsertEdgesSql } from './age-label-tables.ts';
import { AgEdge, AgVertex, agtypeParams, parseAgtype, type AgValue } from './agtype.ts';
import {
  RELATIONAL_ATTRIBUTES,
  SCENE_TYPES,
  TENSION_DEBT_ABOVE,
  TENSION_TRUST_COMPETENCE_BELOW,
  type AdjacentSetting,
  type CharacterVertex,
  type EdgeInput,
  type EdgeLabel,
  type EdgeUpdate,
  type ForkResult,
  type GraphStore,
  type ReachableScene,
  type RelationalEdge,
  type RelationalPath,
  type RelationalSubgraph,
  type SceneNearSetting,
  type SceneVertex,
  type SettingVertex,
  type TenseScene,
  type TensionWithSnapshot,
  type TrustingCharacter,
  type TrustThresholds,
  type VertexInput,
  type VertexLabel,
} from './graph-store.ts';
import { edgeEndpoints, lastWins, pathEdges } from './graph-rows.ts';
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
import { compareIds } from './id-order.ts';
import { findShortestRelationalPath } from './relational-path.ts';
import { applyEdgeUpdate, clampValues, pickValues, ZERO_RELATION } from './relational-values.ts';

// zod for what comes back out of AGE (properties are schemaless there).
const namedProps = z.object({ id: z.string(), name: z.string() });
const sceneProps = namedProps.extend({
  scene_type: z.enum(SCENE_TYPES),
  authored_mass: z.number(),
  cast_ids: z.array(z.string()),
});
const relationProps = z.object(Object.fromEntries(RELATIONAL_ATTRIBUTES.map((a) => [a, z.number()])) as Record<(typeof RELATIONAL_ATTRIBUTES)[number], z.ZodNumber>);

function stored<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new StorytellerError('STORED_DATA_INVALID', `AGE returned an invalid ${what}: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return result.data;
}
const asVertex = (v: AgValue, what: string): AgVertex => {
  if (!(v instanceof AgVertex)) throw new StorytellerError('STORED_DATA_INVALID', `AGE returned no vertex for ${what}`);
  return v;
};
const asEdge = (v: AgValue, what: string): AgEdge => {
  if (!(v instanceof AgEdge)) throw new StorytellerError('STORED_DATA_INVALID', `AGE returned no edge for ${what}`);
  return v;
};
const str = (v: AgValue, what: string): string => stored(z.string(), v, what);
const int = (v: AgValue, what: string): number => stored(z.number().int(), v, what);

const named = (v: AgValue, what: string): CharacterVertex | SettingVertex => {
  const p = stored(namedProps, asVertex(v, what).properties, what);
  return { id: p.id, name: p.name };
};
const sceneOf = (v: AgValue): SceneVertex => {
  const p = stored(sceneProps, asVertex(v, 'scene').properties, 'scene');
  return { id: p.id, name: p.name, sceneType: p.scene_type, authoredMass: p.authored_mass, castIds: p.cast_ids };
};
const relationOf = (from: AgValue, to: AgValue, r: AgValue): RelationalEdge => ({
  from: str(from, 'edge source id'),
  to: str(to, 'edge target id'),
  ...stored(relationProps, asEdge(r, 'RELATES_TO').properties, 'RELATES_TO properties'),
});

/** The (label, from, to) combinations of the seed's edge labels (one label-table upsert statement each; tests enumerate them). */
export const EDGE_SHAPES: ReadonlyArray<[EdgeLabel, VertexLabel, VertexLabel]> = [
  ['RELATES_TO', 'Character', 'Character'],
  ['LEADS_TO', 'Scene', 'Scene'],
  ['SCENE_AT', 'Scene', 'Setting'],
  ['ADJACENT_TO', 'Setting', 'Setting'],
  ['CONTAINS', 'Zone', 'Setting'],
  ['CONTAINS', 'Setting', 'Setting'],
];

/**
 * The graph store on Apache AGE: one graph `storyteller` with the seed's labels; every
 * vertex carries `scope` and `id` properties (GIN-indexed). All Cypher is fixed text from
 * `CYPHER`; values travel as the agtype parameter map. Orders, tie-breaks, the path
 * search and the update arithmetic are the same code as SqlGraphStore's, so answers match.
 *
 * Runs on its own pool (`PoolAgeConnections.forDatabase`): AGE needs session settings the
 * engine's connections must not get. Verified against AGE 1.6.0 / PostgreSQL 15 with
 * AGE_DATABASE_URL (docs/graph.md).
 *
 * @example
 * const graph = await AgeGraphStore.open(db); // CREATE EXTENSION age, graph, labels, indexes
 */
export class AgeGraphStore implements GraphStore {
  readonly kind = 'age' as const;
  readonly #connections: AgeConnections;

  constructor(connections: AgeConnections) {
    this.#connections = connections;
  }

  /** Creates the extension (if allowed), the graph, labels and indexes, then the store. */
  static async open(db: PgDatabase): Promise<AgeGraphStore> {
    const store = new AgeGraphStore(PoolAgeConnections.forDatabase(db));
    try {
      await store.ensureSchema(db);
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  /** Idempotent; serialised across engines by an advisory lock. Not a migration: plain PostgreSQL and PGlite have no AGE. */
  async ensureSchema(db: Queryable): Promise<void> {
    try {
      await db.query('CREATE EXTENSION IF NOT EXISTS age');
      await this.#connections.run(
        async (q) => {
          await q.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['storyteller-graph:schema']);
          const graph = await q.query('SELECT 1 FROM ag_catalog.ag_graph WHERE name = $1', [AGE_GRAPH]);
          if (graph.rowCount === 0) await q.query(`SELECT ag_catalog.create_graph('${AGE_GRAPH}')`);
          for (const { kind, label, indexes } of ageSchemaStatements()) {
            const exists = await q.query(
              `SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
              [AGE_GRAPH, label],
            );
            // Constant labels from the seed's list (never user data).
            if (exists.rowCount === 0) await q.query(`SELECT ag_catalog.create_${kind}('${AGE_GRAPH}', '${label}')`);
            for (const statement of indexes) await q.query(statement);
          }
        },
        { transaction: true },
      );
    } catch (error) {
      if (isStorytellerError(error) && error.code === 'STORAGE_UNAVAILABLE') throw error;
      // Start-up cannot go on without the graph: say so with the reason (no extension, not superuser, …).
      throw new StorytellerError('GRAPH_STORE_UNAVAILABLE', `Apache AGE could not be set up: ${(error as Error).message}`, { cause: error });
    }
  }

  // ------------------------------------------------------------------ writes

  async upsertVertices(scope: string, vertices: readonly VertexInput[], tx?: Queryable): Promise<void> {
    validateId(scope, 'scope');
    const valid = lastWins(validateVertices(vertices), (v) => `${v.label}\u0000${v.id}`);
    if (valid.length === 0) return;
    await this.#write(tx, scope, async (q) => {
      for (const batch of groupBy(valid, (v) => v.label).values()) await this.#upsertVertices(q, scope, batch[0]!.label, batch);
      await refreshStatistics(q, valid.length, [...new Set(valid.map((v) => v.label))]);
    });
  }

  async upsertEdges(scope: string, edges: readonly EdgeInput[], tx?: Queryable): Promise<void> {
    validateId(scope, 'scope');
    const valid = lastWins(validateEdges(edges), (e) => `${e.label}\u0000${edgeEndpoints(e).fromLabel}\u0000${e.from}\u0000${e.to}`);
    if (valid.length === 0) return;
    await this.#write(tx, scope, async (q) => {
      await this.#upsertEdges(q, scope, valid);
      await refreshStatistics(q, valid.length, [...new Set(valid.map((e) => e.label))]);
    });
  }

  async applyEdgeUpdates(scope: string, updates: readonly EdgeUpdate[], tx?: Queryable): Promise<RelationalEdge[]> {
    validateId(scope, 'scope');
    const valid = validateEdgeUpdates(updates);
    if (valid.length === 0) return [];
    return this.#write(tx, scope, async (q) => {
      const fromIds = [...new Set(valid.map((u) => u.from))];
      const toIds = [...new Set(valid.map((u) => u.to))];
      const size = idListSize(Math.max(fromIds.length, toIds.length));
      const rows = await cypher(q, CYPHER.relationsBetween(size), ['from_id', 'to_id', 'r'], {
        scope,
        ...idListParams('from_ids', fromIds, size),
        ...idListParams('to_ids', toIds, size),
      });
      const current = new Map(rows.map(([a, b, r]) => {
        const edge = relationOf(a!, b!, r!);
        return [pairKey(edge.from, edge.to), pickValues(edge)] as const;
      }));
      const results: RelationalEdge[] = [];
      for (const u of valid) {
        const key = pairKey(u.from, u.to);
        const next = applyEdgeUpdate(current.get(key) ?? ZERO_RELATION, u);
        current.set(key, next);
        results.push({ from: u.from, to: u.to, ...next });
      }
      await this.#upsertEdges(q, scope, lastWins(results, (r) => pairKey(r.from, r.to)).map((e) => ({ label: 'RELATES_TO' as const, ...e })));
      return results;
    });
  }

  async forkScope(fromScope: string, toScope: string, tx?: Queryable): Promise<ForkResult> {
    validateId(fromScope, 'fromScope');
    validateId(toScope, 'toScope');
    return this.#write(tx, toScope, async (q) => {
      const existing = (await cypher(q, CYPHER.countScope, ['n'], { scope: toScope }))[0]?.[0] ?? 0;
      if (int(existing, 'count') > 0) throw new StorytellerError('GRAPH_SCOPE_EXISTS', `graph scope ${JSON.stringify(toScope)} already has vertices`);
      const { rows } = await q.query<{ vertices: string; edges: string }>(forkScopeSql(), [JSON.stringify(fromScope), agtypeParams({ scope: toScope })]);
      const vertices = Number(rows[0]!.vertices);
      const edges = Number(rows[0]!.edges);
      // Nothing was written (and the caller's transaction, or ours, rolls back on the throw).
      if (vertices === 0) throw new StorytellerError('GRAPH_SCOPE_NOT_FOUND', `graph scope ${JSON.stringify(fromScope)} has no vertices to copy`);
      await refreshStatistics(q, vertices + edges, LABEL_TABLES);
      return { vertices, edges };
    });
  }

  async deleteScope(scope: string, tx?: Queryable): Promise<number> {
    validateId(scope, 'scope');
    return this.#write(tx, scope, async (q) => {
      const n = (await cypher(q, CYPHER.countScope, ['n'], { scope }))[0]?.[0] ?? 0;
      await cypher(q, CYPHER.deleteScope, ['nothing'], { scope });
      return int(n, 'count');
    });
  }

  // ------------------------------------------------------------------ relational web

  async relationalSubgraph(scope: string, castIds: readonly string[]): Promise<RelationalSubgraph> {
    validateId(scope, 'scope');
    const ids = validateIds(castIds, 'castIds');
    if (ids.length === 0) return { characters: [], edges: [] };
    const size = idListSize(ids.length);
    const params = { scope, ...idListParams('ids', ids, size) };
    return this.#read(async (q) =>
      subgraphOf(await cypher(q, CYPHER.characters(size), ['v'], params), await cypher(q, CYPHER.relationsAmong(size), ['from_id', 'to_id', 'r'], params)),
    );
  }

  async shortestRelationalPath(scope: string, fromId: string, toId: string): Promise<RelationalPath | null> {
    validateId(scope, 'scope');
    const from = validateId(fromId, 'fromId');
    const to = validateId(toId, 'toId');
    const ids = await findShortestRelationalPath(from, to, (frontier) =>
      this.#read(async (q) =>
        (await cypher(q, CYPHER.neighbours(idListSize(frontier.length)), ['a', 'b'], { scope, ...idListParams('ids', frontier) })).map(([a, b]) => [str(a!, 'id'), str(b!, 'id')] as const),
      ),
    );
    if (!ids) return null;
    const { edges } = await this.relationalSubgraph(scope, ids);
    return { characterIds: ids, hops: ids.length - 1, edges: pathEdges(ids, edges) };
  }

  async trustingCharacters(scope: string, targetId: string, thresholds?: TrustThresholds): Promise<TrustingCharacter[]> {
    validateId(scope, 'scope');
    const target = validateId(targetId, 'targetId');
    const { minCompetence, minBenevolence } = resolveThresholds(thresholds);
    const rows = await this.#read((q) =>
      cypher(q, CYPHER.trusting, ['a', 'r'], { scope, target, min_competence: minCompetence, min_benevolence: minBenevolence }),
    );
    return rows
      .map(([a, r]) => {
        const character = named(a!, 'character');
        return { character, edge: { from: character.id, to: target, ...stored(relationProps, asEdge(r!, 'RELATES_TO').properties, 'RELATES_TO properties') } };
      })
      .sort(
        (x, y) =>
          y.edge.trust_competence - x.edge.trust_competence ||
          y.edge.trust_benevolence - x.edge.trust_benevolence ||
          compareIds(x.character.id, y.character.id),
      );
  }

  // ------------------------------------------------------------------ narrative graph

  async reachableScenes(scope: string, sceneId: string, maxHops?: number): Promise<ReachableScene[]> {
    validateId(scope, 'scope');
    const id = validateId(sceneId, 'sceneId');
    const hops = validateMaxHops(maxHops);
    return this.#read((q) => this.#reachable(q, scope, id, hops));
  }

  async #reachable(q: Queryable, scope: string, id: string, maxHops: 1 | 2 | 3): Promise<ReachableScene[]> {
    return reachableOf(await cypher(q, CYPHER.reachableScenes(maxHops), REACHABLE_COLUMNS.slice(0, maxHops), { scope, id }));
  }

  async tenseScenesAhead(scope: string, sceneId: string): Promise<TenseScene[]> {
    validateId(scope, 'scope');
    const id = validateId(sceneId, 'sceneId');
    return this.#read(async (q) => {
      const ahead = await this.#reachable(q, scope, id, 2);
      const castIds = [...new Set(ahead.flatMap((a) => a.scene.castIds))];
      if (castIds.length === 0) return [];
      const tense = (
        await cypher(q, CYPHER.tenseAmong(idListSize(castIds.length)), ['from_id', 'to_id'], {
          scope,
          ...idListParams('ids', castIds),
          tension_competence: TENSION_TRUST_COMPETENCE_BELOW,
          tension_debt: TENSION_DEBT_ABOVE,
        })
      ).map(([a, b]) => [str(a!, 'id'), str(b!, 'id')] as const);
      return ahead
        .map(({ scene, hops }) => {
          const cast = new Set(scene.castIds);
          return { scene, hops, tensionEdges: tense.filter(([a, b]) => cast.has(a) && cast.has(b)).length };
        })
        .filter((t) => t.tensionEdges > 0)
        .sort((a, b) => b.tensionEdges - a.tensionEdges || a.hops - b.hops || compareIds(a.scene.id, b.scene.id));
    });
  }

  // ------------------------------------------------------------------ setting topology

  async adjacentSettings(scope: string, settingId: string): Promise<AdjacentSetting[]> {
    validateId(scope, 'scope');
    const id = validateId(settingId, 'settingId');
    return adjacentOf(await this.#read((q) => cypher(q, CYPHER.adjacentSettings, ['n', 'cost'], { scope, id })));
  }

  async scenesNearSetting(scope: string, settingId: string): Promise<SceneNearSetting[]> {
    validateId(scope, 'scope');
    const id = validateId(settingId, 'settingId');
    const rows = await this.#read((q) => cypher(q, CYPHER.scenesNearSetting, ['n', 'sc', 'hops'], { scope, id }));
    const hopsBySetting = new Map<string, number>();
    const pairs = new Map<string, Omit<SceneNearSetting, 'hops'>>();
    for (const [n, sc, length] of rows) {
      const setting = named(n!, 'setting');
      if (setting.id === id) continue; // a cycle back to the start setting
      const scene = sceneOf(sc!);
      const hops = int(length!, 'hop count');
      hopsBySetting.set(setting.id, Math.min(hops, hopsBySetting.get(setting.id) ?? Infinity));
      pairs.set(`${setting.id}\u0000${scene.id}`, { setting, scene });
    }
    return [...pairs.values()]
      .map((p) => ({ ...p, hops: hopsBySetting.get(p.setting.id)! }))
      .sort((a, b) => a.hops - b.hops || compareIds(a.setting.id, b.setting.id) || compareIds(a.scene.id, b.scene.id));
  }

  // ------------------------------------------------------------------ graph ↔ SQL

  async tensionWithSnapshots(scope: string, sessionId: string): Promise<TensionWithSnapshot[]> {
    validateId(scope, 'scope');
    const session = validateUuid(sessionId);
    // One round trip: the Cypher result is a CTE joined to entity_snapshots (seed: "Graph ↔ SQL Integration").
    const sql = `WITH tp AS (${cypherSelect(CYPHER.tensePairs, ['from_id', 'to_id', 'r'], '$1')})
      SELECT tp.from_id, tp.to_id, tp.r, f.components AS from_components, t.components AS to_components
      FROM tp
      JOIN public.entity_snapshots f ON f.session_id = $2::uuid AND f.entity_id = tp.from_id::text
      LEFT JOIN public.entity_snapshots t ON t.session_id = $2::uuid AND t.entity_id = tp.to_id::text`;
    const params = [agtypeParams({ scope, tension_competence: TENSION_TRUST_COMPETENCE_BELOW, tension_debt: TENSION_DEBT_ABOVE }), session];
    const { rows } = await this.#read((q) =>
      q.query<{ from_id: string; to_id: string; r: string; from_components: unknown; to_components: unknown }>(sql, params),
    );
    return rows
      .map((row) => ({
        edge: relationOf(parseAgtype(row.from_id), parseAgtype(row.to_id), parseAgtype(row.r)),
        fromComponents: row.from_components,
        toComponents: row.to_components ?? null,
      }))
      .sort((a, b) => compareIds(a.edge.from, b.edge.from) || compareIds(a.edge.to, b.edge.to));
  }

  /** Ends the store's own connections (the database it was opened on stays open). */
  async close(): Promise<void> {
    await this.#connections.close?.();
  }

  // ------------------------------------------------------------------ plumbing

  async #upsertVertices(q: Queryable, scope: string, label: VertexLabel, batch: readonly VertexInput[]): Promise<void> {
    // agtype text: JSON (a JSON number without a fraction reads back as an agtype integer, as a Cypher parameter would).
    const props = batch.map((v) =>
      JSON.stringify(
        v.label === 'Scene'
          ? { scope, id: v.id, name: v.name, scene_type: v.sceneType, authored_mass: v.authoredMass, cast_ids: v.castIds }
          : { scope, id: v.id, name: v.name },
      ),
    );
    const ids = batch.map((v) => JSON.stringify(v.id));
    const { rows } = await q.query<{ id: string }>(updateVerticesSql(label), [JSON.stringify(scope), ids, props]);
    const updated = new Set(rows.map((r) => r.id)); // agtype::text of a string is the string itself
    const created = props.filter((_, i) => !updated.has(batch[i]!.id));
    if (created.length > 0) await q.query(insertVerticesSql(label), [created]);
  }

  /** Update in place what exists, create the rest; an edge whose endpoint is missing fails the write. */
  async #upsertEdges(q: Queryable, scope: string, edges: readonly EdgeInput[]): Promise<void> {
    for (const batch of groupBy(edges, (e) => `${e.label}\u0000${edgeEndpoints(e).fromLabel}`).values()) {
      const { fromLabel, toLabel } = edgeEndpoints(batch[0]!);
      const label = batch[0]!.label;
      const props = batch.map((e) =>
        JSON.stringify(e.label === 'RELATES_TO' ? clampValues(pickValues(e)) : e.label === 'ADJACENT_TO' ? { traversal_cost: e.traversalCost } : {}),
      );
      const { rows } = await q.query<{ from_id: string; to_id: string }>(upsertEdgesSql(label, fromLabel, toLabel), [
        JSON.stringify(scope),
        batch.map((e) => JSON.stringify(e.from)),
        batch.map((e) => JSON.stringify(e.to)),
        props,
      ]);
      const missing = rows[0];
      if (missing) {
        const [from, to] = [missing.from_id, missing.to_id]; // raw strings (agtype::text)
        throw new StorytellerError(
          'GRAPH_VERTEX_NOT_FOUND',
          `${label} ${JSON.stringify(from)} → ${JSON.stringify(to)}: an endpoint (${fromLabel} → ${toLabel}) is missing from the scope`,
        );
      }
    }
  }

  async #read<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    try {
      return await this.#connections.run(fn);
    } catch (error) {
      throw mapAgeError(error);
    }
  }

  /** Writes hold the scope's advisory lock: update-then-create must not race another writer. */
  async #write<T>(tx: Queryable | undefined, scope: string, fn: (q: Queryable) => Promise<T>): Promise<T> {
    const locked = async (q: Queryable) => {
      await q.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`storyteller-graph:${scope}`]);
      return fn(q);
    };
    try {
      if (!tx) return await this.#connections.run(locked, { transaction: true });
      const restore = await this.#connections.joinTransaction(tx);
      const result = await locked(tx);
      await restore();
      return result;
    } catch (error) {
      throw mapAgeError(error);
    }
  }
}

async function cypher(q: Queryable, text: string, columns: string[], params: Record<string, unknown>): Promise<AgValue[][]> {
  const statement = cypherStatement(text, columns, params);
  const { rows } = await q.query<Record<string, string | null>>(statement.sql, statement.params);
  return rows.map((row) => columns.map((c) => parseAgtype(row[c] ?? null)));
}

const pairKey = (from: string, to: string) => `${from}\u0000${to}`;

const REACHABLE_COLUMNS = ['f1', 'f2', 'f3'];

function subgraphOf(characterRows: AgValue[][], edgeRows: AgValue[][]): RelationalSubgraph {
  return {
    characters: characterRows.map(([v]) => named(v!, 'character')).sort((x, y) => compareIds(x.id, y.id)),
    edges: edgeRows.map(([a, b, r]) => relationOf(a!, b!, r!)).sort((x, y) => compareIds(x.from, y.from) || compareIds(x.to, y.to)),
  };
}

/** One row per walk (f1, f2, f3: the scenes 1, 2, 3 hops along it; null past a dead end); each scene's fewest hops. */
function reachableOf(rows: AgValue[][]): ReachableScene[] {
  const best = new Map<string, ReachableScene>();
  for (const row of rows) {
    row.forEach((f, i) => {
      if (f === null) return;
      const scene = sceneOf(f!);
      const seen = best.get(scene.id);
      if (!seen || i + 1 < seen.hops) best.set(scene.id, { scene, hops: i + 1 });
    });
  }
  return [...best.values()].sort((a, b) => a.hops - b.hops || compareIds(a.scene.id, b.scene.id));
}

function adjacentOf(rows: AgValue[][]): AdjacentSetting[] {
  return rows
    .map(([n, cost]) => ({ setting: named(n!, 'setting'), traversalCost: stored(z.number(), cost, 'traversal_cost') }))
    .sort((a, b) => a.traversalCost - b.traversalCost || compareIds(a.setting.id, b.setting.id));
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** A write of at least this many rows may have changed the label tables' statistics enough to matter. */
const BULK_ROWS = 100;

/**
 * Refreshes the planner statistics of label tables a bulk write (story load, fork) has
 * grown by a tenth or more: AGE's plans follow them, and a new scope is otherwise unknown
 * to the planner (tension_with_snapshots took 71–324 ms on a fresh session scope, ~20 ms
 * after ANALYZE). Small tables' ANALYZE costs milliseconds; once the tables hold many
 * scopes, one more scope no longer moves them and this is skipped. Runs in the write's
 * transaction (ANALYZE may; it sees the transaction's own rows).
 */
async function refreshStatistics(q: Queryable, written: number, labels: readonly string[]): Promise<void> {
  if (written < BULK_ROWS) return;
  const { rows } = await q.query<{ relname: string; reltuples: number }>(
    `SELECT c.relname, c.reltuples
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = ANY($2::text[])`,
    [AGE_GRAPH, labels],
  );
  for (const { relname, reltuples } of rows) {
    // reltuples is -1 before the first ANALYZE; the write added up to `written` rows to this table.
    if (reltuples < 0 || written * 10 >= reltuples) await q.query(`ANALYZE ${AGE_GRAPH}."${relname}"`);
  }
}

function mapAgeError(error: unknown): unknown {
  if (isStorytellerError(error)) return error;
  return new StorytellerError('GRAPH_QUERY_FAILED', `AGE graph query failed: ${(error as Error).message}`, { cause: error });
}
