import type { EdgeInput, RelationalValues, SceneType, VertexInput } from '../../src/persistence/graph/graph-store.ts';

/** A graph to load into a store: what the story loader writes for the authored baseline. */
export interface GraphFixture {
  vertices: VertexInput[];
  edges: EdgeInput[];
}

const rel = (from: string, to: string, [trust_reliability, trust_competence, trust_benevolence, affection, debt]: number[]): EdgeInput => ({
  label: 'RELATES_TO',
  from,
  to,
  trust_reliability: trust_reliability!,
  trust_competence: trust_competence!,
  trust_benevolence: trust_benevolence!,
  affection: affection!,
  debt: debt!,
});
const scene = (id: string, name: string, sceneType: SceneType, authoredMass: number, castIds: string[]): VertexInput => ({
  label: 'Scene',
  id,
  name,
  sceneType,
  authoredMass,
  castIds,
});
const adj = (from: string, to: string, traversalCost: number): EdgeInput => ({ label: 'ADJACENT_TO', from, to, traversalCost });

/**
 * A small story-like graph ("the lighthouse keeper"): 9 characters, 5 settings in 2
 * zones, 6 scenes with a cycle. The expected answers in the contract suite are worked out
 * by hand from this graph (see the comments there).
 */
export function lighthouseGraph(): GraphFixture {
  const characters: Array<[string, string]> = [
    ['mara', 'Mara, the keeper'],
    ['tomas', 'Tomas'],
    ['elin', 'Elin'],
    ['ash', 'Widow Ash'],
    ["o'reilly", "Harbormaster O'Reilly"],
    ['pell', 'Pell the peddler'],
    ['wren', 'Wren'],
    ['gull', 'Gull'],
    ['ghost', 'The drowned sailor'],
  ];
  const settings: Array<[string, string]> = [
    ['lamp-room', 'The lamp room'],
    ['cottage', "The keeper's cottage"],
    ['cliff-path', 'The cliff path'],
    ['harbor', 'The harbor'],
    ['square', 'The village square'],
  ];
  const vertices: VertexInput[] = [
    ...characters.map(([id, name]): VertexInput => ({ label: 'Character', id, name })),
    ...settings.map(([id, name]): VertexInput => ({ label: 'Setting', id, name })),
    { label: 'Zone', id: 'headland', name: 'The headland' },
    { label: 'Zone', id: 'village', name: 'The village' },
    { label: 'Entity', id: 'lamp', name: 'The great lamp' },
    { label: 'Entity', id: 'logbook', name: "The keeper's logbook" },
    scene('arrival', 'Arrival at the harbor', 'connective', 0.2, ['mara', 'tomas', "o'reilly"]),
    scene('storm-warning', 'The storm warning', 'gravitational', 0.6, ['mara', 'elin', 'tomas']),
    scene('lamp-fails', 'The lamp fails', 'gate', 0.8, ['mara', 'elin']),
    scene('the-wreck', 'The wreck', 'gravitational', 0.9, ['tomas', 'pell', 'ash', 'mara']),
    scene('market', 'Market day', 'connective', 0.3, ['pell', 'ash', "o'reilly"]),
    scene('confession', 'The confession', 'threshold', 1, ['mara', 'tomas']),
  ];
  const edges: EdgeInput[] = [
    // relational web: [reliability, competence, benevolence, affection, debt]
    rel('mara', 'tomas', [0.6, 0.7, 0.5, 0.4, 0.1]),
    rel('tomas', 'mara', [0.3, -0.4, 0.2, 0.5, 0.6]), // tense
    rel('elin', 'mara', [0.8, 0.9, 0.9, 0.9, 0]),
    rel('ash', 'mara', [0.2, 0.6, 0.4, -0.2, 0]),
    rel("o'reilly", 'mara', [0.5, 0.55, 0.3, 0, 0.2]), // benevolence exactly at the threshold: not trusting
    rel('pell', 'ash', [0.1, 0.2, 0.1, 0, 0.7]), // tense (debt)
    rel('ash', 'pell', [-0.5, -0.6, -0.2, -0.3, 0]), // tense (competence)
    rel('elin', 'tomas', [0.4, 0.5, 0.6, 0.3, 0]), // competence exactly at the threshold
    rel("o'reilly", 'pell', [0, 0.1, 0, 0, 0]),
    rel('tomas', "o'reilly", [0.2, 0.6, 0.35, 0.1, 0]),
    rel('pell', 'wren', [0.1, 0.1, 0.1, 0.1, 0.1]),
    rel('wren', 'gull', [0.1, 0.1, 0.1, 0.1, 0.1]),
    // narrative graph
    { label: 'LEADS_TO', from: 'arrival', to: 'storm-warning' },
    { label: 'LEADS_TO', from: 'arrival', to: 'market' },
    { label: 'LEADS_TO', from: 'storm-warning', to: 'lamp-fails' },
    { label: 'LEADS_TO', from: 'storm-warning', to: 'the-wreck' },
    { label: 'LEADS_TO', from: 'market', to: 'the-wreck' },
    { label: 'LEADS_TO', from: 'lamp-fails', to: 'confession' },
    { label: 'LEADS_TO', from: 'lamp-fails', to: 'storm-warning' },
    { label: 'LEADS_TO', from: 'the-wreck', to: 'confession' },
    { label: 'LEADS_TO', from: 'confession', to: 'arrival' },
    { label: 'SCENE_AT', from: 'arrival', to: 'harbor' },
    { label: 'SCENE_AT', from: 'storm-warning', to: 'cottage' },
    { label: 'SCENE_AT', from: 'lamp-fails', to: 'lamp-room' },
    { label: 'SCENE_AT', from: 'the-wreck', to: 'cliff-path' },
    { label: 'SCENE_AT', from: 'market', to: 'square' },
    { label: 'SCENE_AT', from: 'confession', to: 'cottage' },
    // setting topology
    adj('cottage', 'lamp-room', 1),
    adj('lamp-room', 'cottage', 1),
    adj('cottage', 'cliff-path', 2),
    adj('cliff-path', 'cottage', 2),
    adj('cottage', 'harbor', 2),
    adj('cliff-path', 'harbor', 3),
    adj('harbor', 'cliff-path', 3),
    adj('harbor', 'square', 1),
    adj('square', 'harbor', 1),
    adj('cottage', 'square', 5),
    { label: 'CONTAINS', fromLabel: 'Zone', from: 'headland', to: 'lamp-room' },
    { label: 'CONTAINS', fromLabel: 'Zone', from: 'headland', to: 'cottage' },
    { label: 'CONTAINS', fromLabel: 'Zone', from: 'headland', to: 'cliff-path' },
    { label: 'CONTAINS', fromLabel: 'Zone', from: 'village', to: 'harbor' },
    { label: 'CONTAINS', fromLabel: 'Zone', from: 'village', to: 'square' },
    { label: 'CONTAINS', fromLabel: 'Setting', from: 'cottage', to: 'lamp-room' },
  ];
  return { vertices, edges };
}

