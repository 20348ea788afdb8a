import { StorytellerError } from '../../errors.ts';
import { agtypeParams } from './agtype.ts';
import { EDGE_LABELS, VERTEX_LABELS, type EdgeLabel, type VertexLabel } from './graph-store.ts';

/** The one AGE graph holding all three structures (seed: "Schema Organization in Apache AGE"). */
export const AGE_GRAPH = 'storyteller';

/**
 * Per connection before any cypher() call: the extension's parser hook is installed by
 * loading the library, and unqualified AGE names resolve through ag_catalog. Our own
 * statements qualify every AGE name (ag_catalog.cypher, ag_catalog.agtype), so they also
 * work inside a caller's transaction with only `LOAD 'age'` run.
 */
export const AGE_SESSION_SETUP = [`LOAD 'age'`, `SET search_path = ag_catalog, "$user", public`] as const;

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

function vertexLabel(label: string): VertexLabel {
  if (!(VERTEX_LABELS as readonly string[]).includes(label)) throw new StorytellerError('GRAPH_QUERY_FAILED', `unknown vertex label ${label}`);
  return label as VertexLabel;
}

function edgeLabel(label: string): EdgeLabel {
  if (!(EDGE_LABELS as readonly string[]).includes(label)) throw new StorytellerError('GRAPH_QUERY_FAILED', `unknown edge label ${label}`);
  return label as EdgeLabel;
}

const SCENE_SET = 'v.name = $name, v.scene_type = $scene_type, v.authored_mass = $authored_mass, v.cast_ids = $cast_ids';
const SCENE_CREATE = 'scope: $scope, id: $id, name: $name, scene_type: $scene_type, authored_mass: $authored_mass, cast_ids: $cast_ids';
const RELATION_SET =
  'r.trust_reliability = $trust_reliability, r.trust_competence = $trust_competence, r.trust_benevolence = $trust_benevolence, r.affection = $affection, r.debt = $debt';
const RELATION_CREATE =
  '{trust_reliability: $trust_reliability, trust_competence: $trust_competence, trust_benevolence: $trust_benevolence, affection: $affection, debt: $debt}';

/**
 * Every Cypher text the AGE store runs. Functions take only labels (checked against the
 * seed's label lists) or a hop count (1..3); nothing else is ever spliced in.
 */
