/**
 * AgeGraphStore against SimulatedAge (no AGE on the build machines): exercises the
 * store's own code — parameter maps, agtype parsing, min-hop and tension assembly,
 * ordering, the update arithmetic, fork and delete — against the oracle. Whether AGE
 * accepts the Cypher is only shown by the contract suite with AGE_DATABASE_URL.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { isStorytellerError, type ErrorCode } from '../../../src/errors.ts';
import type { Queryable, QueryResult } from '../../../src/persistence/database.ts';
import type { AgeConnections } from '../../../src/persistence/graph/age-connections.ts';
import { AgeGraphStore } from '../../../src/persistence/graph/age-graph-store.ts';
import type { EdgeInput, VertexInput } from '../../../src/persistence/graph/graph-store.ts';
import { characterId, generateGraph, lighthouseGraph, sceneId, settingId, type GraphFixture } from '../../support/graph-fixtures.ts';
import { GraphOracle } from '../../support/graph-oracle.ts';
import { SimulatedAge } from '../../support/simulated-age.ts';

async function load(store: AgeGraphStore, scope: string, f: GraphFixture) {
  await store.upsertVertices(scope, f.vertices);
  await store.upsertEdges(scope, f.edges);
}

async function codeOf(p: Promise<unknown>): Promise<ErrorCode | undefined> {
  try {
    await p;
  } catch (e) {
    return isStorytellerError(e) ? e.code : undefined;
  }
  return undefined;
}

describe('AgeGraphStore on a simulated AGE', () => {
  const age = new SimulatedAge();
  const store = new AgeGraphStore(age);
  const lighthouse = new GraphOracle(lighthouseGraph());
  const generated = generateGraph({ characters: 40, seed: 11, relationsPerCharacter: 2, sceneRatio: 0.5 });
  const oracle = new GraphOracle(generated);

  beforeAll(async () => {
    await load(store, 'lighthouse', lighthouseGraph());
    await load(store, 'generated', generated);
  });

  it('answers the lighthouse queries like the hand-worked contract', async () => {
    expect((await store.shortestRelationalPath('lighthouse', 'elin', 'pell'))?.characterIds).toEqual(['elin', 'mara', 'ash', 'pell']);
    expect((await store.trustingCharacters('lighthouse', 'mara')).map((t) => t.character.id)).toEqual(['elin', 'ash']);
    expect((await store.reachableScenes('lighthouse', 'storm-warning')).map((r) => [r.scene.id, r.hops])).toEqual([
      ['lamp-fails', 1],
      ['the-wreck', 1],
      ['confession', 2],
      ['storm-warning', 2],
      ['arrival', 3],
    ]);
    expect((await store.tenseScenesAhead('lighthouse', 'arrival')).map((t) => [t.scene.id, t.tensionEdges])).toEqual([
      ['the-wreck', 3],
      ['market', 2],
      ['storm-warning', 1],
    ]);
    expect((await store.adjacentSettings('lighthouse', 'cottage')).map((a) => a.setting.id)).toEqual(['lamp-room', 'cliff-path', 'harbor', 'square']);
    expect(await store.scenesNearSetting('lighthouse', 'lamp-room')).toEqual(lighthouse.scenesNearSetting('lamp-room'));
  });

  it('answers every query on a generated graph like the oracle', async () => {
    for (let i = 0; i < 40; i += 3) {
      const cast = [characterId(i), characterId((i * 7) % 40), characterId((i * 13 + 5) % 40)];
      expect(await store.relationalSubgraph('generated', cast)).toEqual(oracle.relationalSubgraph(cast));
      expect(await store.trustingCharacters('generated', characterId(i), { minCompetence: -0.2, minBenevolence: -0.5 })).toEqual(
        oracle.trustingCharacters(characterId(i), -0.2, -0.5),
      );
      for (const j of [(i * 17 + 3) % 40, 39 - i]) {
        expect(await store.shortestRelationalPath('generated', characterId(i), characterId(j))).toEqual(oracle.shortestRelationalPath(characterId(i), characterId(j)));
      }
    }
    for (let i = 0; i < 20; i++) {
      expect(await store.reachableScenes('generated', sceneId(i))).toEqual(oracle.reachableScenes(sceneId(i)));
      expect(await store.reachableScenes('generated', sceneId(i), 1)).toEqual(oracle.reachableScenes(sceneId(i), 1));
      expect(await store.tenseScenesAhead('generated', sceneId(i))).toEqual(oracle.tenseScenesAhead(sceneId(i)));
      expect(await store.adjacentSettings('generated', settingId(i))).toEqual(oracle.adjacentSettings(settingId(i)));
      expect(await store.scenesNearSetting('generated', settingId(i))).toEqual(oracle.scenesNearSetting(settingId(i)));
    }
  });

  it('upserts in place, composes scene-exit updates, and refuses missing endpoints', async () => {
    const session = `s-${randomUUID()}`;
    expect(await store.forkScope('lighthouse', session)).toEqual({ vertices: lighthouseGraph().vertices.length, edges: lighthouseGraph().edges.length });
    const before = age.vertices.length;
    await store.upsertVertices(session, [{ label: 'Character', id: 'mara', name: 'Mara (older)' }]);
    expect(age.vertices.length).toBe(before);
    const result = await store.applyEdgeUpdates(session, [
      { from: 'tomas', to: 'mara', deltas: { trust_competence: 0.5 } },
      { from: 'tomas', to: 'mara', deltas: { trust_competence: 0.25 }, set: { debt: 0 } },
      { from: 'elin', to: 'ash', deltas: { affection: 0.3 } },
      { from: 'mara', to: 'tomas', set: { affection: 2 } },
    ]);
    expect(result.map((r) => [r.trust_competence, r.debt, r.affection])).toEqual([
      [-0.4 + 0.5, 0.6, 0.5],
      [-0.4 + 0.5 + 0.25, 0, 0.5],
      [0, 0, 0.3],
      [0.7, 0.1, 1],
    ]);
    const sub = await store.relationalSubgraph(session, ['tomas', 'mara', 'elin', 'ash']);
    expect(sub.characters.find((c) => c.id === 'mara')?.name).toBe('Mara (older)');
    expect(sub.edges.filter((e) => e.from === 'tomas' && e.to === 'mara')).toEqual([result[1]]);
    expect((await store.relationalSubgraph('lighthouse', ['tomas', 'mara'])).edges.find((e) => e.from === 'tomas')?.debt).toBe(0.6);
    expect(await codeOf(store.applyEdgeUpdates(session, [{ from: 'mara', to: 'nobody', deltas: { debt: 1 } }]))).toBe('GRAPH_VERTEX_NOT_FOUND');
    expect(await codeOf(store.upsertEdges(session, [{ label: 'SCENE_AT', from: 'arrival', to: 'arrival' }]))).toBe('GRAPH_VERTEX_NOT_FOUND');
    expect(await codeOf(store.forkScope('lighthouse', session))).toBe('GRAPH_SCOPE_EXISTS');
    expect(await codeOf(store.forkScope('nothing-here', `s-${randomUUID()}`))).toBe('GRAPH_SCOPE_NOT_FOUND');
    expect(await codeOf(store.reachableScenes(session, 'arrival', 5))).toBe('GRAPH_ARGUMENT_INVALID');
    expect(await store.deleteScope(session)).toBe(lighthouseGraph().vertices.length);
    expect(age.vertices.some((v) => v.props.scope === session)).toBe(false);
  });

  it('writes a story graph and forks it in a few statements per label, not one per vertex or edge', async () => {
    const fresh = new SimulatedAge();
    const graphStore = new AgeGraphStore(fresh);
    const big = generateGraph({ characters: 120, seed: 5 });
    expect(big.vertices.length + big.edges.length).toBeGreaterThan(1_000);
    await load(graphStore, 'story', big);
    const labels = new Set(big.vertices.map((v) => v.label)).size;
    const shapes = new Set(big.edges.map((e) => `${e.label}/${'fromLabel' in e ? e.fromLabel : ''}`)).size;
    // Per call: the scope lock and the statistics check; per vertex label an update and an insert; per edge shape one upsert.
    expect(fresh.log.length).toBe(2 + 2 * labels + 2 + shapes);
    const before = fresh.log.length;
    expect(await graphStore.forkScope('story', 'session')).toEqual({ vertices: big.vertices.length, edges: big.edges.length });
    expect(fresh.log.length - before).toBe(4); // lock, emptiness check, the copy, the statistics check
    expect(fresh.vertices.filter((v) => v.props.scope === 'session')).toHaveLength(big.vertices.length);
  });

  it("writes inside a caller's transaction after loading AGE there", async () => {
    const session = `s-${randomUUID()}`;
    await store.forkScope('lighthouse', session);
    const tx = age.queryable();
    const from = age.log.length;
    await store.applyEdgeUpdates(session, [{ from: 'mara', to: 'tomas', deltas: { debt: 0.2 } }], tx);
    const statements = age.log.slice(from).map((l) => l.sql);
    expect(statements[0]).toBe(`LOAD 'age'`);
    expect(statements[1]).toMatch(/^SELECT pg_advisory_xact_lock/);
  });

  it('never puts ids or names into SQL or Cypher text', async () => {
    const hostile = [
      "x'); DROP TABLE graph_vertices; --",
      '$$) AS (a agtype); DROP TABLE graph_edges; SELECT * FROM cypher($$',
      '}) MATCH (n) DETACH DELETE n //',
      '"quoted" \\backslash\\ \n newline \t tab \u0001',
      '𝔐ara 🌊',
    ];
    const vertices: VertexInput[] = [
      ...hostile.map((h): VertexInput => ({ label: 'Character', id: h, name: h })),
      { label: 'Scene', id: hostile[1]!, name: hostile[2]!, sceneType: 'gate', authoredMass: 1, castIds: hostile },
      { label: 'Scene', id: hostile[0]!, name: hostile[3]!, sceneType: 'gate', authoredMass: 0.5, castIds: [] },
    ];
    const edges: EdgeInput[] = [
      ...hostile.slice(1).map((h, i): EdgeInput => ({ label: 'RELATES_TO', from: hostile[i]!, to: h, trust_reliability: 0, trust_competence: -0.9, trust_benevolence: 0, affection: 0, debt: 0 })),
      { label: 'LEADS_TO', from: hostile[0]!, to: hostile[1]! },
    ];
    const from = age.log.length;
    const scope = hostile[1]!;
    await load(store, scope, { vertices, edges });
    const local = new GraphOracle({ vertices, edges });
    expect(await store.relationalSubgraph(scope, hostile)).toEqual(local.relationalSubgraph(hostile));
    expect(await store.shortestRelationalPath(scope, hostile[0]!, hostile[4]!)).toEqual(local.shortestRelationalPath(hostile[0]!, hostile[4]!));
    expect(await store.tenseScenesAhead(scope, hostile[0]!)).toEqual(local.tenseScenesAhead(hostile[0]!));
    for (const { sql } of age.log.slice(from)) for (const h of hostile) expect(sql).not.toContain(h);
  });
});

describe('AgeGraphStore.tensionWithSnapshots', () => {
  it('joins the Cypher result with entity_snapshots in one statement and parses its agtype columns', async () => {
    const seen: Array<{ sql: string; params: readonly unknown[] }> = [];
    const q: Queryable = {
      async query<R extends object>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
        seen.push({ sql, params });
        const edge = (debt: number) => `{"id": 7, "label": "RELATES_TO", "end_id": 2, "start_id": 1, "properties": {"trust_reliability": 0.1, "trust_competence": 0.2, "trust_benevolence": 0.1, "affection": 0, "debt": ${debt}}}::edge`;
        const rows = [
          { from_id: '"tomas"', to_id: '"mara"', r: edge(0.6), from_components: { mood: 'guilty' }, to_components: null },
          { from_id: '"pell"', to_id: '"ash\\"s"', r: edge(0.7), from_components: { mood: 'sly' }, to_components: { x: 1 } },
        ];
        return { rows: rows as unknown as R[], rowCount: rows.length };
      },
      exec: async () => undefined,
    };
    const connections: AgeConnections = { run: (fn) => fn(q), joinTransaction: async () => async () => undefined };
    const sessionId = randomUUID();
    const rows = await new AgeGraphStore(connections).tensionWithSnapshots('story', sessionId);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.sql).toMatch(/^WITH tp AS \(SELECT \* FROM ag_catalog\.cypher\('storyteller', \$\$ MATCH .* \$\$, \$1\) AS \(from_id ag_catalog\.agtype, to_id ag_catalog\.agtype, r ag_catalog\.agtype\)\)/);
    expect(seen[0]!.sql).toContain('JOIN public.entity_snapshots f ON f.session_id = $2::uuid AND f.entity_id = tp.from_id::text');
    expect(JSON.parse(seen[0]!.params[0] as string)).toEqual({ scope: 'story', tension_competence: -0.3, tension_debt: 0.5 });
    expect(seen[0]!.params[1]).toBe(sessionId);
    expect(rows.map((r) => [r.edge.from, r.edge.to, r.edge.debt, r.toComponents])).toEqual([
      ['pell', 'ash"s', 0.7, { x: 1 }],
      ['tomas', 'mara', 0.6, null],
    ]);
  });
});

describe('AgeGraphStore.ensureSchema', () => {
  function scripted(existing: { graph: boolean; labels: string[] }, failOn?: RegExp) {
    const statements: string[] = [];
    const q: Queryable = {
      async query<R extends object>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
        statements.push(params.length > 0 ? `${sql} -- ${JSON.stringify(params)}` : sql);
        if (failOn?.test(sql)) throw new Error('permission denied to create extension "age"');
        let rows: object[] = [];
        if (sql.includes('FROM ag_catalog.ag_graph')) rows = existing.graph ? [{ '?column?': 1 }] : [];
        if (sql.includes('FROM pg_catalog.pg_class')) rows = existing.labels.includes(String(params[1])) ? [{ '?column?': 1 }] : [];
        return { rows: rows as R[], rowCount: rows.length };
      },
      exec: async () => undefined,
    };
    const connections: AgeConnections = { run: (fn) => fn(q), joinTransaction: async () => async () => undefined };
    return { store: new AgeGraphStore(connections), q, statements };
  }

  it('creates the extension, the graph, every seed label and the indexes on an empty database', async () => {
    const { store, q, statements } = scripted({ graph: false, labels: [] });
    await store.ensureSchema(q);
    expect(statements[0]).toBe('CREATE EXTENSION IF NOT EXISTS age');
    expect(statements).toContain(`SELECT ag_catalog.create_graph('storyteller')`);
    for (const l of ['Character', 'Entity', 'Scene', 'Setting', 'Zone']) expect(statements).toContain(`SELECT ag_catalog.create_vlabel('storyteller', '${l}')`);
    for (const l of ['RELATES_TO', 'LEADS_TO', 'SCENE_AT', 'ADJACENT_TO', 'CONTAINS']) expect(statements).toContain(`SELECT ag_catalog.create_elabel('storyteller', '${l}')`);
    expect(statements.filter((s) => s.startsWith('CREATE INDEX IF NOT EXISTS'))).toHaveLength(26);
    expect(statements.findIndex((s) => s.startsWith('SELECT pg_advisory_xact_lock'))).toBeLessThan(statements.findIndex((s) => s.includes('create_graph')));
  });

  it('is idempotent: nothing is created again', async () => {
    const { store, q, statements } = scripted({
      graph: true,
      labels: ['Character', 'Entity', 'Scene', 'Setting', 'Zone', 'RELATES_TO', 'LEADS_TO', 'SCENE_AT', 'ADJACENT_TO', 'CONTAINS'],
    });
    await store.ensureSchema(q);
    expect(statements.some((s) => /create_(graph|vlabel|elabel)/.test(s))).toBe(false);
  });

  it('reports a server that cannot run AGE as GRAPH_STORE_UNAVAILABLE with the reason', async () => {
    const { store, q } = scripted({ graph: false, labels: [] }, /CREATE EXTENSION/);
    const error = await store.ensureSchema(q).catch((e: unknown) => e);
    expect(isStorytellerError(error, 'GRAPH_STORE_UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain('permission denied');
  });
});
