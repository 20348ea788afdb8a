import { describe, expect, it } from 'vitest';
import { isStorytellerError } from '../../../src/errors.ts';
import { AGE_SEARCH_PATH, AGE_SESSION_OPTIONS, ageSchemaStatements, CYPHER, cypherSelect, cypherStatement } from '../../../src/persistence/graph/age-cypher.ts';
import { EDGE_SHAPES } from '../../../src/persistence/graph/age-graph-store.ts';
import { EDGE_LABELS, VERTEX_LABELS, type EdgeLabel, type VertexLabel } from '../../../src/persistence/graph/graph-store.ts';

/** Every Cypher text the AGE store can run. */
function allTemplates(): string[] {
  const texts: string[] = [];
  for (const l of VERTEX_LABELS) texts.push(CYPHER.updateVertices(l), CYPHER.createVertices(l));
  for (const [e, a, b] of EDGE_SHAPES) texts.push(CYPHER.updateEdges(e, a, b), CYPHER.createEdges(e, a, b));
  for (const k of [1, 2, 3] as const) texts.push(CYPHER.reachableScenes(k));
  for (const value of Object.values(CYPHER)) if (typeof value === 'string') texts.push(value);
  return texts;
}

const PARAMETERS = new Set([
  'scope', 'id', 'name', 'scene_type', 'authored_mass', 'cast_ids', 'from', 'to', 'traversal_cost',
  'trust_reliability', 'trust_competence', 'trust_benevolence', 'affection', 'debt',
  'rows', 'ids', 'from_ids', 'to_ids', 'target', 'min_competence', 'min_benevolence', 'tension_competence', 'tension_debt',
]);

describe('AGE query builder', () => {
  it('puts every value in the agtype parameter map, never in the SQL text', () => {
    const hostile = "x'); DROP TABLE graph_vertices; -- $$ }) MATCH (n) DETACH DELETE n //";
    const st = cypherStatement(CYPHER.characters, ['v'], { scope: hostile, ids: [hostile, '$$'] });
    expect(st.sql).toBe(
      `SELECT * FROM ag_catalog.cypher('storyteller', $$ MATCH (v:Character {scope: $scope}) WHERE v.id IN $ids RETURN v $$, $1) AS (v ag_catalog.agtype)`,
    );
    expect(st.sql).not.toContain('DROP');
    expect(JSON.parse(st.params[0])).toEqual({ scope: hostile, ids: [hostile, '$$'] });
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
    expect(CYPHER.updateVertices('Scene')).toBe(
      'UNWIND $rows AS r MATCH (v:Scene) WHERE v.scope = $scope AND v.id = r.id SET v.name = r.name, v.scene_type = r.scene_type, v.authored_mass = r.authored_mass, v.cast_ids = r.cast_ids RETURN r.id',
    );
    expect(CYPHER.createEdges('ADJACENT_TO', 'Setting', 'Setting')).toBe(
      'UNWIND $rows AS r MATCH (a:Setting), (b:Setting) WHERE a.scope = $scope AND a.id = r.from AND b.scope = $scope AND b.id = r.to CREATE (a)-[e:ADJACENT_TO {traversal_cost: r.traversal_cost}]->(b) RETURN r.from, r.to',
    );
    expect(CYPHER.reachableScenes(1)).toBe('MATCH (s:Scene {scope: $scope, id: $id})-[:LEADS_TO]->(f1:Scene) RETURN f1');
    expect(CYPHER.reachableScenes(3)).toBe(
      'MATCH (s:Scene {scope: $scope, id: $id})-[:LEADS_TO]->(f1:Scene) OPTIONAL MATCH (f1)-[:LEADS_TO]->(f2:Scene) OPTIONAL MATCH (f2)-[:LEADS_TO]->(f3:Scene) RETURN f1, f2, f3',
    );
    expect(() => CYPHER.updateVertices('Character}) DETACH DELETE (v' as VertexLabel)).toThrow(/unknown vertex label/);
    expect(() => CYPHER.createEdges('KNOWS' as EdgeLabel, 'Character', 'Character')).toThrow(/unknown edge label/);
    expect(() => CYPHER.reachableScenes(4 as 3)).toThrow(/hop count/);
  });

  it('uses only named parameters from the known set, and no quotes or dollar-quotes in any template', () => {
    const templates = allTemplates();
    expect(templates.length).toBeGreaterThan(30);
    for (const t of templates) {
      expect(t).not.toContain('$$');
      expect(t).not.toMatch(/['"`]/); // no literals: every value is a parameter
      for (const [, name] of t.matchAll(/\$([A-Za-z_]+)/g)) expect(PARAMETERS.has(name!), `${name} in ${t}`).toBe(true);
    }
  });

  it('avoids the patterns AGE plans badly: undirected and variable-length relationships', () => {
    for (const t of allTemplates()) {
      expect(t, t).not.toMatch(/\]-[^>]/); // `-[…]-` without a direction
      expect(t, t).not.toMatch(/\*\s*\d*\s*\.\./); // `*1..3`
    }
  });

  it('sets up each connection and creates every seed label with its indexes', () => {
    expect(AGE_SEARCH_PATH).toBe('ag_catalog, "$user", public');
    expect(AGE_SESSION_OPTIONS).toBe('-c search_path=ag_catalog,"$user",public -c jit=off');
    const schema = ageSchemaStatements();
    expect(schema.map((s) => s.label)).toEqual([...VERTEX_LABELS, ...EDGE_LABELS]);
    expect(schema.find((s) => s.label === 'RELATES_TO')?.indexes).toEqual([
      'CREATE INDEX IF NOT EXISTS "RELATES_TO_start" ON storyteller."RELATES_TO" (start_id)',
      'CREATE INDEX IF NOT EXISTS "RELATES_TO_end" ON storyteller."RELATES_TO" (end_id)',
    ]);
    expect(schema.find((s) => s.label === 'Character')?.indexes[0]).toBe(
      'CREATE INDEX IF NOT EXISTS "Character_properties" ON storyteller."Character" USING gin (properties)',
    );
  });
});
