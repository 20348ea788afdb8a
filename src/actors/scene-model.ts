import { predicateHolds } from '../domain/predicate-eval.ts';
import { sceneUuid } from '../domain/story/ids.ts';
import { PLAYER_ID, type Character, type Relation, type Scene, type Setting, type Story, type StoryEntity } from '../domain/story/schema.ts';
import type { LedgerRecordLike } from '../domain/temporal.ts';
import type { TruthSet } from '../domain/truth-set.ts';
import { worldView, type WorldView } from './agents/world.ts';

/**
 * The plain-JSON pieces of a warm scene (seed: "Scene Entry: Cold Store → Hot Cache")
 * as the story behaviour builds them: what the scene is (`SceneData`), the state of
 * its cast and objects (`SceneEntities`), its graph neighbourhood (`SceneGraph`).
 * Everything here is JSON so it can sit in the session machine's context.
 */
export interface SceneData {
  storyId: string;
  storyTitle: string;
  sceneId: string;
  sceneKey: string;
  scene: Scene;
  setting: Setting;
  /** Settings reachable in one step from this one (adjacency, including directed edges out). */
  adjacent: Array<{ id: string; name: string; aliases: string[]; cost: number }>;
  /** Every setting of the story (names the player may use, reachable or not). */
  places: Array<{ id: string; name: string; aliases: string[] }>;
  /** Every character and entity of the story by name (so a name from elsewhere is recognised as absent). Absent in older snapshots. */
  people?: Array<{ id: string; name: string; aliases: string[] }>;
  things?: Array<{ id: string; name: string; aliases: string[] }>;
  /** Gates and goals (anywhere in the story) whose effects transfer each entity: once one fired, its first holder no longer keeps it. */
  handedOnBy?: Record<string, string[]>;
  /** Setting of every scene a departure leads to. */
  departureSettings: Record<string, string>;
  playerName: string;
  /** The story's baseline world (initial holders, locations, world keys) — used until the truth set knows better. */
  baseline: StoryBaseline;
}

export interface StoryBaseline {
  playerStartsAt: string;
  world: Record<string, string | number | boolean>;
  holders: Record<string, string>;
  locations: Record<string, string>;
}

export interface SceneEntities {
  /** Cast members present (required + contingent whose condition held at entry). */
  characters: Character[];
  /** Objects the scene may touch: lying in its setting or held by the player or the cast at entry. */
  objects: StoryEntity[];
}

export interface SceneGraph {
  /** Directed relational edges among the player and the cast. */
  edges: Relation[];
  /** Scene keys this scene can lead to. */
  posteriors: string[];
}

export function storyBaseline(story: Story): StoryBaseline {
  const holders: Record<string, string> = {};
  const locations: Record<string, string> = {};
  for (const e of story.entities) {
    if (e.heldBy) holders[e.id] = e.heldBy;
    if (e.location) locations[e.id] = e.location;
  }
  return { playerStartsAt: story.player.startsAt, world: { ...story.world }, holders, locations };
}

/** Step 1: the scene definition data. */
export function buildSceneData(story: Story, sceneKey: string): SceneData {
  const scene = story.scenes.find((s) => s.id === sceneKey);
  if (!scene) throw new Error(`unknown scene ${sceneKey}`);
  const setting = settingOf(story, scene.setting);
  const adjacent = setting.adjacent.map((edge) => {
    const to = settingOf(story, edge.to);
    return { id: to.id, name: to.name, aliases: to.aliases, cost: edge.cost };
  });
  const departureSettings: Record<string, string> = {};
  for (const d of scene.departures) {
    const target = story.scenes.find((s) => s.id === d.to);
    if (target) departureSettings[d.to] = target.setting;
  }
  return {
    storyId: story.id,
    storyTitle: story.title,
    sceneId: sceneUuid(story.id, scene.id),
    sceneKey: scene.id,
    scene,
    setting,
    adjacent,
    places: story.settings.map((p) => ({ id: p.id, name: p.name, aliases: p.aliases })),
    people: story.characters.map((c) => ({ id: c.id, name: c.name, aliases: c.aliases })),
    things: story.entities.map((e) => ({ id: e.id, name: e.name, aliases: e.aliases })),
    handedOnBy: handedOnBy(story),
    departureSettings,
    playerName: story.player.name,
    baseline: storyBaseline(story),
  };
}

function handedOnBy(story: Story): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const scene of story.scenes) {
    for (const x of [...scene.gates, ...scene.goals]) {
      for (const e of x.effects) if ('transfer' in e) out[e.transfer.entity] = [...(out[e.transfer.entity] ?? []), x.id];
    }
  }
  return out;
}

/**
 * The cast at entry: required members, plus contingent ones whose `when` holds against the truth set
 * (and, for temporal `when`s, the session's rows up to it — src/actors/scene-history.ts).
 */
export function assembleCast(scene: Scene, truthSet: TruthSet, settingFeatures: readonly string[], history: readonly LedgerRecordLike[] = []): string[] {
  const cast = [...scene.cast.required];
  for (const c of scene.cast.contingent) {
    if (cast.includes(c.character)) continue;
    if (predicateHolds(c.when, { truthSet, history, settingFeatures })) cast.push(c.character);
  }
  return cast;
}

/** Step 2: the cast's components and the objects in reach. */
export function buildSceneEntities(story: Story, data: SceneData, cast: readonly string[], truthSet: TruthSet): SceneEntities {
  const view = worldView(data.baseline, truthSet);
  const characters = cast.map((id) => story.characters.find((c) => c.id === id)).filter((c): c is Character => c !== undefined);
  const people = new Set([PLAYER_ID, ...cast]);
  const objects = story.entities.filter((e) => {
    const holder = view.holders[e.id];
    const location = view.locations[e.id];
    return location === data.setting.id || (holder !== undefined && people.has(holder));
  });
  return { characters, objects };
}

/** Step 3: the relational subgraph among player + cast, and the posterior scenes. */
export function buildSceneGraph(story: Story, data: SceneData, cast: readonly string[]): SceneGraph {
  const people = new Set([PLAYER_ID, ...cast]);
  return {
    edges: story.relations.filter((r) => people.has(r.from) && people.has(r.to)),
    posteriors: data.scene.departures.map((d) => d.to),
  };
}

export function settingOf(story: Story, id: string): Setting {
  const s = story.settings.find((x) => x.id === id);
  if (!s) throw new Error(`unknown setting ${id}`);
  return s;
}

export type { WorldView };
