import type { Json, SceneBehaviour, SceneEntryRequest } from '../../../src/actors/behaviour.ts';
import { SessionEngine, type SessionHandle } from '../../../src/engine/engine.ts';
import type { Database } from '../../../src/persistence/database.ts';
import type { GraphStore } from '../../../src/persistence/graph/graph-store.ts';
import { createMinimalBehaviour } from '../../../src/testing/minimal-behaviour.ts';

/**
 * A small story for the pipeline tests: mara (the harbour's cast) warms to the player each
 * turn; tomas, off-screen, cares about mara (RELATES_TO affection 0.8) and meets the player
 * in the lighthouse. The social ripple of the harbour (mara→player +0.3 affection) reaches
 * tomas→player as 0.3 × 0.5 (attenuation) × 0.8 = +0.12 — the oracle, worked by hand.
 */
export const STORY = 'ripple-story';
export const RIPPLE_EXPECTED = 0.12;
export const SCENES = [
  { key: 'harbour', cast: ['mara'], next: 'lighthouse', exitAtTurn: 3 },
  { key: 'lighthouse', cast: ['tomas'], next: 'summit', exitAtTurn: 5 },
  { key: 'summit', cast: ['tomas'], next: null, exitAtTurn: 7 },
] as const;

export async function seedStory(db: Database, graph: GraphStore): Promise<void> {
  await db.query(`INSERT INTO stories (id, title, definition, checksum) VALUES ($1, 'ripple', '{}'::jsonb, 'x') ON CONFLICT DO NOTHING`, [STORY]);
  for (const [id, name] of [['mara', 'Mara'], ['tomas', 'Tomas'], ['player', 'Player'], ['ines', 'Ines']]) {
    await db.query(`INSERT INTO story_entities (story_id, entity_id, kind, name, components) VALUES ($1, $2, 'character', $3, '{}'::jsonb) ON CONFLICT DO NOTHING`, [STORY, id, name]);
  }
  await graph.upsertVertices(STORY, [
    { label: 'Character', id: 'mara', name: 'Mara' },
    { label: 'Character', id: 'tomas', name: 'Tomas' },
    { label: 'Character', id: 'player', name: 'Player' },
    { label: 'Character', id: 'ines', name: 'Ines' },
  ]);
  const zero = { trust_reliability: 0, trust_competence: 0, trust_benevolence: 0, affection: 0, debt: 0 };
  await graph.upsertEdges(STORY, [
    { label: 'RELATES_TO', from: 'mara', to: 'player', ...zero },
    { label: 'RELATES_TO', from: 'tomas', to: 'mara', ...zero, affection: 0.8 },
  ]);
}

export interface SeenAtEntry {
  sceneKey: string;
  tomasToPlayer: number | null;
  deferredResults: number;
}

/** The minimal behaviour, plus a loadGraphContext that reads the session's relational web as the story behaviour does. */
export function recordingBehaviour(graph: GraphStore, seen: SeenAtEntry[]): SceneBehaviour {
  const base = createMinimalBehaviour({ scenes: SCENES.map((s) => ({ ...s, cast: [...s.cast] })) });
  return {
    ...base,
    async loadGraphContext(req: SceneEntryRequest): Promise<Json> {
      const sub = await graph.relationalSubgraph(req.session.sessionId, ['player', 'tomas']);
      const edge = sub.edges.find((e) => e.from === 'tomas' && e.to === 'player');
      seen.push({ sceneKey: req.sceneKey, tomasToPlayer: edge ? edge.affection : null, deferredResults: req.deferredResults.length });
      return { edges: sub.edges.length };
    },
  };
}

export function newEngine(db: Database, graph: GraphStore, behaviour: SceneBehaviour, onSceneExitCommitted?: () => void): SessionEngine {
  return new SessionEngine({ db, graph, behaviour, inspect: null, ledgerOptions: { maxPayloadBytes: 65536, maxBatch: 64, flushMs: 2 }, ...(onSceneExitCommitted ? { onSceneExitCommitted } : {}) });
}

/** Sends one input and resolves with its answer. */
export function play(s: SessionHandle, id: string, text: string): Promise<void> {
  return new Promise((resolve) => {
    const off = s.on('answer', (a) => {
      if (a.clientInputId === id) {
        off();
        resolve();
      }
    });
    s.input(id, text);
  });
}

export function next<T>(subscribe: (fn: (e: T) => void) => () => void, pred: (e: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const off = subscribe((e) => {
      if (pred(e)) {
        off();
        resolve(e);
      }
    });
  });
}
