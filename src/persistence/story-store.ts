import { createHash } from 'node:crypto';
import { z } from 'zod';
import { sceneUuid } from '../domain/story/ids.ts';
import { validateStory } from '../domain/story/loader.ts';
import { PLAYER_ID, type Story } from '../domain/story/schema.ts';
import { toCanonicalJson } from '../domain/truth-set.ts';
import { StorytellerError } from '../errors.ts';
import type { Database, Queryable } from './database.ts';
import type { EdgeInput, GraphStore, VertexInput } from './graph/graph-store.ts';
import { SessionStore, type SessionRow } from './sessions.ts';

/**
 * Stories in PostgreSQL (or PGlite): the `stories` row (definition + checksum), one
 * `scenes` row per scene (UUID v5 from story id + scene key, so reloads keep ids),
 * `story_entities` (the authored baseline of characters, objects and places) and the
 * baseline graph under scope = story id. Loading the same file twice changes nothing;
 * loading a changed file replaces the story in one transaction.
 *
 * @example
 * const result = await storeStory(db, graph, await loadStoryFile(path));
 * const session = await startSessionFromStory(db, graph, { storyId: result.storyId });
 */
export interface StoreResult {
  storyId: string;
  title: string;
  version: number;
  checksum: string;
  /** False when the stored story already had this checksum (nothing written). */
  changed: boolean;
  scenes: Array<{ key: string; id: string }>;
  entities: number;
  graph: { vertices: number; edges: number };
}

/** Checksum of a story's canonical JSON. */
export function storyChecksum(story: Story): string {
  return createHash('sha256').update(JSON.stringify(toCanonicalJson(story))).digest('hex');
}

export function graphOf(story: Story): { vertices: VertexInput[]; edges: EdgeInput[] } {
  const vertices: VertexInput[] = [
    { label: 'Character', id: PLAYER_ID, name: story.player.name },
    ...story.characters.map((c): VertexInput => ({ label: 'Character', id: c.id, name: c.name })),
    ...story.entities.map((e): VertexInput => ({ label: 'Entity', id: e.id, name: e.name })),
    ...story.settings.map((s): VertexInput => ({ label: 'Setting', id: s.id, name: s.name })),
    ...story.settings.flatMap((s) => s.zones.map((z): VertexInput => ({ label: 'Zone', id: `${s.id}.${z.id}`, name: z.name }))),
    ...story.scenes.map(
      (s): VertexInput => ({
        label: 'Scene',
        id: s.id,
        name: s.name,
        sceneType: s.type,
        authoredMass: s.mass,
        castIds: [...s.cast.required, ...s.cast.contingent.map((c) => c.character)],
      }),
    ),
  ];
  const edges: EdgeInput[] = [
    ...story.relations.map(
      (r): EdgeInput => ({
        label: 'RELATES_TO',
        from: r.from,
        to: r.to,
        trust_reliability: r.trust_reliability,
        trust_competence: r.trust_competence,
        trust_benevolence: r.trust_benevolence,
        affection: r.affection,
        debt: r.debt,
      }),
    ),
    ...story.scenes.flatMap((s) => s.departures.map((d): EdgeInput => ({ label: 'LEADS_TO', from: s.id, to: d.to }))),
    ...story.scenes.map((s): EdgeInput => ({ label: 'SCENE_AT', from: s.id, to: s.setting })),
    ...story.settings.flatMap((s) => s.adjacent.map((a): EdgeInput => ({ label: 'ADJACENT_TO', from: s.id, to: a.to, traversalCost: a.cost }))),
    ...story.settings.flatMap((s) => s.zones.map((z): EdgeInput => ({ label: 'CONTAINS', fromLabel: 'Zone', from: `${s.id}.${z.id}`, to: s.id }))),
  ];
  return { vertices, edges };
}

/** The authored baseline components of every entity. */
export function storyEntities(story: Story): Array<{ entityId: string; kind: 'character' | 'object' | 'place'; name: string; components: unknown }> {
  return [
    ...story.characters.map((c) => ({
      entityId: c.id,
      kind: 'character' as const,
      name: c.name,
      components: {
        identity: { name: c.name, description: c.description, origin: 'authored' },
        axes: c.axes,
        emotions: c.emotions,
        motivations: c.motivations,
        communicability: c.communicability,
        persistence: c.persistence,
        echoes: c.echoes,
      },
    })),
    ...story.entities.map((e) => ({
      entityId: e.id,
      kind: 'object' as const,
      name: e.name,
      components: {
        identity: { name: e.name, description: e.description, origin: 'authored' },
        portable: e.portable,
        heldBy: e.heldBy ?? null,
        location: e.location ?? null,
        persistence: e.persistence,
        ...(e.communicability ? { communicability: e.communicability } : {}),
      },
    })),
    ...story.settings.map((s) => ({
      entityId: s.id,
      kind: 'place' as const,
      name: s.name,
      components: { identity: { name: s.name, description: s.description, origin: 'authored' }, features: s.features },
    })),
  ];
}

