/**
 * The graph store contract: one suite every implementation must pass (SqlGraphStore on
 * PostgreSQL and on PGlite; AgeGraphStore where AGE exists). Expected answers for the
 * lighthouse graph are worked out by hand (comments); generated graphs are checked
 * against GraphOracle.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStorytellerError, type ErrorCode } from '../../../src/errors.ts';
import type { Database } from '../../../src/persistence/database.ts';
import type { EdgeInput, GraphStore, VertexInput } from '../../../src/persistence/graph/graph-store.ts';
import { compareIds } from '../../../src/persistence/graph/id-order.ts';
import { loadSceneGraphContext } from '../../../src/persistence/graph/scene-graph-context.ts';
import { characterId, generateGraph, lighthouseGraph, sceneId, settingId, type GraphFixture } from '../../support/graph-fixtures.ts';
import { GraphOracle } from '../../support/graph-oracle.ts';

export interface OpenedGraphStore {
  store: GraphStore;
  /** The database the store works in (entity_snapshots, sessions, caller transactions). */
  db: Database;
  close(): Promise<void>;
}

export async function loadFixture(store: GraphStore, scope: string, fixture: GraphFixture): Promise<void> {
  await store.upsertVertices(scope, fixture.vertices);
  await store.upsertEdges(scope, fixture.edges);
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected ${code}`).toBeDefined();
  expect(isStorytellerError(error) ? error.code : error).toBe(code);
}

export function describeGraphStoreContract(name: string, open: () => Promise<OpenedGraphStore>): void {
  describe(`GraphStore contract: ${name}`, () => {
    let opened: OpenedGraphStore;
    let graph: GraphStore;
    const story = 'lighthouse';

    beforeAll(async () => {
      opened = await open();
      graph = opened.store;
      await loadFixture(graph, story, lighthouseGraph());
    });
    afterAll(async () => {
      await opened?.close();
    });

    describe('relational web', () => {
      it('loads the subgraph among a cast (unknown ids ignored), ordered by id and by (from, to)', async () => {
        const sub = await graph.relationalSubgraph(story, ['tomas', 'mara', 'elin', 'nobody']);
        expect(sub.characters).toEqual([
          { id: 'elin', name: 'Elin' },
          { id: 'mara', name: 'Mara, the keeper' },
          { id: 'tomas', name: 'Tomas' },
        ]);
        expect(sub.edges.map((e) => `${e.from}>${e.to}`)).toEqual(['elin>mara', 'elin>tomas', 'mara>tomas', 'tomas>mara']);
        expect(sub.edges[3]).toEqual({ from: 'tomas', to: 'mara', trust_reliability: 0.3, trust_competence: -0.4, trust_benevolence: 0.2, affection: 0.5, debt: 0.6 });
        expect(await graph.relationalSubgraph(story, [])).toEqual({ characters: [], edges: [] });
      });

      it('finds the shortest relational path, undirected, smallest id sequence among equals', async () => {
        // elin→pell: three 3-hop paths (via mara/ash, mara/o'reilly, tomas/o'reilly); none shorter.
        const path = await graph.shortestRelationalPath(story, 'elin', 'pell');
        expect(path?.characterIds).toEqual(['elin', 'mara', 'ash', 'pell']);
        expect(path?.hops).toBe(3);
        // mara–ash exists only as ash→mara; ash–pell in both directions (forward taken).
        expect(path?.edges.map((e) => `${e.from}>${e.to}`)).toEqual(['elin>mara', 'ash>mara', 'ash>pell']);
        const reverse = await graph.shortestRelationalPath(story, 'pell', 'elin');
        expect(reverse?.characterIds).toEqual(['pell', 'ash', 'mara', 'elin']);
        expect((await graph.shortestRelationalPath(story, 'elin', 'wren'))?.hops).toBe(4);
        expect((await graph.shortestRelationalPath(story, 'mara', 'tomas'))?.characterIds).toEqual(['mara', 'tomas']);
      });

      it('returns null beyond 4 hops, for isolated or unknown characters, and from a character to itself', async () => {
        expect(await graph.shortestRelationalPath(story, 'elin', 'gull')).toBeNull(); // 5 hops
        expect(await graph.shortestRelationalPath(story, 'mara', 'ghost')).toBeNull();
        expect(await graph.shortestRelationalPath(story, 'mara', 'nobody')).toBeNull();
        expect(await graph.shortestRelationalPath(story, 'mara', 'mara')).toBeNull();
      });

      it('lists characters trusting a target above the thresholds (strictly), most trusting first', async () => {
        const trusting = await graph.trustingCharacters(story, 'mara');
        // o'reilly→mara has benevolence exactly 0.3 and is excluded; tomas→mara competence is negative.
        expect(trusting.map((t) => t.character.id)).toEqual(['elin', 'ash']);
        expect(trusting[1]).toEqual({
          character: { id: 'ash', name: 'Widow Ash' },
          edge: { from: 'ash', to: 'mara', trust_reliability: 0.2, trust_competence: 0.6, trust_benevolence: 0.4, affection: -0.2, debt: 0 },
        });
        const loose = await graph.trustingCharacters(story, 'mara', { minCompetence: 0, minBenevolence: 0 });
        expect(loose.map((t) => t.character.id)).toEqual(['elin', 'ash', "o'reilly"]);
        expect(await graph.trustingCharacters(story, 'ghost')).toEqual([]);
      });
    });

    describe('narrative graph', () => {
      it('lists scenes reachable in 1..3 LEADS_TO hops by fewest hops, then id', async () => {
        const reachable = await graph.reachableScenes(story, 'arrival');
        expect(reachable.map((r) => [r.scene.id, r.hops])).toEqual([
          ['market', 1],
          ['storm-warning', 1],
          ['lamp-fails', 2],
          ['the-wreck', 2],
          ['confession', 3],
        ]);
        expect(reachable[0]!.scene).toEqual({ id: 'market', name: 'Market day', sceneType: 'connective', authoredMass: 0.3, castIds: ['pell', 'ash', "o'reilly"] });
        expect((await graph.reachableScenes(story, 'arrival', 1)).map((r) => r.scene.id)).toEqual(['market', 'storm-warning']);
      });

      it('includes the start scene when a cycle returns to it within the hop limit', async () => {
        const reachable = await graph.reachableScenes(story, 'storm-warning', 3);
        expect(reachable.map((r) => [r.scene.id, r.hops])).toEqual([
          ['lamp-fails', 1],
          ['the-wreck', 1],
          ['confession', 2],
          ['storm-warning', 2],
          ['arrival', 3],
        ]);
        expect(await graph.reachableScenes(story, 'no-such-scene')).toEqual([]);
        await expectCode(graph.reachableScenes(story, 'arrival', 4), 'GRAPH_ARGUMENT_INVALID');
        await expectCode(graph.reachableScenes(story, 'arrival', 0), 'GRAPH_ARGUMENT_INVALID');
      });

      it('ranks scenes 1..2 hops ahead by relational tension among their cast', async () => {
        // Tense: tomas→mara (competence −0.4, debt 0.6), pell→ash (debt 0.7), ash→pell (competence −0.6).
        const tense = await graph.tenseScenesAhead(story, 'arrival');
        expect(tense.map((t) => [t.scene.id, t.tensionEdges, t.hops])).toEqual([
          ['the-wreck', 3, 2],
          ['market', 2, 1],
          ['storm-warning', 1, 1],
        ]);
        // From confession: arrival (1 hop; tomas→mara), market (2; pell↔ash), storm-warning (2; tomas→mara).
        expect((await graph.tenseScenesAhead(story, 'confession')).map((t) => [t.scene.id, t.tensionEdges, t.hops])).toEqual([
          ['market', 2, 2],
          ['arrival', 1, 1],
          ['storm-warning', 1, 2],
        ]);
      });
    });

    describe('setting topology', () => {
      it('lists adjacent settings by traversal cost, ties by id', async () => {
        const adjacent = await graph.adjacentSettings(story, 'cottage');
        expect(adjacent.map((a) => [a.setting.id, a.traversalCost])).toEqual([
          ['lamp-room', 1],
          ['cliff-path', 2],
          ['harbor', 2],
          ['square', 5],
        ]);
        expect(adjacent[1]!.setting).toEqual({ id: 'cliff-path', name: 'The cliff path' });
        expect(await graph.adjacentSettings(story, 'lamp-fails')).toEqual([]); // a scene key, not a setting
      });

      it('lists scenes at settings 1..2 hops away, without the start setting', async () => {
        const near = await graph.scenesNearSetting(story, 'lamp-room');
        expect(near.map((n) => [n.setting.id, n.scene.id, n.hops])).toEqual([
          ['cottage', 'confession', 1],
          ['cottage', 'storm-warning', 1],
          ['cliff-path', 'the-wreck', 2],
          ['harbor', 'arrival', 2],
          ['square', 'market', 2],
        ]);
        const fromCottage = await graph.scenesNearSetting(story, 'cottage');
        expect(fromCottage.map((n) => n.scene.id)).toEqual(['the-wreck', 'arrival', 'lamp-fails', 'market']);
      });
    });

    describe('scene entry step 3', () => {
      it('loads the cast subgraph, scenes ahead and adjacent settings in one call, same as the three queries', async () => {
        const req = { scope: story, castIds: ['mara', 'tomas', 'elin', 'mara', 'nobody'], sceneId: 'storm-warning', settingId: 'cottage' };
        const context = await loadSceneGraphContext(graph, req);
        expect(context).toEqual({
          relational: await graph.relationalSubgraph(story, req.castIds),
          reachableScenes: await graph.reachableScenes(story, req.sceneId, 3),
          adjacentSettings: await graph.adjacentSettings(story, req.settingId),
        });
        expect(context.relational.edges).toHaveLength(4);
        expect(context.reachableScenes.map((r) => r.scene.id)).toEqual(['lamp-fails', 'the-wreck', 'confession', 'storm-warning', 'arrival']);
        expect(context.adjacentSettings.map((a) => a.setting.id)).toEqual(['lamp-room', 'cliff-path', 'harbor', 'square']);
        expect(await loadSceneGraphContext(graph, { scope: story, castIds: [], sceneId: 'nowhere', settingId: 'nowhere' })).toEqual({
          relational: { characters: [], edges: [] },
          reachableScenes: [],
          adjacentSettings: [],
        });
      });
    });

    describe('graph ↔ SQL', () => {
      it('joins tense pairs with the session entity snapshots in one call', async () => {
        const sessionId = randomUUID();
        await opened.db.query('INSERT INTO sessions (id) VALUES ($1)', [sessionId]);
        const snap = (entityId: string, components: unknown) =>
          opened.db.query(`INSERT INTO entity_snapshots (session_id, entity_id, kind, components) VALUES ($1, $2, 'character', $3::jsonb)`, [
            sessionId,
            entityId,
            JSON.stringify(components),
          ]);
        await snap('tomas', { mood: 'guilty', tensor: [0.1, -0.2] });
        await snap('pell', { mood: 'sly' });
        await snap('mara', { mood: 'tired' });
        const rows = await graph.tensionWithSnapshots(story, sessionId);
        // ash→pell is tense but ash has no snapshot in this session.
        expect(rows.map((r) => `${r.edge.from}>${r.edge.to}`)).toEqual(['pell>ash', 'tomas>mara']);
        expect(rows[0]).toEqual({
          edge: { from: 'pell', to: 'ash', trust_reliability: 0.1, trust_competence: 0.2, trust_benevolence: 0.1, affection: 0, debt: 0.7 },
          fromComponents: { mood: 'sly' },
          toComponents: null,
        });
        expect(rows[1]!.fromComponents).toEqual({ mood: 'guilty', tensor: [0.1, -0.2] });
        expect(rows[1]!.toComponents).toEqual({ mood: 'tired' });
        expect(await graph.tensionWithSnapshots(story, randomUUID())).toEqual([]);
        await expectCode(graph.tensionWithSnapshots(story, 'not-a-uuid'), 'GRAPH_ARGUMENT_INVALID');
      });
    });

    describe('writes', () => {
      it('upserts replace properties; the last duplicate in a batch wins', async () => {
        const scope = `w-${randomUUID()}`;
        await graph.upsertVertices(scope, [
          { label: 'Character', id: 'a', name: 'A' },
          { label: 'Character', id: 'b', name: 'B' },
          { label: 'Character', id: 'a', name: 'A2' },
          { label: 'Scene', id: 'a', name: 'Scene A', sceneType: 'gate', authoredMass: 0.5, castIds: ['a'] },
          { label: 'Scene', id: 'z', name: 'Scene Z', sceneType: 'gate', authoredMass: 0.5, castIds: [] },
        ]);
        await graph.upsertEdges(scope, [
          { label: 'RELATES_TO', from: 'a', to: 'b', trust_reliability: 0.1, trust_competence: 0.1, trust_benevolence: 0.1, affection: 0.1, debt: 0.1 },
          { label: 'RELATES_TO', from: 'a', to: 'b', trust_reliability: 0.2, trust_competence: 0.2, trust_benevolence: 0.2, affection: 0.2, debt: 3 },
          { label: 'LEADS_TO', from: 'a', to: 'z' },
        ]);
        await graph.upsertVertices(scope, [{ label: 'Scene', id: 'z', name: 'Scene Z!', sceneType: 'threshold', authoredMass: 2.25, castIds: ['b', 'a'] }]);
        const sub = await graph.relationalSubgraph(scope, ['a', 'b']);
        expect(sub.characters).toEqual([{ id: 'a', name: 'A2' }, { id: 'b', name: 'B' }]);
        // Out-of-range values are clamped to [-1, 1].
        expect(sub.edges).toEqual([{ from: 'a', to: 'b', trust_reliability: 0.2, trust_competence: 0.2, trust_benevolence: 0.2, affection: 0.2, debt: 1 }]);
        expect(await graph.reachableScenes(scope, 'a')).toEqual([
          { scene: { id: 'z', name: 'Scene Z!', sceneType: 'threshold', authoredMass: 2.25, castIds: ['b', 'a'] }, hops: 1 },
        ]);
      });

      it('refuses edges to missing vertices and invalid input, writing nothing', async () => {
        const scope = `w-${randomUUID()}`;
        await graph.upsertVertices(scope, [{ label: 'Character', id: 'a', name: 'A' }]);
        await expectCode(
          graph.upsertEdges(scope, [
            { label: 'RELATES_TO', from: 'a', to: 'a', trust_reliability: 0, trust_competence: 0, trust_benevolence: 0, affection: 0, debt: 0 },
            { label: 'RELATES_TO', from: 'a', to: 'nobody', trust_reliability: 0, trust_competence: 0, trust_benevolence: 0, affection: 0, debt: 0 },
          ]),
          'GRAPH_VERTEX_NOT_FOUND',
        );
        expect((await graph.relationalSubgraph(scope, ['a'])).edges).toEqual([]);
        // A scene key is not a setting: SCENE_AT needs a Setting vertex.
        await graph.upsertVertices(scope, [{ label: 'Scene', id: 's', name: 'S', sceneType: 'gate', authoredMass: 0, castIds: [] }]);
        await expectCode(graph.upsertEdges(scope, [{ label: 'SCENE_AT', from: 's', to: 's' }]), 'GRAPH_VERTEX_NOT_FOUND');
        await expectCode(graph.upsertVertices(scope, [{ label: 'Character', id: '', name: 'empty id' }]), 'GRAPH_ARGUMENT_INVALID');
        await expectCode(graph.upsertVertices(scope, [{ label: 'Character', id: 'nul\u0000', name: 'x' }]), 'GRAPH_ARGUMENT_INVALID');
        await expectCode(graph.upsertVertices(scope, [{ label: 'Planet', id: 'p', name: 'x' } as unknown as VertexInput]), 'GRAPH_ARGUMENT_INVALID');
        await expectCode(
          graph.upsertEdges(scope, [{ label: 'ADJACENT_TO', from: 'x', to: 'y', traversalCost: Number.NaN } as EdgeInput]),
          'GRAPH_ARGUMENT_INVALID',
        );
      });

      it('applies a scene-exit batch in order: set, then delta, then clamp; creates missing edges', async () => {
        const session = `s-${randomUUID()}`;
        await graph.forkScope(story, session);
        const result = await graph.applyEdgeUpdates(session, [
          { from: 'tomas', to: 'mara', deltas: { trust_competence: 0.5 } },
          { from: 'tomas', to: 'mara', deltas: { trust_competence: 0.25 }, set: { debt: 0 } },
          { from: 'elin', to: 'ash', deltas: { affection: 0.3 } },
          { from: 'mara', to: 'tomas', set: { affection: 2 }, deltas: { debt: -5 } },
        ]);
        const afterFirst = -0.4 + 0.5;
        expect(result).toEqual([
          { from: 'tomas', to: 'mara', trust_reliability: 0.3, trust_competence: afterFirst, trust_benevolence: 0.2, affection: 0.5, debt: 0.6 },
          { from: 'tomas', to: 'mara', trust_reliability: 0.3, trust_competence: afterFirst + 0.25, trust_benevolence: 0.2, affection: 0.5, debt: 0 },
          { from: 'elin', to: 'ash', trust_reliability: 0, trust_competence: 0, trust_benevolence: 0, affection: 0.3, debt: 0 },
          { from: 'mara', to: 'tomas', trust_reliability: 0.6, trust_competence: 0.7, trust_benevolence: 0.5, affection: 1, debt: -1 },
        ]);
        const sub = await graph.relationalSubgraph(session, ['tomas', 'mara', 'elin', 'ash']);
        expect(sub.edges.find((e) => e.from === 'tomas' && e.to === 'mara')).toEqual(result[1]);
        expect(sub.edges.find((e) => e.from === 'elin' && e.to === 'ash')).toEqual(result[2]);
        // tomas→mara is no longer tense in the session; the story's baseline is untouched.
        expect((await graph.tenseScenesAhead(session, 'arrival')).map((t) => [t.scene.id, t.tensionEdges])).toEqual([
          ['market', 2], // 1 hop: ranks before the-wreck (2 hops) on equal tension
          ['the-wreck', 2],
        ]);
        expect((await graph.tenseScenesAhead(story, 'arrival')).map((t) => t.tensionEdges)).toEqual([3, 2, 1]);
        await expectCode(graph.applyEdgeUpdates(session, [{ from: 'mara', to: 'nobody', deltas: { debt: 0.1 } }]), 'GRAPH_VERTEX_NOT_FOUND');
        await expectCode(
          graph.applyEdgeUpdates(session, [{ from: 'mara', to: 'tomas', deltas: { power: 0.1 } as Record<string, number> }]),
          'GRAPH_ARGUMENT_INVALID',
        );
        expect(await graph.applyEdgeUpdates(session, [])).toEqual([]);
      });

      it("joins the caller's transaction: a rollback undoes the edge updates", async () => {
        const session = `s-${randomUUID()}`;
        await graph.forkScope(story, session);
        const before = await graph.relationalSubgraph(session, ['mara', 'tomas']);
        const failure = await opened.db
          .transaction(async (tx) => {
            const updated = await graph.applyEdgeUpdates(session, [{ from: 'mara', to: 'tomas', deltas: { affection: -0.5 } }], tx);
            expect(updated[0]!.affection).toBeCloseTo(-0.1, 12);
            throw new Error('scene exit failed after the graph write');
          })
          .catch((e: unknown) => e);
        expect((failure as Error).message).toBe('scene exit failed after the graph write');
        expect(await graph.relationalSubgraph(session, ['mara', 'tomas'])).toEqual(before);
        await opened.db.transaction((tx) => graph.applyEdgeUpdates(session, [{ from: 'mara', to: 'tomas', deltas: { affection: -0.5 } }], tx));
        const after = await graph.relationalSubgraph(session, ['mara', 'tomas']);
        expect(after.edges.find((e) => e.from === 'mara')!.affection).toBe(0.4 - 0.5);
      });

      it('forks a story graph into an isolated session scope; refuses unknown sources and existing targets', async () => {
        const session = `s-${randomUUID()}`;
        const fixture = lighthouseGraph();
        expect(await graph.forkScope(story, session)).toEqual({ vertices: fixture.vertices.length, edges: fixture.edges.length });
        for (const q of [
          (s: string) => graph.relationalSubgraph(s, ['mara', 'tomas', 'elin', 'ash', 'pell']),
          (s: string) => graph.reachableScenes(s, 'arrival'),
          (s: string) => graph.scenesNearSetting(s, 'lamp-room'),
          (s: string) => graph.shortestRelationalPath(s, 'elin', 'wren'),
        ]) {
          expect(await q(session)).toEqual(await q(story));
        }
        await graph.upsertVertices(session, [{ label: 'Character', id: 'mara', name: 'Mara (changed)' }]);
        expect((await graph.relationalSubgraph(story, ['mara'])).characters[0]!.name).toBe('Mara, the keeper');
        await expectCode(graph.forkScope(story, session), 'GRAPH_SCOPE_EXISTS');
        await expectCode(graph.forkScope(`missing-${randomUUID()}`, `s-${randomUUID()}`), 'GRAPH_SCOPE_NOT_FOUND');
        expect(await graph.deleteScope(session)).toBe(fixture.vertices.length);
        expect(await graph.relationalSubgraph(session, ['mara'])).toEqual({ characters: [], edges: [] });
        expect((await graph.relationalSubgraph(story, ['mara'])).characters).toHaveLength(1);
      });
    });

    describe('ids and names are data', () => {
      const hostile = [
        "x'); DROP TABLE graph_vertices; --",
        '$$) AS (a agtype); DROP TABLE graph_edges; SELECT * FROM cypher($$',
        '}) MATCH (n) DETACH DELETE n //',
        '"quoted" \\backslash\\ \n newline \t tab',
        "$scope $1 ' \" ` ;",
        '𝔐ara 🌊 ä Zed',
      ];

      it('round-trips hostile ids and names through every write and query', async () => {
        const scope = hostile[0]!;
        const vertices: VertexInput[] = [
          ...hostile.map((h, i): VertexInput => ({ label: 'Character', id: h, name: `${h}::name${i}` })),
          { label: 'Scene', id: hostile[1]!, name: hostile[2]!, sceneType: 'gate', authoredMass: 0.5, castIds: [hostile[0]!, hostile[3]!] },
          { label: 'Scene', id: hostile[2]!, name: hostile[1]!, sceneType: 'connective', authoredMass: 0.1, castIds: [] },
          { label: 'Setting', id: hostile[3]!, name: hostile[4]! },
          { label: 'Setting', id: hostile[4]!, name: hostile[5]! },
        ];
        const edges: EdgeInput[] = [
          ...hostile.slice(1).map((h, i): EdgeInput => ({
            label: 'RELATES_TO',
            from: hostile[i]!,
            to: h,
            trust_reliability: 0.1,
            trust_competence: 0.9,
            trust_benevolence: 0.9,
            affection: 0,
            debt: 0.9,
          })),
          { label: 'RELATES_TO', from: hostile[3]!, to: hostile[0]!, trust_reliability: 0, trust_competence: -1, trust_benevolence: 0, affection: 0, debt: 0 },
          { label: 'LEADS_TO', from: hostile[2]!, to: hostile[1]! },
          { label: 'SCENE_AT', from: hostile[1]!, to: hostile[4]! },
          { label: 'ADJACENT_TO', from: hostile[3]!, to: hostile[4]!, traversalCost: 1 },
        ];
        await loadFixture(graph, scope, { vertices, edges });
        const oracle = new GraphOracle({ vertices, edges });
        expect(await graph.relationalSubgraph(scope, hostile)).toEqual(oracle.relationalSubgraph(hostile));
        expect((await graph.relationalSubgraph(scope, hostile)).characters.map((c) => c.id)).toEqual([...hostile].sort(compareIds));
        expect(await graph.shortestRelationalPath(scope, hostile[0]!, hostile[5]!)).toEqual(oracle.shortestRelationalPath(hostile[0]!, hostile[5]!));
        expect(await graph.trustingCharacters(scope, hostile[2]!)).toEqual(oracle.trustingCharacters(hostile[2]!));
        expect(await graph.reachableScenes(scope, hostile[2]!)).toEqual(oracle.reachableScenes(hostile[2]!));
        expect(await graph.tenseScenesAhead(scope, hostile[2]!)).toEqual(oracle.tenseScenesAhead(hostile[2]!));
        expect(await graph.adjacentSettings(scope, hostile[3]!)).toEqual(oracle.adjacentSettings(hostile[3]!));
        expect(await graph.scenesNearSetting(scope, hostile[3]!)).toEqual(oracle.scenesNearSetting(hostile[3]!));
        const updated = await graph.applyEdgeUpdates(scope, [{ from: hostile[5]!, to: hostile[0]!, deltas: { affection: 0.5 } }]);
        expect(updated[0]).toMatchObject({ from: hostile[5], to: hostile[0], affection: 0.5 });
        const copy = `${hostile[1]}-copy`;
        await graph.forkScope(scope, copy);
        expect(await graph.relationalSubgraph(copy, hostile)).toEqual(await graph.relationalSubgraph(scope, hostile));
        // The tables are still there and hold exactly what was written.
        const { rows } = await opened.db.query<{ n: number }>('SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name IN ($1, $2)', [
          'graph_vertices',
          'entity_snapshots',
        ]);
        expect(rows[0]!.n).toBe(2);
        expect(await graph.deleteScope(copy)).toBe(vertices.length);
      });
    });

    describe('generated graphs against the oracle', () => {
      const fixture = generateGraph({ characters: 40, seed: 11, relationsPerCharacter: 2, sceneRatio: 0.5 });
      const oracle = new GraphOracle(fixture);
      const scope = 'generated-40';
      beforeAll(async () => {
        await loadFixture(graph, scope, fixture);
      });

      it('answers every relational query like the oracle', async () => {
        for (let i = 0; i < 40; i += 3) {
          const cast = [characterId(i), characterId((i * 7) % 40), characterId((i * 13 + 5) % 40), characterId((i + 1) % 40)];
          expect(await graph.relationalSubgraph(scope, cast)).toEqual(oracle.relationalSubgraph(cast));
          expect(await graph.trustingCharacters(scope, characterId(i), { minCompetence: -0.2, minBenevolence: -0.5 })).toEqual(
            oracle.trustingCharacters(characterId(i), -0.2, -0.5),
          );
        }
        let found = 0;
        for (let i = 0; i < 40; i += 2) {
          for (const j of [(i * 17 + 3) % 40, (i + 20) % 40, 39 - i]) {
            const expected = oracle.shortestRelationalPath(characterId(i), characterId(j));
            if (expected) found++;
            expect(await graph.shortestRelationalPath(scope, characterId(i), characterId(j)), `${i}→${j}`).toEqual(expected);
          }
        }
        expect(found).toBeGreaterThan(10);
      });

      it('answers every narrative and setting query like the oracle', async () => {
        for (let i = 0; i < 20; i++) {
          expect(await graph.reachableScenes(scope, sceneId(i))).toEqual(oracle.reachableScenes(sceneId(i)));
          expect(await graph.reachableScenes(scope, sceneId(i), 2)).toEqual(oracle.reachableScenes(sceneId(i), 2));
          expect(await graph.tenseScenesAhead(scope, sceneId(i))).toEqual(oracle.tenseScenesAhead(sceneId(i)));
          expect(await graph.adjacentSettings(scope, settingId(i))).toEqual(oracle.adjacentSettings(settingId(i)));
          expect(await graph.scenesNearSetting(scope, settingId(i))).toEqual(oracle.scenesNearSetting(settingId(i)));
          const castIds = [characterId(i), characterId(i + 7), characterId((i * 3) % 40), characterId(39 - i)];
          expect(await loadSceneGraphContext(graph, { scope, castIds, sceneId: sceneId(i), settingId: settingId(i) })).toEqual({
            relational: oracle.relationalSubgraph(castIds),
            reachableScenes: oracle.reachableScenes(sceneId(i)),
            adjacentSettings: oracle.adjacentSettings(settingId(i)),
          });
        }
      });

      it('joins every tense pair that has a snapshot', async () => {
        const sessionId = randomUUID();
        await opened.db.query('INSERT INTO sessions (id) VALUES ($1)', [sessionId]);
        const withSnapshot = Array.from({ length: 40 }, (_, i) => characterId(i)).filter((_, i) => i % 3 !== 0);
        for (const id of withSnapshot) {
          await opened.db.query(`INSERT INTO entity_snapshots (session_id, entity_id, kind, components) VALUES ($1, $2, 'character', $3::jsonb)`, [
            sessionId,
            id,
            JSON.stringify({ id }),
          ]);
        }
        const expected = oracle
          .tensePairs()
          .filter((e) => withSnapshot.includes(e.from))
          .map((edge) => ({ edge, fromComponents: { id: edge.from }, toComponents: withSnapshot.includes(edge.to) ? { id: edge.to } : null }));
        expect(expected.length).toBeGreaterThan(5);
        expect(await graph.tensionWithSnapshots(scope, sessionId)).toEqual(expected);
      });
    });
  });
}

