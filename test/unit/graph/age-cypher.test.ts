import { describe, expect, it } from 'vitest';
import { isStorytellerError } from '../../../src/errors.ts';
import { AGE_SEARCH_PATH, AGE_SESSION_OPTIONS, CYPHER, cypherSelect, cypherStatement, ID_LIST_SIZES, idListParams } from '../../../src/persistence/graph/age-cypher.ts';
import { EDGE_SHAPES } from '../../../src/persistence/graph/age-graph-store.ts';
import {
  ageSchemaStatements,
  forkScopeSql,
  insertVerticesSql,
  updateVerticesSql,
  upsertEdgesSql,
} from '../../../src/persistence/graph/age-label-tables.ts';
import { EDGE_LABELS, TENSION_DEBT_ABOVE, TENSION_TRUST_COMPETENCE_BELOW, VERTEX_LABELS, type EdgeLabel, type VertexLabel } from '../../../src/persistence/graph/graph-store.ts';

/** Every Cypher text the AGE store can run. */
function allTemplates(): string[] {
  const texts: string[] = [];
  for (const k of [1, 2, 3] as const) texts.push(CYPHER.reachableScenes(k));
  for (const size of [...ID_LIST_SIZES, 'list'] as const) {
    texts.push(CYPHER.characters(size), CYPHER.relationsAmong(size), CYPHER.relationsBetween(size), CYPHER.neighbours(size), CYPHER.tenseAmong(size));
  }
  for (const value of Object.values(CYPHER)) if (typeof value === 'string') texts.push(value);
  return texts;
}

const SLOT = /^(ids|from_ids|to_ids)_\d+$/;
const PARAMETERS = new Set([
  'scope', 'id', 'name', 'scene_type', 'authored_mass', 'cast_ids', 'from', 'to', 'traversal_cost',
  'trust_reliability', 'trust_competence', 'trust_benevolence', 'affection', 'debt',
  'ids', 'from_ids', 'to_ids', 'target', 'min_competence', 'min_benevolence', 'tension_competence', 'tension_debt',
]);

