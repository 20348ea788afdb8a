import { AGE_GRAPH } from './age-cypher.ts';
import { EDGE_LABELS, VERTEX_LABELS } from './graph-store.ts';

const table = (label: string) => `${AGE_GRAPH}."${label}"`;

/**
 * Copies a scope at the level of AGE's label tables, in one statement: each vertex of the
 * source scope gets a new graph id from its label's sequence (as AGE's own CREATE does) and
 * its properties with `scope` replaced (agtype `||`, AGE ≥ 1.5); each edge whose two
 * endpoints were copied is inserted between the copies with its properties unchanged.
 * Cypher would need one CREATE per edge matching both endpoints, 20–30 s for a
 * 1,000-character story; this is a few hundred milliseconds.
 *
 * Parameters: $1 the source scope as an agtype map `{"scope": …}`, $2 the replacement the
 * same way. Labels come from the seed's closed lists; no value is in the text.
 * Returns one row `{ vertices, edges }` (counts as text, bigint).
 */
export function forkScopeSql(): string {
  const vertexCtes = VERTEX_LABELS.map(
    (label, i) =>
      `v${i} AS (SELECT id AS old_id, ag_catalog._graphid(ag_catalog._label_id('${AGE_GRAPH}', '${label}')::integer, nextval('${AGE_GRAPH}."${label}_id_seq"')) AS new_id, properties
        FROM ${table(label)} WHERE properties @> $1::ag_catalog.agtype),
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

/** The label tables a fork or bulk load writes, for refreshing their planner statistics. */
export const LABEL_TABLES: readonly string[] = [...VERTEX_LABELS, ...EDGE_LABELS];
