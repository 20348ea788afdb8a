import { StorytellerError } from '../../errors.ts';
import { agtypeParams } from './agtype.ts';

/** The one AGE graph holding all three structures (seed: "Schema Organization in Apache AGE"). */
export const AGE_GRAPH = 'storyteller';

/**
 * AGE's generated SQL names its operators and functions unqualified (`agtype @> agtype`
 * fails with "operator does not exist" unless ag_catalog is on the search_path), so every
 * connection running cypher() needs ag_catalog first on its search_path — `LOAD 'age'`
 * alone is not enough. The store's own pool gets it as a connection option; a caller's
 * transaction gets it transaction-locally (`PoolAgeConnections.joinTransaction`).
 */
export const AGE_SEARCH_PATH = 'ag_catalog, "$user", public';
/** Installs AGE's parser hook in the backend (a no-op where shared_preload_libraries has it). */
export const AGE_LOAD = `LOAD 'age'`;
/**
 * libpq start-up options of the store's pool: the search_path above; JIT off — AGE's cost
 * estimates (0.6–4 M) exceeded PostgreSQL's JIT thresholds, and compiling took 300–425 ms
 * per statement for 1–5 ms of work; and random_page_cost 1.1 (the usual value for data in
 * memory or on SSD) — with the default 4 the planner answered a 32- or 128-id list by hash
 * joins over whole label tables instead of index probes (at 1,000 characters, 128 ids:
 * 31.8 ms against 6.4 ms). These settings reach only the store's own connections.
 */
export const AGE_SESSION_OPTIONS = '-c search_path=ag_catalog,"$user",public -c jit=off -c random_page_cost=1.1';

export interface CypherStatement {
  sql: string;
  /** Exactly one parameter: the agtype map the Cypher text refers to as $name. */
  params: [string];
}

const COLUMN = /^[a-z_][a-z0-9_]*$/;

/**
 * Wraps a Cypher template in `SELECT * FROM ag_catalog.cypher('storyteller', $$…$$, $1)`.
 * The template is fixed program text (labels come from the closed label lists); every
 * value — ids, names, numbers, lists — travels in `params` as the agtype map bound to $1,
 * so user text is never parsed as Cypher or SQL.
 *
 * @example
 * cypherStatement('MATCH (v:Character {scope: $scope, id: $id}) RETURN v', ['v'], { scope: 's', id: "o'reilly" })
 */
export function cypherStatement(cypher: string, columns: readonly string[], params: Record<string, unknown>): CypherStatement {
  return { sql: cypherSelect(cypher, columns, '$1'), params: [agtypeParams(params)] };
}

/** The `SELECT … FROM cypher(…)` text alone, for embedding in a larger SQL statement (graph ↔ SQL joins). */
export function cypherSelect(cypher: string, columns: readonly string[], paramRef: `$${number}`): string {
  if (cypher.includes('$$')) throw new StorytellerError('GRAPH_QUERY_FAILED', 'a Cypher template must not contain $$');
  if (columns.length === 0 || !columns.every((c) => COLUMN.test(c))) {
    throw new StorytellerError('GRAPH_QUERY_FAILED', `bad cypher result columns: ${columns.join(', ')}`);
  }
  return `SELECT * FROM ag_catalog.cypher('${AGE_GRAPH}', $$ ${cypher} $$, ${paramRef}) AS (${columns.map((c) => `${c} ag_catalog.agtype`).join(', ')})`;
}

/**
 * Id lists as list literals of parameters, `v.id IN [$ids_0, …]`: AGE compiles that to
 * `= ANY(array)`, which the (scope, id) index answers (0.2 ms for a cast), while a list
 * parameter `v.id IN $ids` becomes a filter over every character of the scope (1.6 ms at
 * 1,000 characters, ten times that at 10,000; a 128-id list 17.8 ms at 1,000). Lists are
 * padded with their first id to 8, 32, 128 or 512 slots, so there are few texts; beyond
 * 512 the list parameter is used with a `{scope: $scope}` property map (a filter over the
 * scope, driven from it).
 */
export const ID_LIST_SIZES = [8, 32, 128, 512] as const;
export type IdListSize = (typeof ID_LIST_SIZES)[number] | 'list';

export function idListSize(count: number): IdListSize {
  return ID_LIST_SIZES.find((size) => count <= size) ?? 'list';
}

/** The parameter entries for `idList(name, size)`: `{ name_0: …, … }` padded, or `{ name: ids }`. */
export function idListParams(name: string, ids: readonly string[], size: IdListSize = idListSize(ids.length)): Record<string, string | string[]> {
  if (size === 'list') return { [name]: [...ids] };
  if (ids.length === 0 || ids.length > size) throw new StorytellerError('GRAPH_QUERY_FAILED', `an id list of ${ids.length} does not fit ${size} slots`);
  return Object.fromEntries(Array.from({ length: size }, (_, i) => [`${name}_${i}`, ids[i] ?? ids[0]!]));
}

/** A Character node pattern and its scope condition, by list form (see above). */
const inScope = (v: 'a' | 'v', size: IdListSize) => (size === 'list' ? `(${v}:Character {scope: $scope})` : `(${v}:Character)`);
const scoped = (v: 'a' | 'v', size: IdListSize) => (size === 'list' ? '' : `${v}.scope = $scope AND `);