describe('AGE query builder', () => {
  it('puts every value in the agtype parameter map, never in the SQL text', () => {
    const hostile = "x'); DROP TABLE graph_vertices; -- $$ }) MATCH (n) DETACH DELETE n //";
    const st = cypherStatement(CYPHER.characters('list'), ['v'], { scope: hostile, ids: [hostile, '$$'] });
    expect(st.sql).toBe(
      `SELECT * FROM ag_catalog.cypher('storyteller', $$ MATCH (v:Character {scope: $scope}) WHERE v.id IN $ids RETURN v $$, $1) AS (v ag_catalog.agtype)`,
    );
    expect(st.sql).not.toContain('DROP');
    expect(JSON.parse(st.params[0])).toEqual({ scope: hostile, ids: [hostile, '$$'] });
    const short = cypherStatement(CYPHER.characters(8), ['v'], { scope: hostile, ...idListParams('ids', [hostile, '$$']) });
    expect(short.sql).toContain('WHERE v.scope = $scope AND v.id IN [$ids_0, $ids_1, $ids_2, $ids_3, $ids_4, $ids_5, $ids_6, $ids_7] RETURN v');
    expect(short.sql).not.toContain('DROP');
  });

  it('embeds a Cypher query in a larger SQL statement with a chosen parameter slot', () => {
    expect(cypherSelect(CYPHER.tensePairs, ['from_id', 'to_id', 'r'], '$1')).toMatch(
      /^SELECT \* FROM ag_catalog\.cypher\('storyteller', \$\$ MATCH .* RETURN a\.id, b\.id, r \$\$, \$1\) AS \(from_id ag_catalog\.agtype, to_id ag_catalog\.agtype, r ag_catalog\.agtype\)$/,
    );
  });

  it('refuses templates that could end the dollar quote and odd column names', () => {
    for (const [cypher, cols] of [
      ['RETURN 1 $$; DROP TABLE x; --', ['a']],
      ['RETURN 1', ['a b']],
      ['RETURN 1', ['A']],
      ['RETURN 1', []],
    ] as Array<[string, string[]]>) {
      let error: unknown;
      try {
        cypherStatement(cypher, cols, {});
      } catch (e) {
        error = e;
      }
      expect(isStorytellerError(error, 'GRAPH_QUERY_FAILED')).toBe(true);
    }
  });

  it('builds label-specific texts only for the seed labels and hop counts 1..3', () => {
    expect(CYPHER.reachableScenes(1)).toBe('MATCH (s:Scene)-[:LEADS_TO]->(f1:Scene) WHERE s.scope = $scope AND s.id = $id RETURN f1');
    expect(CYPHER.reachableScenes(3)).toBe(
      'MATCH (s:Scene)-[:LEADS_TO]->(f1:Scene) WHERE s.scope = $scope AND s.id = $id OPTIONAL MATCH (f1)-[:LEADS_TO]->(f2:Scene) OPTIONAL MATCH (f2)-[:LEADS_TO]->(f3:Scene) RETURN f1, f2, f3',
    );
    expect(CYPHER.neighbours('list')).toBe(
      'MATCH (a:Character {scope: $scope})-[:RELATES_TO]->(b:Character) WHERE a.id IN $ids RETURN a.id, b.id UNION ALL MATCH (a:Character {scope: $scope})<-[:RELATES_TO]-(b:Character) WHERE a.id IN $ids RETURN a.id, b.id',
    );
    expect(() => CYPHER.reachableScenes(4 as 3)).toThrow(/hop count/);
    expect(() => CYPHER.characters(9 as 8)).toThrow(/id list size/);
    expect(CYPHER.characters('list')).toBe('MATCH (v:Character {scope: $scope}) WHERE v.id IN $ids RETURN v');
  });

  it('pads short id lists to their slot count with the first id, and passes long ones as one list', () => {
    expect(idListParams('ids', ['a', 'b'])).toEqual({ ids_0: 'a', ids_1: 'b', ids_2: 'a', ids_3: 'a', ids_4: 'a', ids_5: 'a', ids_6: 'a', ids_7: 'a' });
    const nine = Array.from({ length: 9 }, (_, i) => `c${i}`);
    expect(Object.keys(idListParams('ids', nine))).toHaveLength(32);
    expect(() => idListParams('ids', nine, 8)).toThrow(/does not fit/);
    const long = Array.from({ length: 513 }, (_, i) => `c${i}`);
    expect(idListParams('ids', long)).toEqual({ ids: long });
    expect(() => idListParams('ids', [], 8)).toThrow(/does not fit/);
  });

  it('uses only named parameters from the known set, and no quotes or dollar-quotes in any template', () => {
    const templates = allTemplates();
    expect(templates.length).toBeGreaterThan(15);
    for (const t of templates) {
      expect(t).not.toContain('$$');
      expect(t).not.toMatch(/['"`]/); // no literals: every value is a parameter
      for (const [, name] of t.matchAll(/\$([A-Za-z_0-9]+)/g)) expect(PARAMETERS.has(name!) || SLOT.test(name!), `${name} in ${t}`).toBe(true);
    }
  });

  it('avoids the patterns AGE plans badly: undirected and variable-length relationships', () => {
    for (const t of allTemplates()) {
      expect(t, t).not.toMatch(/(?<!<)-\[[^\]]*\]-(?!>)/); // `-[…]-` with neither `<-` nor `->`
      expect(t, t).not.toMatch(/\*\s*\d*\s*\.\./); // `*1..3`
    }
  });

  it('sets up each connection and creates every seed label with its indexes', () => {
    expect(AGE_SEARCH_PATH).toBe('ag_catalog, "$user", public');
    expect(AGE_SESSION_OPTIONS).toBe('-c search_path=ag_catalog,"$user",public -c jit=off -c random_page_cost=1.1');
    const schema = ageSchemaStatements();
    expect(schema.map((s) => s.label)).toEqual([...VERTEX_LABELS, ...EDGE_LABELS]);
    expect(schema.find((s) => s.label === 'RELATES_TO')?.indexes.slice(0, 2)).toEqual([
      'CREATE INDEX IF NOT EXISTS "RELATES_TO_start" ON storyteller."RELATES_TO" (start_id)',
      'CREATE INDEX IF NOT EXISTS "RELATES_TO_end" ON storyteller."RELATES_TO" (end_id)',
    ]);
    // The tense-edge partial index carries the thresholds the tension queries use.
    const tense = schema.find((s) => s.label === 'RELATES_TO')!.indexes[2]!;
    expect(tense).toContain(`"RELATES_TO_tense_${TENSION_TRUST_COMPETENCE_BELOW}_${TENSION_DEBT_ABOVE}"`);
    expect(tense).toContain(`OPERATOR(ag_catalog.<) '${TENSION_TRUST_COMPETENCE_BELOW}'::ag_catalog.agtype OR`);
    expect(tense).toContain(`OPERATOR(ag_catalog.>) '${TENSION_DEBT_ABOVE}'::ag_catalog.agtype`);
    expect(schema.find((s) => s.label === 'Character')?.indexes).toEqual([
      'CREATE INDEX IF NOT EXISTS "Character_properties" ON storyteller."Character" USING gin (properties)',
      'CREATE INDEX IF NOT EXISTS "Character_id" ON storyteller."Character" (id)',
      `CREATE INDEX IF NOT EXISTS "Character_scope_id" ON storyteller."Character" (ag_catalog.agtype_access_operator(VARIADIC ARRAY[properties, '"scope"'::ag_catalog.agtype]), ag_catalog.agtype_access_operator(VARIADIC ARRAY[properties, '"id"'::ag_catalog.agtype]))`,
    ]);
  });
});

describe('AGE label-table SQL', () => {
  const texts = [
    forkScopeSql(),
    ...VERTEX_LABELS.flatMap((l) => [updateVerticesSql(l), insertVerticesSql(l)]),
    ...EDGE_SHAPES.map(([e, a, b]) => upsertEdgesSql(e, a, b)),
  ];

  it('carries every value as a parameter: the only literals are the graph, label and property names', () => {
    for (const t of texts) {
      const literals = [...t.matchAll(/'([^']*)'/g)].map((m) => m[1]!);
      for (const l of literals) expect(['storyteller', '"scope"', '"id"', ...VERTEX_LABELS, ...EDGE_LABELS].includes(l) || /^storyteller\."[A-Za-z_]+_id_seq"$/.test(l), l).toBe(true);
      for (const [, n] of t.matchAll(/\$(\d+)/g)) expect(Number(n)).toBeLessThanOrEqual(4);
    }
  });

  it('builds statements only for the seed labels', () => {
    expect(() => updateVerticesSql('Character"; DROP TABLE x; --' as VertexLabel)).toThrow(/unknown graph label/);
    expect(() => upsertEdgesSql('KNOWS' as EdgeLabel, 'Character', 'Character')).toThrow(/unknown graph label/);
    expect(upsertEdgesSql('RELATES_TO', 'Character', 'Character')).toContain('INSERT INTO storyteller."RELATES_TO" (start_id, end_id, properties)');
  });

  it('copies every vertex and edge label in the fork', () => {
    const fork = forkScopeSql();
    for (const l of [...VERTEX_LABELS, ...EDGE_LABELS]) expect(fork).toContain(`INSERT INTO storyteller."${l}"`);
  });
});