export const CYPHER = {
  /** Upsert, step 1: update in place; no row back means the vertex is new. */
  updateVertex(label: VertexLabel): string {
    const l = vertexLabel(label);
    return `MATCH (v:${l} {scope: $scope, id: $id}) SET ${l === 'Scene' ? SCENE_SET : 'v.name = $name'} RETURN id(v)`;
  },
  /** Upsert, step 2 (under the scope's advisory lock, so two writers cannot both create). */
  createVertex(label: VertexLabel): string {
    const l = vertexLabel(label);
    return `CREATE (v:${l} {${l === 'Scene' ? SCENE_CREATE : 'scope: $scope, id: $id, name: $name'}}) RETURN id(v)`;
  },
  updateEdge(label: EdgeLabel, fromLabel: VertexLabel, toLabel: VertexLabel): string {
    const e = edgeLabel(label);
    const set = e === 'RELATES_TO' ? ` SET ${RELATION_SET}` : e === 'ADJACENT_TO' ? ' SET r.traversal_cost = $traversal_cost' : '';
    return `MATCH (a:${vertexLabel(fromLabel)} {scope: $scope, id: $from})-[r:${e}]->(b:${vertexLabel(toLabel)} {scope: $scope, id: $to})${set} RETURN id(r)`;
  },
  /** No row back means an endpoint is missing. */
  createEdge(label: EdgeLabel, fromLabel: VertexLabel, toLabel: VertexLabel): string {
    const e = edgeLabel(label);
    const props = e === 'RELATES_TO' ? ` ${RELATION_CREATE}` : e === 'ADJACENT_TO' ? ' {traversal_cost: $traversal_cost}' : '';
    return `MATCH (a:${vertexLabel(fromLabel)} {scope: $scope, id: $from}), (b:${vertexLabel(toLabel)} {scope: $scope, id: $to}) CREATE (a)-[r:${e}${props}]->(b) RETURN id(r)`;
  },
  verticesOfScope(label: VertexLabel): string {
    return `MATCH (v:${vertexLabel(label)} {scope: $scope}) RETURN v`;
  },
  edgesOfScope(label: EdgeLabel, fromLabel: VertexLabel, toLabel: VertexLabel): string {
    return `MATCH (a:${vertexLabel(fromLabel)} {scope: $scope})-[r:${edgeLabel(label)}]->(b:${vertexLabel(toLabel)}) RETURN a.id, b.id, r`;
  },
  countScope: 'MATCH (v) WHERE v.scope = $scope RETURN count(v)',
  deleteScope: 'MATCH (v) WHERE v.scope = $scope DETACH DELETE v',
  characters: 'MATCH (v:Character {scope: $scope}) WHERE v.id IN $ids RETURN v',
  relationsAmong: 'MATCH (a:Character {scope: $scope})-[r:RELATES_TO]->(b:Character) WHERE a.id IN $ids AND b.id IN $ids RETURN a.id, b.id, r',
  relationsBetween:
    'MATCH (a:Character {scope: $scope})-[r:RELATES_TO]->(b:Character) WHERE a.id IN $from_ids AND b.id IN $to_ids RETURN a.id, b.id, r',
  neighbours: 'MATCH (a:Character {scope: $scope})-[:RELATES_TO]-(b:Character) WHERE a.id IN $ids RETURN DISTINCT a.id, b.id',
  trusting:
    'MATCH (a:Character {scope: $scope})-[r:RELATES_TO]->(b:Character {scope: $scope, id: $target}) WHERE r.trust_competence > $min_competence AND r.trust_benevolence > $min_benevolence RETURN a, r',
  reachableScenes(maxHops: 1 | 2 | 3): string {
    if (![1, 2, 3].includes(maxHops)) throw new StorytellerError('GRAPH_QUERY_FAILED', `bad hop count ${String(maxHops)}`);
    // The hop count is the length of the returned edge list (plain `RETURN e` of a variable-length
    // match is long-standing AGE; functions over it arrived later).
    return `MATCH (s:Scene {scope: $scope, id: $id})-[e:LEADS_TO*1..${maxHops}]->(f:Scene) RETURN f, e`;
  },
  tenseAmong:
    'MATCH (a:Character {scope: $scope})-[r:RELATES_TO]->(b:Character) WHERE a.id IN $ids AND b.id IN $ids AND (r.trust_competence < $tension_competence OR r.debt > $tension_debt) RETURN a.id, b.id',
  adjacentSettings: 'MATCH (s:Setting {scope: $scope, id: $id})-[r:ADJACENT_TO]->(n:Setting) RETURN n, r.traversal_cost',
  scenesNearSetting: 'MATCH (s:Setting {scope: $scope, id: $id})-[e:ADJACENT_TO*1..2]->(n:Setting), (sc:Scene)-[:SCENE_AT]->(n) RETURN n, sc, e',
  tensePairs:
    'MATCH (a:Character {scope: $scope})-[r:RELATES_TO]->(b:Character) WHERE r.trust_competence < $tension_competence OR r.debt > $tension_debt RETURN a.id, b.id, r',
} as const;

/** The graph, its labels and the indexes AGE does not make by itself (property GIN, edge endpoints). */
export function ageSchemaStatements(): Array<{ kind: 'vlabel' | 'elabel'; label: string; indexes: string[] }> {
  const q = (s: string) => `"${s}"`;
  return [
    ...VERTEX_LABELS.map((label) => ({
      kind: 'vlabel' as const,
      label,
      indexes: [
        `CREATE INDEX IF NOT EXISTS ${q(`${label}_properties`)} ON ${AGE_GRAPH}.${q(label)} USING gin (properties)`,
        `CREATE INDEX IF NOT EXISTS ${q(`${label}_id`)} ON ${AGE_GRAPH}.${q(label)} (id)`,
      ],
    })),
    ...EDGE_LABELS.map((label) => ({
      kind: 'elabel' as const,
      label,
      indexes: [
        `CREATE INDEX IF NOT EXISTS ${q(`${label}_start`)} ON ${AGE_GRAPH}.${q(label)} (start_id)`,
        `CREATE INDEX IF NOT EXISTS ${q(`${label}_end`)} ON ${AGE_GRAPH}.${q(label)} (end_id)`,
      ],
    })),
  ];
}
