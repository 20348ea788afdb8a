import { StorytellerError } from '../../errors.ts';
import { AGE_GRAPH } from './age-cypher.ts';
import { EDGE_LABELS, TENSION_DEBT_ABOVE, TENSION_TRUST_COMPETENCE_BELOW, VERTEX_LABELS, type EdgeLabel, type VertexLabel } from './graph-store.ts';

/**
 * Bulk writes at the level of AGE's label tables (each label is a table `storyteller."L"`
 * with `id graphid, properties agtype`, edges also `start_id, end_id`; AGE's own CREATE
 * and CSV loaders write the same rows). Why not Cypher: a batch needs `UNWIND $rows`, which
 * AGE's planner always sizes at 1,000 rows and `{scope: …}` property maps at 1 row, so an
 * 8-edge scene-exit batch was planned as hash joins over every edge of every scope
 * (7–26 ms) and a story load as one round trip per row (41 s). Here the batch travels as
 * SQL arrays (whose length the planner sees) and vertices are found through the btree
 * index on (scope, id) that `ageSchemaStatements` creates — the same expressions AGE's
 * Cypher `v.scope = $scope AND v.id = $id` compiles to, so Cypher reads use it too.
 *
 * Every value is a parameter; labels come from the seed's closed lists.
 */

/** A label's table; only the seed's labels (never data) reach SQL text. */
function table(label: string): string {
  if (!(VERTEX_LABELS as readonly string[]).includes(label) && !(EDGE_LABELS as readonly string[]).includes(label)) {
    throw new StorytellerError('GRAPH_QUERY_FAILED', `unknown graph label ${label}`);
  }
  return `${AGE_GRAPH}."${label}"`;
}

/** The SQL AGE generates for `v.<key>` in a WHERE clause; an index on exactly this expression serves both. */
export const propertyExpr = (alias: string | null, key: 'scope' | 'id') =>
  `ag_catalog.agtype_access_operator(VARIADIC ARRAY[${alias ? `${alias}.` : ''}properties, '"${key}"'::ag_catalog.agtype])`;

/** The (scope, id) index of a vertex label (created by `ageSchemaStatements`). */
export function scopeIdIndex(label: VertexLabel): string {
  return `CREATE INDEX IF NOT EXISTS "${label}_scope_id" ON ${table(label)} (${propertyExpr(null, 'scope')}, ${propertyExpr(null, 'id')})`;
}

/**
 * Vertex upsert, step 1: replace the properties of the batch's vertices that exist.
 * $1 scope (agtype string), $2 ids (agtype[] of strings), $3 full property maps (agtype[]).
 * Returns the ids updated (`agtype::text` of a string is the raw string).
 */
export function updateVerticesSql(label: VertexLabel): string {
  return `UPDATE ${table(label)} AS v SET properties = i.props
    FROM unnest($2::ag_catalog.agtype[], $3::ag_catalog.agtype[]) AS i(vid, props)
    WHERE ${propertyExpr('v', 'scope')} = $1::ag_catalog.agtype AND ${propertyExpr('v', 'id')} = i.vid
    RETURNING i.vid::text AS id`;
}

/** Vertex upsert, step 2: insert the new ones (graph ids from the label's sequence, the column default). $1 property maps (agtype[]). */
export function insertVerticesSql(label: VertexLabel): string {
  return `INSERT INTO ${table(label)} (properties) SELECT unnest($1::ag_catalog.agtype[])`;
}

/**
 * Edge upsert for one (label, from label, to label), in one statement: find both endpoints
 * in the scope, replace the properties of the edges that exist, insert the others.
 * $1 scope (agtype string), $2 source ids, $3 target ids (agtype[] of strings), $4 property
 * maps (agtype[]), aligned. Returns one row per input pair whose endpoints were not both
 * found (raw strings; none when the batch is complete); the caller fails and its transaction rolls back.
 */
export function upsertEdgesSql(label: EdgeLabel, fromLabel: VertexLabel, toLabel: VertexLabel): string {
  const e = table(label);
  return `WITH i AS (SELECT * FROM unnest($2::ag_catalog.agtype[], $3::ag_catalog.agtype[], $4::ag_catalog.agtype[]) WITH ORDINALITY AS i(f, t, props, n)),
     a AS (SELECT id, ${propertyExpr('v', 'id')} AS vid FROM ${table(fromLabel)} v WHERE ${propertyExpr('v', 'scope')} = $1::ag_catalog.agtype AND ${propertyExpr('v', 'id')} = ANY($2::ag_catalog.agtype[])),
     b AS (SELECT id, ${propertyExpr('v', 'id')} AS vid FROM ${table(toLabel)} v WHERE ${propertyExpr('v', 'scope')} = $1::ag_catalog.agtype AND ${propertyExpr('v', 'id')} = ANY($3::ag_catalog.agtype[])),
     p AS (SELECT i.n, a.id AS start_id, b.id AS end_id, i.props FROM i JOIN a ON a.vid = i.f JOIN b ON b.vid = i.t),
     -- Data-modifying CTEs run to completion unreferenced, on the statement's snapshot: \`inserted\` sees only edges that existed before.
     updated AS (UPDATE ${e} AS e SET properties = p.props FROM p WHERE e.start_id = p.start_id AND e.end_id = p.end_id),
     inserted AS (INSERT INTO ${e} (start_id, end_id, properties)
       SELECT p.start_id, p.end_id, p.props FROM p WHERE NOT EXISTS (SELECT 1 FROM ${e} x WHERE x.start_id = p.start_id AND x.end_id = p.end_id))
SELECT i.f::text AS from_id, i.t::text AS to_id FROM i WHERE NOT EXISTS (SELECT 1 FROM p WHERE p.n = i.n)`;
}