/** Stores (or replaces) a validated story; idempotent for an unchanged story. */
export async function storeStory(db: Database, graph: GraphStore, story: Story): Promise<StoreResult> {
  const checksum = storyChecksum(story);
  const scenes = story.scenes.map((s) => ({ key: s.id, id: sceneUuid(story.id, s.id) }));
  const entities = storyEntities(story);
  const g = graphOf(story);
  const base = { storyId: story.id, title: story.title, version: story.version, checksum, scenes, entities: entities.length, graph: { vertices: g.vertices.length, edges: g.edges.length } };
  const { rows } = await db.query<{ checksum: string }>('SELECT checksum FROM stories WHERE id = $1', [story.id]);
  if (rows[0]?.checksum === checksum) return { ...base, changed: false };

  await db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO stories (id, title, version, definition, checksum) VALUES ($1, $2, $3, $4::jsonb, $5)
       ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, version = EXCLUDED.version, definition = EXCLUDED.definition,
         checksum = EXCLUDED.checksum, loaded_at = NOW()`,
      [story.id, story.title, story.version, JSON.stringify(story), checksum],
    );
    await tx.query('DELETE FROM scenes WHERE story_id = $1 AND NOT (key = ANY($2::text[]))', [story.id, scenes.map((s) => s.key)]);
    for (const scene of story.scenes) {
      await tx.query(
        `INSERT INTO scenes (id, story_id, key, name, scene_type, setting_key, authored_mass, definition)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, scene_type = EXCLUDED.scene_type, setting_key = EXCLUDED.setting_key,
           authored_mass = EXCLUDED.authored_mass, definition = EXCLUDED.definition`,
        [sceneUuid(story.id, scene.id), story.id, scene.id, scene.name, scene.type, scene.setting, scene.mass, JSON.stringify(scene)],
      );
    }
    await tx.query('DELETE FROM story_entities WHERE story_id = $1', [story.id]);
    for (const e of entities) {
      await tx.query('INSERT INTO story_entities (story_id, entity_id, kind, name, components) VALUES ($1, $2, $3, $4, $5::jsonb)', [
        story.id,
        e.entityId,
        e.kind,
        e.name,
        JSON.stringify(e.components),
      ]);
    }
    await graph.deleteScope(story.id, tx);
    await graph.upsertVertices(story.id, g.vertices, tx);
    await graph.upsertEdges(story.id, g.edges, tx);
  });
  return { ...base, changed: true };
}

const storyRowSchema = z.object({ definition: z.unknown() });

/** Reads a stored story back (validated again: JSON from the database is a boundary). */
export async function loadStoredStory(q: Queryable, storyId: string): Promise<Story> {
  const { rows } = await q.query('SELECT definition FROM stories WHERE id = $1', [storyId]);
  if (rows.length === 0) throw new StorytellerError('STORY_NOT_FOUND', `no story ${storyId}`, { details: { storyId } });
  const row = storyRowSchema.parse(rows[0]);
  try {
    return validateStory(row.definition, `stories/${storyId}`);
  } catch (error) {
    throw new StorytellerError('STORED_DATA_INVALID', `stored story ${storyId} fails validation: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * A new session of a stored story: the `sessions` row (current scene = the story's start),
 * `entity_snapshots` copied from the story's baseline, and the session's own copy of the
 * story graph (`forkScope(storyId, sessionId)`), in one transaction.
 */
export async function startSessionFromStory(db: Database, graph: GraphStore, input: { storyId: string; sessionId?: string }): Promise<SessionRow> {
  const story = await loadStoredStory(db, input.storyId);
  return db.transaction(async (tx) => {
    const session = await new SessionStore(tx).create({
      ...(input.sessionId ? { id: input.sessionId } : {}),
      storyId: story.id,
      sceneId: sceneUuid(story.id, story.start),
    });
    await tx.query(
      `INSERT INTO entity_snapshots (session_id, entity_id, kind, components, scene_id, turn)
       SELECT $1, entity_id, kind, components, NULL, 0 FROM story_entities WHERE story_id = $2`,
      [session.id, story.id],
    );
    await graph.forkScope(story.id, session.id, tx);
    return session;
  });
}

/**
 * A `StoryBehaviour` story source over the database: each story is read (and validated)
 * once per process; `storyId` null (a session without a stored story) → `defaultStoryId`.
 *
 * @example
 * const behaviour = new StoryBehaviour({ stories: storySource(db, { defaultStoryId: 'the_lighthouse_keeper' }) });
 */
export function storySource(q: Queryable, options: { defaultStoryId?: string } = {}): (storyId: string | null) => Promise<Story> {
  const cache = new Map<string, Promise<Story>>();
  return (storyId) => {
    const id = storyId ?? options.defaultStoryId;
    if (!id) return Promise.reject(new StorytellerError('STORY_NOT_FOUND', 'the session has no story and no default story is configured'));
    let story = cache.get(id);
    if (!story) {
      story = loadStoredStory(q, id);
      cache.set(id, story);
      story.catch(() => cache.delete(id));
    }
    return story;
  };
}
