/**
 * Reference answers for the graph contract suite, computed the obvious (slow) way from
 * a fixture in memory: full scans, plain BFS. Independent of the stores' algorithms, so a
 * bug they share (e.g. in the bidirectional path search) still shows.
 */
import type {
  AdjacentSetting,
  CharacterVertex,
  EdgeInput,
  ReachableScene,
  RelationalEdge,
  RelationalPath,
  RelationalSubgraph,
  SceneNearSetting,
  SceneVertex,
  SceneVertexInput,
  TenseScene,
  TrustingCharacter,
  VertexInput,
} from '../../src/persistence/graph/graph-store.ts';
import { compareIds, compareIdSequences } from '../../src/persistence/graph/id-order.ts';
import type { GraphFixture } from './graph-fixtures.ts';

type Rel = Extract<EdgeInput, { label: 'RELATES_TO' }>;

const toEdge = (e: Rel): RelationalEdge => ({
  from: e.from,
  to: e.to,
  trust_reliability: e.trust_reliability,
  trust_competence: e.trust_competence,
  trust_benevolence: e.trust_benevolence,
  affection: e.affection,
  debt: e.debt,
});
const toScene = (v: SceneVertexInput): SceneVertex => ({ id: v.id, name: v.name, sceneType: v.sceneType, authoredMass: v.authoredMass, castIds: [...v.castIds] });

export class GraphOracle {
  readonly #vertices: VertexInput[];
  readonly #edges: EdgeInput[];

  constructor(fixture: GraphFixture) {
    this.#vertices = fixture.vertices;
    this.#edges = fixture.edges;
  }

  #vertex(label: VertexInput['label'], id: string): VertexInput | undefined {
    return this.#vertices.find((v) => v.label === label && v.id === id);
  }
  #rels(): Rel[] {
    return this.#edges.filter((e): e is Rel => e.label === 'RELATES_TO');
  }
  #out(label: 'LEADS_TO' | 'ADJACENT_TO', from: string): string[] {
    return this.#edges.filter((e) => e.label === label && e.from === from).map((e) => e.to);
  }
  #minHops(label: 'LEADS_TO' | 'ADJACENT_TO', start: string, max: number): Map<string, number> {
    const hops = new Map<string, number>();
    let frontier = [start];
    for (let h = 1; h <= max; h++) {
      for (const f of frontier) for (const t of this.#out(label, f)) if (!hops.has(t)) hops.set(t, h);
      frontier = [...new Set([...frontier.flatMap((f) => this.#out(label, f))])];
    }
    return hops;
  }

  relationalSubgraph(castIds: string[]): RelationalSubgraph {
    const cast = new Set(castIds);
    const characters: CharacterVertex[] = this.#vertices
      .filter((v) => v.label === 'Character' && cast.has(v.id))
      .map((v) => ({ id: v.id, name: v.name }))
      .sort((a, b) => compareIds(a.id, b.id));
    const edges = this.#rels()
      .filter((e) => cast.has(e.from) && cast.has(e.to))
      .map(toEdge)
      .sort((a, b) => compareIds(a.from, b.from) || compareIds(a.to, b.to));
    return { characters, edges };
  }

  shortestRelationalPath(from: string, to: string): RelationalPath | null {
    if (from === to) return null;
    const neighbours = new Map<string, Set<string>>();
    const link = (a: string, b: string) => {
      if (a === b) return;
      if (!neighbours.has(a)) neighbours.set(a, new Set());
      neighbours.get(a)!.add(b);
    };
    for (const e of this.#rels()) {
      link(e.from, e.to);
      link(e.to, e.from);
    }
    // Every path of exactly k hops without repeated nodes, for k = 1..4; first k with any wins.
    for (let k = 1; k <= 4; k++) {
      const found: string[][] = [];
      const walk = (path: string[]) => {
        const last = path.at(-1)!;
        if (path.length === k + 1) {
          if (last === to) found.push([...path]);
          return;
        }
        for (const n of neighbours.get(last) ?? []) if (!path.includes(n)) walk([...path, n]);
      };
      walk([from]);
      if (found.length > 0) {
        const best = found.sort(compareIdSequences)[0]!;
        const rels = this.#rels();
        const edges = best.slice(1).map((b, i) => {
          const a = best[i]!;
          return toEdge(rels.find((e) => e.from === a && e.to === b) ?? rels.find((e) => e.from === b && e.to === a)!);
        });
        return { characterIds: best, hops: k, edges };
      }
    }
    return null;
  }

  trustingCharacters(target: string, minCompetence = 0.5, minBenevolence = 0.3): TrustingCharacter[] {
    return this.#rels()
      .filter((e) => e.to === target && e.trust_competence > minCompetence && e.trust_benevolence > minBenevolence)
      .map((e) => ({ character: { id: e.from, name: this.#vertex('Character', e.from)!.name }, edge: toEdge(e) }))
      .sort(
        (a, b) =>
          b.edge.trust_competence - a.edge.trust_competence ||
          b.edge.trust_benevolence - a.edge.trust_benevolence ||
          compareIds(a.character.id, b.character.id),
      );
  }

  reachableScenes(sceneId: string, maxHops = 3): ReachableScene[] {
    return [...this.#minHops('LEADS_TO', sceneId, maxHops)]
      .map(([id, hops]) => ({ scene: toScene(this.#vertex('Scene', id) as SceneVertexInput), hops }))
      .sort((a, b) => a.hops - b.hops || compareIds(a.scene.id, b.scene.id));
  }

  tenseScenesAhead(sceneId: string): TenseScene[] {
    const tense = this.#rels().filter((e) => e.trust_competence < -0.3 || e.debt > 0.5);
    return this.reachableScenes(sceneId, 2)
      .map(({ scene, hops }) => ({
        scene,
        hops,
        tensionEdges: tense.filter((e) => scene.castIds.includes(e.from) && scene.castIds.includes(e.to)).length,
      }))
      .filter((s) => s.tensionEdges > 0)
      .sort((a, b) => b.tensionEdges - a.tensionEdges || a.hops - b.hops || compareIds(a.scene.id, b.scene.id));
  }

  adjacentSettings(settingId: string): AdjacentSetting[] {
    return this.#edges
      .filter((e): e is Extract<EdgeInput, { label: 'ADJACENT_TO' }> => e.label === 'ADJACENT_TO' && e.from === settingId)
      .map((e) => ({ setting: { id: e.to, name: this.#vertex('Setting', e.to)!.name }, traversalCost: e.traversalCost }))
      .sort((a, b) => a.traversalCost - b.traversalCost || compareIds(a.setting.id, b.setting.id));
  }

  scenesNearSetting(settingId: string): SceneNearSetting[] {
    const out: SceneNearSetting[] = [];
    for (const [id, hops] of this.#minHops('ADJACENT_TO', settingId, 2)) {
      if (id === settingId) continue;
      const setting = { id, name: this.#vertex('Setting', id)!.name };
      for (const e of this.#edges) {
        if (e.label === 'SCENE_AT' && e.to === id) out.push({ setting, scene: toScene(this.#vertex('Scene', e.from) as SceneVertexInput), hops });
      }
    }
    return out.sort((a, b) => a.hops - b.hops || compareIds(a.setting.id, b.setting.id) || compareIds(a.scene.id, b.scene.id));
  }

  tensePairs(): RelationalEdge[] {
    return this.#rels()
      .filter((e) => e.trust_competence < -0.3 || e.debt > 0.5)
      .map(toEdge)
      .sort((a, b) => compareIds(a.from, b.from) || compareIds(a.to, b.to));
  }
}