/**
 * Copies a scope in one statement: each vertex of the source scope gets a new graph id
 * from its label's sequence (as AGE's CREATE does) and its properties with `scope`
 * replaced (agtype `||`, AGE ≥ 1.5); each edge whose two endpoints were copied is inserted
 * between the copies with its properties unchanged. Cypher needed one CREATE per edge
 * (20–30 s for a 1,000-character story); this takes a few hundred milliseconds.
 *
 * $1 the source scope (agtype string), $2 `{"scope": <target>}` (agtype map).
 * Returns one row `{ vertices, edges }` (counts as text).
 */
export function forkScopeSql(): string {
  const vertexCtes = VERTEX_LABELS.map(
    (label, i) =>
      `v${i} AS (SELECT id AS old_id, ag_catalog._graphid(ag_catalog._label_id('${AGE_GRAPH}', '${label}')::integer, nextval('${AGE_GRAPH}."${label}_id_seq"')) AS new_id, properties
        FROM ${table(label)} v WHERE ${propertyExpr('v', 'scope')} = $1::ag_catalog.agtype),
     iv${i} AS (INSERT INTO ${table(label)} (id, properties) SELECT new_id, properties OPERATOR(ag_catalog.||) $2::ag_catalog.agtype FROM v${i} RETURNING 1)`,
  );
  const ids = `ids AS (${VERTEX_LABELS.map((_, i) => `SELECT old_id, new_id FROM v${i}`).join(' UNION ALL ')})`;
  const edgeCtes = EDGE_LABELS.map(
    (label, i) =>
      `ie${i} AS (INSERT INTO ${table(label)} (start_id, end_id, properties)
        SELECT a.new_id, b.new_id, e.properties FROM ${table(label)} e JOIN ids a ON a.old_id = e.start_id JOIN ids b ON b.old_id = e.end_id RETURNING 1)`,
  );
  const count = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `(SELECT count(*) FROM ${prefix}${i})`).join(' + ');
  return `WITH ${[...vertexCtes, ids, ...edgeCtes].join(',\n     ')}
SELECT (${count('iv', VERTEX_LABELS.length)})::text AS vertices, (${count('ie', EDGE_LABELS.length)})::text AS edges`;
}

/** The label tables a fork writes, for refreshing their planner statistics. */
export const LABEL_TABLES: readonly string[] = [...VERTEX_LABELS, ...EDGE_LABELS];

/**
 * Tense RELATES_TO edges by source: a partial index whose predicate is the SQL AGE compiles
 * `r.trust_competence < $tension_competence OR r.debt > $tension_debt` to, once the
 * parameters are folded in (AGE plans each call with its values). The tension queries then
 * skip the agtype property reads of every non-tense edge (19 → 12 ms for
 * tension_with_snapshots at 1,000 characters). Built from the thresholds in graph-store.ts;
 * if those change, the name changes with them, and an old index merely stops being used.
 */
export function tenseEdgesIndex(): string {
  const value = (x: number) => `'${JSON.stringify(x)}'::ag_catalog.agtype`;
  const name = `RELATES_TO_tense_${String(TENSION_TRUST_COMPETENCE_BELOW)}_${String(TENSION_DEBT_ABOVE)}`;
  const access = (key: string) => `ag_catalog.agtype_access_operator(VARIADIC ARRAY[properties, '"${key}"'::ag_catalog.agtype])`;
  return `CREATE INDEX IF NOT EXISTS "${name}" ON ${table('RELATES_TO')} (start_id)
    WHERE (${access('trust_competence')} OPERATOR(ag_catalog.<) ${value(TENSION_TRUST_COMPETENCE_BELOW)} OR ${access('debt')} OPERATOR(ag_catalog.>) ${value(TENSION_DEBT_ABOVE)})`;
}

/** The graph, its labels and the indexes AGE does not make by itself (property GIN, graph id, (scope, id), edge endpoints, tense edges). */
export function ageSchemaStatements(): Array<{ kind: 'vlabel' | 'elabel'; label: string; indexes: string[] }> {
  const q = (s: string) => `"${s}"`;
  return [
    ...VERTEX_LABELS.map((label) => ({
      kind: 'vlabel' as const,
      label,
      indexes: [
        `CREATE INDEX IF NOT EXISTS ${q(`${label}_properties`)} ON ${AGE_GRAPH}.${q(label)} USING gin (properties)`,
        `CREATE INDEX IF NOT EXISTS ${q(`${label}_id`)} ON ${AGE_GRAPH}.${q(label)} (id)`,
        scopeIdIndex(label),
      ],
    })),
    ...EDGE_LABELS.map((label) => ({
      kind: 'elabel' as const,
      label,
      indexes: [
        `CREATE INDEX IF NOT EXISTS ${q(`${label}_start`)} ON ${AGE_GRAPH}.${q(label)} (start_id)`,
        `CREATE INDEX IF NOT EXISTS ${q(`${label}_end`)} ON ${AGE_GRAPH}.${q(label)} (end_id)`,
        ...(label === 'RELATES_TO' ? [tenseEdgesIndex()] : []),
      ],
    })),
  ];
}