function idList(name: 'ids' | 'from_ids' | 'to_ids', size: IdListSize): string {
  if (size === 'list') return `$${name}`;
  if (!ID_LIST_SIZES.includes(size)) throw new StorytellerError('GRAPH_QUERY_FAILED', `bad id list size ${String(size)}`);
  return `[${Array.from({ length: size }, (_, i) => `$${name}_${i}`).join(', ')}]`;
}

/**
 * Every Cypher text the AGE store runs. Functions take only labels (checked against the
 * seed's label lists) or a hop count (1..3); nothing else is ever spliced in.
 *
 * Writes do not use Cypher: see `age-label-tables.ts`. Start vertices are found with
 * `WHERE s.scope = $scope AND s.id = $id`, which the (scope, id) btree index serves; a
 * property map `{scope: …, id: …}` compiles to a GIN containment test that AGE's planner
 * estimates at one row whatever the data. Variable-length matches are avoided: AGE answers
 * them from a whole-graph cache that every write to the graph, in any scope, invalidates
 * (~90 ms to rebuild at one 1,000-character scope); fixed-length patterns are plain index
 * joins. Undirected `-[]-` is avoided too: AGE plans it as a nested loop over every edge
 * with an OR on both endpoints (366 ms per frontier at 1,000 characters).
 */
export const CYPHER = {
  countScope: 'MATCH (v) WHERE v.scope = $scope RETURN count(v)',
  deleteScope: 'MATCH (v) WHERE v.scope = $scope DETACH DELETE v',
  characters: (size: IdListSize) => `MATCH ${inScope('v', size)} WHERE ${scoped('v', size)}v.id IN ${idList('ids', size)} RETURN v`,
  relationsAmong: (size: IdListSize) =>
    `MATCH ${inScope('a', size)}-[r:RELATES_TO]->(b:Character) WHERE ${scoped('a', size)}a.id IN ${idList('ids', size)} AND b.id IN ${idList('ids', size)} RETURN a.id, b.id, r`,
  /** `size` fits both lists. */
  relationsBetween: (size: IdListSize) =>
    `MATCH ${inScope('a', size)}-[r:RELATES_TO]->(b:Character) WHERE ${scoped('a', size)}a.id IN ${idList('from_ids', size)} AND b.id IN ${idList('to_ids', size)} RETURN a.id, b.id, r`,
  /** Both directions as two directed matches (see above); UNION ALL: the path search keeps sets, so a pair joined both ways may come twice. */
  neighbours: (size: IdListSize) =>
    `MATCH ${inScope('a', size)}-[:RELATES_TO]->(b:Character) WHERE ${scoped('a', size)}a.id IN ${idList('ids', size)} RETURN a.id, b.id UNION ALL MATCH ${inScope('a', size)}<-[:RELATES_TO]-(b:Character) WHERE ${scoped('a', size)}a.id IN ${idList('ids', size)} RETURN a.id, b.id`,
  trusting:
    'MATCH (a:Character)-[r:RELATES_TO]->(b:Character) WHERE b.scope = $scope AND b.id = $target AND a.scope = $scope AND r.trust_competence > $min_competence AND r.trust_benevolence > $min_benevolence RETURN a, r',
  /**
   * Scenes 1..maxHops ahead as a chain of OPTIONAL MATCHes: one row per walk, `f1` one hop
   * ahead, `f2` two, `f3` three (null past a dead end). The fewest hops over walks equal the
   * fewest over edge-distinct paths (a shortest walk never repeats an edge).
   */
  reachableScenes(maxHops: 1 | 2 | 3): string {
    if (![1, 2, 3].includes(maxHops)) throw new StorytellerError('GRAPH_QUERY_FAILED', `bad hop count ${String(maxHops)}`);
    const columns = ['f1', 'f2', 'f3'].slice(0, maxHops);
    const further = columns.slice(1).map((f, i) => ` OPTIONAL MATCH (${columns[i]!})-[:LEADS_TO]->(${f}:Scene)`).join('');
    return `MATCH (s:Scene)-[:LEADS_TO]->(f1:Scene) WHERE s.scope = $scope AND s.id = $id${further} RETURN ${columns.join(', ')}`;
  },
  tenseAmong: (size: IdListSize) =>
    `MATCH ${inScope('a', size)}-[r:RELATES_TO]->(b:Character) WHERE ${scoped('a', size)}a.id IN ${idList('ids', size)} AND b.id IN ${idList('ids', size)} AND (r.trust_competence < $tension_competence OR r.debt > $tension_debt) RETURN a.id, b.id`,
  adjacentSettings: 'MATCH (s:Setting)-[r:ADJACENT_TO]->(n:Setting) WHERE s.scope = $scope AND s.id = $id RETURN n, r.traversal_cost',
  /** The seed's `-[:ADJACENT_TO*1..2]->` as its two fixed lengths (edge-distinct within each pattern, like the variable-length match). */
  scenesNearSetting:
    'MATCH (s:Setting)-[:ADJACENT_TO]->(n:Setting)<-[:SCENE_AT]-(sc:Scene) WHERE s.scope = $scope AND s.id = $id RETURN n, sc, 1 UNION ALL MATCH (s:Setting)-[:ADJACENT_TO]->(:Setting)-[:ADJACENT_TO]->(n:Setting)<-[:SCENE_AT]-(sc:Scene) WHERE s.scope = $scope AND s.id = $id RETURN n, sc, 2',
  tensePairs:
    'MATCH (a:Character {scope: $scope})-[r:RELATES_TO]->(b:Character) WHERE r.trust_competence < $tension_competence OR r.debt > $tension_debt RETURN a.id, b.id, r',
} as const;