/** mulberry32: a small seeded PRNG, so generated graphs are the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GeneratedGraphOptions {
  characters: number;
  seed: number;
  /** Outgoing RELATES_TO edges per character (default 10). */
  relationsPerCharacter?: number;
  /** Scenes and settings as a fraction of characters (default 0.1). */
  sceneRatio?: number;
}

export const characterId = (i: number) => `c${String(i).padStart(5, '0')}`;
export const sceneId = (i: number) => `s${String(i).padStart(5, '0')}`;
export const settingId = (i: number) => `t${String(i).padStart(5, '0')}`;

/**
 * A representative generated graph: `characters` characters with ~10 relational edges
 * each (values on a 0.05 grid so thresholds and ties occur), 10% as many scenes (casts of
 * 3–8, 1–3 LEADS_TO each) and settings (1–3 ADJACENT_TO each, integer costs so ties occur),
 * one zone per ten settings.
 */
export function generateGraph(options: GeneratedGraphOptions): GraphFixture {
  const random = seededRandom(options.seed);
  const int = (n: number) => Math.floor(random() * n);
  const grid = () => Math.round((random() * 2 - 1) * 20) / 20 + 0; // + 0: no -0
  const n = options.characters;
  const perCharacter = Math.min(options.relationsPerCharacter ?? 10, n - 1);
  const ratio = options.sceneRatio ?? 0.1;
  const scenes = Math.max(3, Math.round(n * ratio));
  const settings = Math.max(3, Math.round(n * ratio));
  const zones = Math.max(1, Math.round(settings / 10));
  const vertices: VertexInput[] = [];
  const edges: EdgeInput[] = [];
  for (let i = 0; i < n; i++) vertices.push({ label: 'Character', id: characterId(i), name: `Character ${i}` });
  for (let i = 0; i < settings; i++) vertices.push({ label: 'Setting', id: settingId(i), name: `Setting ${i}` });
  for (let i = 0; i < zones; i++) vertices.push({ label: 'Zone', id: `z${i}`, name: `Zone ${i}` });
  for (let i = 0; i < scenes; i++) {
    const cast = new Set<string>();
    const size = 3 + int(6);
    while (cast.size < Math.min(size, n)) cast.add(characterId(int(n)));
    const types: SceneType[] = ['gravitational', 'gate', 'connective', 'threshold'];
    vertices.push({
      label: 'Scene',
      id: sceneId(i),
      name: `Scene ${i}`,
      sceneType: types[int(4)]!,
      authoredMass: Math.round(random() * 100) / 100,
      castIds: [...cast],
    });
  }
  for (let i = 0; i < n; i++) {
    const targets = new Set<number>();
    while (targets.size < perCharacter) {
      const t = int(n);
      if (t !== i) targets.add(t);
    }
    for (const t of targets) {
      const values: RelationalValues = {
        trust_reliability: grid(),
        trust_competence: grid(),
        trust_benevolence: grid(),
        affection: grid(),
        debt: Math.round(random() * 20) / 20,
      };
      edges.push({ label: 'RELATES_TO', from: characterId(i), to: characterId(t), ...values });
    }
  }
  for (let i = 0; i < scenes; i++) {
    const out = new Set<number>();
    const k = 1 + int(3);
    while (out.size < Math.min(k, scenes - 1)) {
      const t = int(scenes);
      if (t !== i) out.add(t);
    }
    for (const t of out) edges.push({ label: 'LEADS_TO', from: sceneId(i), to: sceneId(t) });
    edges.push({ label: 'SCENE_AT', from: sceneId(i), to: settingId(int(settings)) });
  }
  for (let i = 0; i < settings; i++) {
    const out = new Set<number>();
    const k = 1 + int(3);
    while (out.size < Math.min(k, settings - 1)) {
      const t = int(settings);
      if (t !== i) out.add(t);
    }
    for (const t of out) edges.push({ label: 'ADJACENT_TO', from: settingId(i), to: settingId(t), traversalCost: 1 + int(5) });
    edges.push({ label: 'CONTAINS', fromLabel: 'Zone', from: `z${i % zones}`, to: settingId(i) });
  }
  return { vertices, edges };
}
